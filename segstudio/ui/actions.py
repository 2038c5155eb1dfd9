"""The window's commands as Qt actions: their names and shortcuts (:class:`Command`), the menus, the Tools toolbar
with its brush size slider, which tool shows as checked, the key held to peek at the ground truth, and the
shortcut list the help dialog shows.

What a command does is not decided here: the window hands :class:`WindowActions` one slot per command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QSlider, QToolBar, QWidget

from segstudio.ui.tools import MIN_BRUSH_SIZE, Tool

PEEK_KEY = Qt.Key.Key_G  # hold to see the ground truth (a key press, not an action: it acts until released)
SLIDER_MAX_BRUSH = 200  # larger brushes come from ] only; the slider then stays at its end


class Menu(Enum):
    FILE = "File"
    IMAGE = "Image"
    EDIT = "Edit"
    TOOLS = "Tools"
    VIEW = "View"
    HELP = "Help"


@dataclass(frozen=True)
class ActionSpec:
    """How a command shows: its text, its shortcuts (the first is the main one), its menu (None: keys only)."""

    text: str
    keys: tuple[str, ...]
    menu: Menu | None
    on_toolbar: bool = False
    checkable: bool = False
    tool: Tool | None = None  # a tool command: checked while that tool is the current one


def _tool(tool: Tool, key: str) -> ActionSpec:
    return ActionSpec(tool.value.capitalize(), (key,), Menu.TOOLS, on_toolbar=True, checkable=True, tool=tool)


def _class(number: int) -> ActionSpec:
    return ActionSpec(f"Class {number}", (str(number),), None)


class Command(Enum):
    """Every command of the window, in menu order."""

    OPEN_FOLDER = ActionSpec("Open folder...", ("Ctrl+O",), Menu.FILE)
    SAVE = ActionSpec("Save correction", ("Ctrl+S",), Menu.FILE)
    PREVIOUS_IMAGE = ActionSpec("Previous image", ("A", "Left"), Menu.IMAGE)
    NEXT_IMAGE = ActionSpec("Next image", ("D", "Right"), Menu.IMAGE)
    UNDO = ActionSpec("Undo", ("Ctrl+Z",), Menu.EDIT)
    REDO = ActionSpec("Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), Menu.EDIT)
    ACCEPT_PREDICTION = ActionSpec("Accept prediction as working mask", ("Ctrl+Shift+A",), Menu.EDIT)
    RESET_TO_GROUND_TRUTH = ActionSpec("Reset to ground truth", ("Ctrl+Shift+R",), Menu.EDIT)
    SAVE_AS_GROUND_TRUTH = ActionSpec("Save as ground truth...", (), Menu.EDIT)  # no shortcut: never by accident
    BRUSH = _tool(Tool.BRUSH, "B")
    ERASER = _tool(Tool.ERASER, "E")
    FILL = _tool(Tool.FILL, "F")
    POLYGON = _tool(Tool.POLYGON, "P")
    PICK = _tool(Tool.PICK, "I")
    SMALLER_BRUSH = ActionSpec("Smaller brush", ("[",), Menu.TOOLS)
    LARGER_BRUSH = ActionSpec("Larger brush", ("]",), Menu.TOOLS)
    KEEP_OTHER_CLASSES = ActionSpec("Keep other classes", ("K",), Menu.TOOLS, on_toolbar=True, checkable=True)
    CLASS_1 = _class(1)
    CLASS_2 = _class(2)
    CLASS_3 = _class(3)
    CLASS_4 = _class(4)
    CLASS_5 = _class(5)
    CLASS_6 = _class(6)
    CLASS_7 = _class(7)
    CLASS_8 = _class(8)
    CLASS_9 = _class(9)
    TOGGLE_PREDICTION = ActionSpec("Toggle prediction", ("V",), Menu.VIEW)
    TOGGLE_ERROR_MAP = ActionSpec("Toggle error map", ("X",), Menu.VIEW)
    FIT = ActionSpec("Fit to window", ("Ctrl+0",), Menu.VIEW)
    ACTUAL_SIZE = ActionSpec("Actual size (1:1)", ("Ctrl+1",), Menu.VIEW)
    HELP = ActionSpec("Keyboard shortcuts", ("F1",), Menu.HELP)

    @property
    def spec(self) -> ActionSpec:
        return self.value

    @staticmethod
    def for_tool(tool: Tool) -> Command:
        return next(command for command in Command if command.spec.tool is tool)

    @staticmethod
    def for_class(number: int) -> Command:
        """The key that selects class ``number`` (1 to 9)."""
        return Command[f"CLASS_{number}"]


# Keys that are not actions, for the help dialog.
OTHER_KEYS = (
    ("Peek at ground truth (hold)", QKeySequence(PEEK_KEY).toString()),
    ("Pan", "Space + drag, or middle-drag"),
    ("Zoom", "mouse wheel (around the cursor)"),
    ("Close polygon", "double-click, right-click or Enter; Esc drops it"),
)


class WindowActions(QObject):
    """The actions of one window, built from a slot per :class:`Command` (every command needs one).

    ``brush_size_chosen(int)`` when the user moves the toolbar's slider (:meth:`show_brush_size` moves it
    without emitting); ``peek_changed(bool)`` when :data:`PEEK_KEY` goes down (True) or up (False) in the window.
    """

    brush_size_chosen = Signal(int)
    peek_changed = Signal(bool)

    def __init__(self, host: QMainWindow, slots: Mapping[Command, Callable[[], object]]) -> None:
        super().__init__(host)
        missing = [command.name for command in Command if command not in slots]
        if missing:
            raise ValueError(f"no slot for the commands {', '.join(missing)}")
        self._host = host
        self._menus: dict[Menu, QMenu] = {}
        self.toolbar = QToolBar("Tools", host)
        self.toolbar.setObjectName("toolbar-tools")
        host.addToolBar(self.toolbar)
        self._actions = {command: self._add(command.spec, slots[command]) for command in Command}
        self.brush_slider = QSlider(Qt.Orientation.Horizontal, host)
        self.brush_slider.setRange(MIN_BRUSH_SIZE, SLIDER_MAX_BRUSH)
        self.brush_slider.setFixedWidth(120)
        self.brush_slider.setToolTip("brush size ([ and ])")
        self.brush_slider.valueChanged.connect(self.brush_size_chosen)
        self.toolbar.addWidget(self.brush_slider)
        host.installEventFilter(self)  # the peek key: key events the focused widget left to the window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (watched is self._host and event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
                and isinstance(event, QKeyEvent) and event.key() == PEEK_KEY and not event.isAutoRepeat()):
            self.peek_changed.emit(event.type() == QEvent.Type.KeyPress)
            return True
        return False

    def _add(self, spec: ActionSpec, slot: Callable[[], object]) -> QAction:
        action = QAction(spec.text, self._host)
        action.setShortcuts([QKeySequence(key) for key in spec.keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(spec.checkable)
        action.triggered.connect(lambda _checked=False: slot())
        self._host.addAction(action)
        if spec.menu is not None:
            if spec.menu not in self._menus:
                self._menus[spec.menu] = self._host.menuBar().addMenu(spec.menu.value)
            self._menus[spec.menu].addAction(action)
        if spec.on_toolbar:
            self.toolbar.addAction(action)
        return action

    def action(self, command: Command) -> QAction:
        return self._actions[command]

    def all(self) -> list[QAction]:
        """Every action, in menu order."""
        return list(self._actions.values())

    def menu(self, menu: Menu) -> QMenu:
        return self._menus[menu]

    def show_tool(self, tool: Tool) -> None:
        """Check ``tool``'s action, uncheck the other tools'."""
        for command, action in self._actions.items():
            if command.spec.tool is not None:
                action.setChecked(command.spec.tool is tool)

    def show_keep_other_classes(self, keep: bool) -> None:
        self._actions[Command.KEEP_OTHER_CLASSES].setChecked(keep)

    def show_brush_size(self, size: int) -> None:
        """Move the slider to ``size`` (its end for larger brushes) without emitting ``brush_size_chosen``."""
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(min(self.brush_slider.maximum(), size))
        self.brush_slider.blockSignals(False)

    def shortcuts(self) -> list[tuple[str, str]]:
        """(action, keys) for every action and the keys that are not actions: what the help dialog lists."""
        rows = [(a.text(), ", ".join(s.toString() for s in a.shortcuts())) for a in self._actions.values()]
        return rows + list(OTHER_KEYS)

    def show_help(self, parent: QWidget | None = None) -> None:
        rows = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in self.shortcuts())
        QMessageBox.information(parent, "Keyboard shortcuts", f"<table cellspacing=4>{rows}</table>")


__all__ = ["PEEK_KEY", "ActionSpec", "Command", "Menu", "WindowActions"]
