"""The window's commands as Qt actions: their names, shortcuts, icons and tooltips (:class:`Command`), the menus
(File with its Open recent list, View with the panels' toggles), the toolbar with its labelled brush size, which
tool shows as checked, the key held to peek at the ground truth, and the shortcut list the help dialog shows.

What a command does is not decided here: the window hands :class:`WindowActions` one slot per command.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSlider,
    QToolBar,
    QToolButton,
    QWidget,
)

from segstudio.ui.resources import icon
from segstudio.ui.tools import MIN_BRUSH_SIZE, Tool

PEEK_KEY = Qt.Key.Key_G  # hold to see the ground truth (a key press, not an action: it acts until released)
SLIDER_MAX_BRUSH = 200  # larger brushes come from ] only; the slider then stays at its end
TOOLBAR_ICON_SIZE = 20


class Menu(Enum):
    FILE = "File"
    IMAGE = "Image"
    REVIEW = "Review"
    EDIT = "Edit"
    INSTANCES = "Instances"
    TOOLS = "Tools"
    VIEW = "View"
    HELP = "Help"


@dataclass(frozen=True)
class ActionSpec:
    """How a command shows: its text, its shortcuts (the first is the main one), its menu (None: keys only), its
    icon (``resources/icons/<icon>.svg``), what it does (the tooltip's second line) and its menu section (a
    separator goes between sections). ``toolbar_text``: what the toolbar writes beside the icon (empty: the icon
    alone, for the commands everyone knows by their icon)."""

    text: str
    keys: tuple[str, ...]
    menu: Menu | None
    checkable: bool = False
    tool: Tool | None = None  # a tool command: checked while that tool is the current one
    icon: str | None = None
    tip: str = ""
    section: str = ""
    toolbar_text: str = ""


def _tool(tool: Tool, key: str, tip: str) -> ActionSpec:
    name = tool.value.replace(" ", "-").removesuffix("-class")
    return ActionSpec(tool.value.capitalize(), (key,), Menu.TOOLS, checkable=True, tool=tool, icon=name, tip=tip,
                      section="tools", toolbar_text=tool.value.split()[0].capitalize())


def _class(number: int) -> ActionSpec:
    return ActionSpec(f"Class {number}", (str(number),), None)


class Command(Enum):
    """Every command of the window, in menu order."""

    OPEN_FOLDER = ActionSpec("Open folder...", ("Ctrl+O",), Menu.FILE, icon="open", section="open",
                             tip="open a dataset folder (images with their masks)")
    LOAD_MODEL = ActionSpec("Load model...", ("Ctrl+L",), Menu.FILE, icon="load-model", section="open",
                            tip="load a checkpoint to predict with (Model panel)")
    LOAD_CLICK_WEIGHTS = ActionSpec("Load click-to-segment weights...", (), Menu.FILE, section="open",
                                    tip="a Segment Anything checkpoint on this disk (sam_vit_b_01ec64.pth, ViT-L or "
                                    "ViT-H) for the click-to-segment tool (H); nothing is downloaded")
    CLUSTER_FOR_PREDICT_ALL = ActionSpec("Ray cluster for Predict all...", (), Menu.FILE, section="open",
                                         tip="hand \"Predict all images\" to a Ray cluster (its workers need "
                                         "segstudio[ray] and this folder under the same path); empty: this machine")
    SAVE = ActionSpec("Save correction", ("Ctrl+S",), Menu.FILE, icon="save", section="save",
                      tip="save the working mask into segstudio-corrections/ (the ground truth is kept)")
    EXPORT_ACCEPTED = ActionSpec("Export accepted masks...", ("Ctrl+E",), Menu.FILE, section="export",
                                 tip="write the accepted masks as palette PNG, VOC, COCO, labelme or YOLO, checked "
                                 "by reading them back")
    QUIT = ActionSpec("Quit", ("Ctrl+Q",), Menu.FILE, icon="quit", section="quit")
    PREVIOUS_IMAGE = ActionSpec("Previous image", ("A", "Left"), Menu.IMAGE, icon="previous")
    NEXT_IMAGE = ActionSpec("Next image", ("D", "Right"), Menu.IMAGE, icon="next")
    NEXT_TO_DO = ActionSpec("Next image to do", ("N",), Menu.REVIEW, icon="next-to-do", section="go",
                            tip="the next image in the list that is to do or in progress")
    ACCEPT_AND_NEXT = ActionSpec("Accept and go to next", ("Ctrl+Return", "Ctrl+Enter"), Menu.REVIEW, icon="accept",
                                 section="decide", toolbar_text="Accept",
                                 tip="mark the image accepted (saving its mask if needed), then the next image to do")
    REJECT_AND_NEXT = ActionSpec("Reject and go to next", ("Ctrl+Backspace",), Menu.REVIEW, icon="reject",
                                 section="decide", tip="mark the image rejected (left out of exports), then the next "
                                 "image to do; add a comment to say why")
    COMMENT = ActionSpec("Comment...", ("Ctrl+M",), Menu.REVIEW, icon="comment", section="decide",
                         tip="a note on this image, shown in the list and kept in the project file")
    FINE_TUNE = ActionSpec("Fine-tune on accepted masks...", (), Menu.REVIEW, section="train",
                           tip="train the loaded model further on the accepted images, a part held out to measure it; "
                           "the new model is saved next to the old one")
    MARK_TO_DO = ActionSpec("Mark as to do", (), Menu.REVIEW, section="mark")
    MARK_IN_PROGRESS = ActionSpec("Mark as in progress", (), Menu.REVIEW, section="mark")
    MARK_CORRECTED = ActionSpec("Mark as corrected", (), Menu.REVIEW, section="mark")
    UNDO = ActionSpec("Undo", ("Ctrl+Z",), Menu.EDIT, icon="undo", section="history")
    REDO = ActionSpec("Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), Menu.EDIT, icon="redo", section="history")
    ACCEPT_PREDICTION = ActionSpec("Accept prediction as working mask", ("Ctrl+Shift+A",), Menu.EDIT,
                                   icon="accept-prediction", section="mask")
    RESET_TO_GROUND_TRUTH = ActionSpec("Reset to ground truth", ("Ctrl+Shift+R",), Menu.EDIT, icon="reset", section="mask")
    SAVE_AS_GROUND_TRUTH = ActionSpec("Save as ground truth...", (), Menu.EDIT, section="truth")  # never by accident
    NEXT_ERROR_REGION = ActionSpec("Next error region", (".",), Menu.EDIT, section="regions",
                                   tip="the next of the working mask's error regions against the ground truth, largest "
                                   "first (shown in white); then T, Y or S fixes it")
    PREVIOUS_ERROR_REGION = ActionSpec("Previous error region", (",",), Menu.EDIT, section="regions")
    TAKE_TRUTH_IN_REGION = ActionSpec("Take the ground truth in the region", ("T",), Menu.EDIT, section="regions",
                                      tip="the chosen error region takes the ground truth's pixels (one undo step)")
    TAKE_PREDICTION_IN_REGION = ActionSpec("Take the prediction in the region", ("Y",), Menu.EDIT, section="regions",
                                           tip="the chosen error region takes the model's pixels (one undo step)")
    SET_REGION_CLASS = ActionSpec("Give the region the selected class", ("S",), Menu.EDIT, section="regions",
                                  tip="every pixel of the chosen error region becomes the class selected in the "
                                  "Classes panel (one undo step)")
    NEW_INSTANCE = ActionSpec("New instance", ("M",), Menu.INSTANCES, icon="new-instance", section="choose",
                              tip="the next stroke paints a new object of the selected class (instance images)")
    MERGE_INSTANCES = ActionSpec("Merge selected instances", ("Shift+M",), Menu.INSTANCES, section="edit",
                                 tip="the instances selected in the Instances list (Ctrl+click) become the first one")
    SPLIT_INSTANCE = ActionSpec("Split into connected parts", (), Menu.INSTANCES, section="edit",
                                tip="each separate piece of the selected instance becomes its own instance "
                                "(the largest keeps the id); to cut one piece, use the Cut tool (C)")
    SET_INSTANCE_CLASS = ActionSpec("Give instance the selected class", (), Menu.INSTANCES, section="edit",
                                    tip="the selected instance takes the class selected in the Classes panel")
    DELETE_INSTANCE = ActionSpec("Delete instance", ("Del",), Menu.INSTANCES, section="edit",
                                 tip="the selected instances' pixels become background")
    RENUMBER_INSTANCES = ActionSpec("Renumber instances 1..N", (), Menu.INSTANCES, section="tidy",
                                    tip="number the instances 1, 2, 3... in their present order (one undo step)")
    BRUSH = _tool(Tool.BRUSH, "B", "paint the selected class")
    ERASER = _tool(Tool.ERASER, "E", "paint 'unlabelled' (or the background when the data set has no such value)")
    FILL = _tool(Tool.FILL, "F", "flood-fill the connected region under the cursor")
    POLYGON = _tool(Tool.POLYGON, "P", "click the corners; double-click, right-click or Enter closes it")
    PICK = _tool(Tool.PICK, "I", "click the mask to select the class (and on instance images the instance) under "
                 "the cursor")
    CUT = _tool(Tool.CUT, "C", "drag a line across an instance to split it in two there (instance images)")
    OUTLINE = _tool(Tool.OUTLINE, "O", "click a region to edit its outline: drag vertices, press an edge to add one, "
                    "right-click to delete; Enter writes it back, Esc drops it ([ and ] change how simplified)")
    WAND = _tool(Tool.WAND, "W", "click to paint the pixels of about the same colour connected to the click "
                 "([ and ] change the tolerance)")
    BOX = _tool(Tool.BOX, "Q", "drag a box around an object: it is cut out of the image (GrabCut) and painted in "
                "the selected class; then Shift+drag marks more of the object, right-drag what is not")
    LASSO = _tool(Tool.LASSO, "L", "click around an object: the line follows the image's edges between clicks; "
                  "double-click, right-click or Enter closes and fills it, Esc drops it")
    CLICK = _tool(Tool.CLICK, "H", "click the object for a model (Segment Anything, weights on disk) to find it; "
                  "right-click what it must leave out; Enter paints it in the selected class, Esc drops it")
    REGION = _tool(Tool.REGION, "R", "click an error region (where the working mask and the ground truth disagree) "
                   "to choose it; T, Y or S then fixes it in one step")
    SMALLER_BRUSH = ActionSpec("Smaller brush", ("[",), Menu.TOOLS, section="size")
    LARGER_BRUSH = ActionSpec("Larger brush", ("]",), Menu.TOOLS, section="size")
    KEEP_OTHER_CLASSES = ActionSpec("Keep other classes", ("K",), Menu.TOOLS, checkable=True, icon="keep-other-classes",
                                    section="scope", toolbar_text="Keep others",
                                    tip="paint only over unlabelled or background pixels; other classes stay")
    CLASS_1 = _class(1)
    CLASS_2 = _class(2)
    CLASS_3 = _class(3)
    CLASS_4 = _class(4)
    CLASS_5 = _class(5)
    CLASS_6 = _class(6)
    CLASS_7 = _class(7)
    CLASS_8 = _class(8)
    CLASS_9 = _class(9)
    TOGGLE_PREDICTION = ActionSpec("Show prediction", ("V",), Menu.VIEW, checkable=True, icon="prediction",
                                   section="layers", tip="the model's prediction layer", toolbar_text="Prediction")
    TOGGLE_ERROR_MAP = ActionSpec("Show error map", ("X",), Menu.VIEW, checkable=True, icon="error-map",
                                  section="layers", tip="where the working mask and the ground truth disagree",
                                  toolbar_text="Error map")
    DATASET_FIGURES = ActionSpec("Dataset figures", ("Ctrl+D",), Menu.VIEW, section="compare",
                                 tip="the Dataset panel large, over the window: confusion heat map, IoU histogram, "
                                 "per-class bars (dock it back from its title bar)")
    COMPARE_PREDICTIONS = ActionSpec("Compare predictions with...", (), Menu.VIEW, section="compare",
                                     tip="score the shown predictions against another model's or a prediction "
                                     "folder's, image by image (the list's Δ IoU column)")
    SHOW_DISAGREEMENT = ActionSpec("Show where predictions disagree", ("Z",), Menu.VIEW, checkable=True,
                                   section="compare", tip="mark in cyan the pixels where the shown prediction and "
                                   "the one compared with differ")
    TOGGLE_CERTAINTY = ActionSpec("Show model doubt", ("Shift+U",), Menu.VIEW, checkable=True, section="compare",
                                  tip="how unsure the model was of each pixel's class, as a layer from clear (sure) "
                                  "to yellow (no idea), kept from its last prediction of this image")
    SHOW_UNCERTAIN = ActionSpec("Show uncertain pixels", ("U",), Menu.VIEW, checkable=True, section="compare",
                                tip="mark in orange the pixels the model was unsure of (below the Model panel's "
                                "certainty threshold)")
    FIT = ActionSpec("Fit to window", ("Ctrl+0",), Menu.VIEW, icon="fit", section="zoom")
    ACTUAL_SIZE = ActionSpec("Actual size (1:1)", ("Ctrl+1",), Menu.VIEW, icon="actual-size", section="zoom")
    RESET_LAYOUT = ActionSpec("Reset panel layout", (), Menu.VIEW, section="panels-end",
                              tip="put every panel back where it starts")
    HELP = ActionSpec("Keyboard shortcuts", ("F1",), Menu.HELP, icon="help")
    ABOUT = ActionSpec("About segstudio", (), Menu.HELP, icon="about",
                       tip="versions of segstudio, Python, Qt and PyTorch")

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


class ToolbarSlot(Enum):
    """Toolbar entries that are not commands."""

    SEPARATOR = "separator"
    BRUSH_SIZE = "brush size"


_SEP = ToolbarSlot.SEPARATOR
TOOLBAR: tuple[Command | ToolbarSlot, ...] = (
    Command.OPEN_FOLDER, Command.SAVE, _SEP, Command.UNDO, Command.REDO, _SEP,
    Command.BRUSH, Command.ERASER, Command.FILL, Command.POLYGON, Command.PICK, _SEP,
    ToolbarSlot.BRUSH_SIZE, _SEP, Command.KEEP_OTHER_CLASSES, _SEP,
    Command.TOGGLE_PREDICTION, Command.TOGGLE_ERROR_MAP, _SEP, Command.FIT, Command.ACTUAL_SIZE, _SEP,
    Command.NEXT_TO_DO, Command.ACCEPT_AND_NEXT, Command.REJECT_AND_NEXT,
)  # fmt: skip
RECENT_MENU_TITLE = "Open recent"

# Keys that are not actions, for the help dialog.
OTHER_KEYS = (
    ("Peek at ground truth (hold)", QKeySequence(PEEK_KEY).toString()),
    ("Pan", "Space + drag, or middle-drag"),
    ("Zoom", "mouse wheel (around the cursor)"),
    ("Close polygon", "double-click, right-click or Enter; Esc drops it"),
    ("Refine a box cut (Q)", "Shift+drag: the object; right-drag: not the object"),
    ("Click to segment (H)", "click: on the object; right-click: not on it; Enter paints, Esc drops"),
)


def tooltip(spec: ActionSpec) -> str:
    keys = f" ({spec.keys[0]})" if spec.keys else ""
    return f"{spec.text.removesuffix('...')}{keys}" + (f"\n{spec.tip[0].upper()}{spec.tip[1:]}" if spec.tip else "")


class BrushSizeControl(QWidget):
    """"Size", a slider and the size in pixels: the toolbar's brush (and eraser) size."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(MIN_BRUSH_SIZE, SLIDER_MAX_BRUSH)
        self.slider.setFixedWidth(110)
        self.value = QLabel(self)
        self.value.setMinimumWidth(self.value.fontMetrics().horizontalAdvance("000 px") + 4)
        self.setToolTip("Brush and eraser size in image pixels ([ smaller, ] larger)")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(QLabel("Size", self))
        layout.addWidget(self.slider)
        layout.addWidget(self.value)

    def show_size(self, size: int) -> None:
        self.value.setText(f"{size} px")


class WindowActions(QObject):
    """The actions of one window, built from a slot per :class:`Command` (every command needs one).

    ``brush_size_chosen(int)`` when the user moves the toolbar's slider (:meth:`show_brush_size` moves it
    without emitting); ``peek_changed(bool)`` when :data:`PEEK_KEY` goes down (True) or up (False) in the window;
    ``recent_folder_chosen(Path)`` from File > Open recent, ``recent_cleared()`` when its list is cleared.
    """

    brush_size_chosen = Signal(int)
    peek_changed = Signal(bool)
    recent_folder_chosen = Signal(object)
    recent_cleared = Signal()

    def __init__(self, host: QMainWindow, slots: Mapping[Command, Callable[[], object]]) -> None:
        super().__init__(host)
        missing = [command.name for command in Command if command not in slots]
        if missing:
            raise ValueError(f"no slot for the commands {', '.join(missing)}")
        self._host = host
        self._menus: dict[Menu, QMenu] = {}
        self._sections: dict[Menu, str] = {}
        self._actions = {command: self._add(command, slots[command]) for command in Command}
        self.recent_menu = QMenu(RECENT_MENU_TITLE, host)
        self.menu(Menu.FILE).insertMenu(self._actions[Command.LOAD_MODEL], self.recent_menu)
        self.set_recent_folders([])
        self._panels_end = self.menu(Menu.VIEW).insertSeparator(self._actions[Command.RESET_LAYOUT])
        self.toolbar = QToolBar("Toolbar", host)
        self.toolbar.setObjectName("toolbar-tools")
        self.toolbar.setIconSize(QSize(TOOLBAR_ICON_SIZE, TOOLBAR_ICON_SIZE))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        host.addToolBar(self.toolbar)
        self._toolbar_toggle = self.toolbar.toggleViewAction()
        self._toolbar_toggle.setText("Toolbar")
        self.menu(Menu.VIEW).insertAction(self._panels_end, self._toolbar_toggle)
        self.brush_size = BrushSizeControl(host)
        self.brush_slider = self.brush_size.slider
        self.brush_slider.valueChanged.connect(self.brush_size_chosen)
        self._fill_toolbar()
        host.installEventFilter(self)  # the peek key: key events the focused widget left to the window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (watched is self._host and event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
                and isinstance(event, QKeyEvent) and event.key() == PEEK_KEY and not event.isAutoRepeat()):
            self.peek_changed.emit(event.type() == QEvent.Type.KeyPress)
            return True
        return False

    def _add(self, command: Command, slot: Callable[[], object]) -> QAction:
        spec = command.spec
        action = QAction(spec.text, self._host)
        action.setObjectName(f"action-{command.name.lower()}")
        action.setShortcuts([QKeySequence(key) for key in spec.keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(spec.checkable)
        action.setToolTip(tooltip(spec))
        if spec.icon is not None:
            action.setIcon(icon(spec.icon))
        if spec.toolbar_text:
            action.setIconText(spec.toolbar_text)
        action.triggered.connect(lambda _checked=False: slot())
        self._host.addAction(action)
        if spec.menu is not None:
            if spec.menu not in self._menus:
                self._menus[spec.menu] = self._host.menuBar().addMenu(f"&{spec.menu.value}")
                self._menus[spec.menu].setToolTipsVisible(True)
            elif self._sections.get(spec.menu) != spec.section:
                self._menus[spec.menu].addSeparator()
            self._sections[spec.menu] = spec.section
            self._menus[spec.menu].addAction(action)
        return action

    def _fill_toolbar(self) -> None:
        for entry in TOOLBAR:
            if entry is ToolbarSlot.SEPARATOR:
                self.toolbar.addSeparator()
            elif entry is ToolbarSlot.BRUSH_SIZE:
                self.toolbar.addWidget(self.brush_size)
            else:
                action = self._actions[entry]
                self.toolbar.addAction(action)
                button = self.toolbar.widgetForAction(action)
                if isinstance(button, QToolButton) and not entry.spec.toolbar_text:
                    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def action(self, command: Command) -> QAction:
        return self._actions[command]

    def offer(self, command: Command, available: bool, reason: str) -> None:
        """Enable ``command``, or grey it with ``reason`` as its tooltip (a tool that needs something it lacks)."""
        action = self._actions[command]
        action.setEnabled(available)
        base = tooltip(command.value)
        action.setToolTip(base if available else f"{base}\nNot available: {reason}")

    def all(self) -> list[QAction]:
        """Every action, in menu order."""
        return list(self._actions.values())

    def menu(self, menu: Menu) -> QMenu:
        return self._menus[menu]

    def toolbar_commands(self) -> list[Command]:
        """The commands on the toolbar, left to right."""
        return [entry for entry in TOOLBAR if isinstance(entry, Command)]

    # -- state shown by the actions ----------------------------------------------------------------------

    def show_tool(self, tool: Tool) -> None:
        """Check ``tool``'s action, uncheck the other tools'."""
        for command, action in self._actions.items():
            if command.spec.tool is not None:
                action.setChecked(command.spec.tool is tool)

    def show_keep_other_classes(self, keep: bool) -> None:
        self._actions[Command.KEEP_OTHER_CLASSES].setChecked(keep)

    def show_layers(self, prediction: bool, error_map: bool, doubt: bool = False) -> None:
        """Check the layer toggles as the layers are shown."""
        self._actions[Command.TOGGLE_PREDICTION].setChecked(prediction)
        self._actions[Command.TOGGLE_ERROR_MAP].setChecked(error_map)
        self._actions[Command.TOGGLE_CERTAINTY].setChecked(doubt)

    def show_brush_size(self, size: int) -> None:
        """Move the slider to ``size`` (its end for larger brushes) without emitting ``brush_size_chosen``."""
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(min(self.brush_slider.maximum(), size))
        self.brush_slider.blockSignals(False)
        self.brush_size.show_size(size)

    # -- File > Open recent, View > panels -----------------------------------------------------------------

    def set_recent_folders(self, folders: Sequence[Path]) -> None:
        """List ``folders`` (most recent first) under File > Open recent; one that is gone shows greyed out."""
        menu = self.recent_menu
        menu.clear()
        self._recent_actions: list[QAction] = []
        for number, folder in enumerate(folders, start=1):
            present = folder.is_dir()
            label = f"{folder.name or folder}  ({folder.parent})" + ("" if present else "  - not found")
            prefix = f"&{number} " if number < 10 else "1&0 "
            action = menu.addAction(prefix + label.replace("&", "&&"))
            action.setToolTip(str(folder))
            action.setEnabled(present)
            action.triggered.connect(lambda _checked=False, f=folder: self.recent_folder_chosen.emit(f))
            self._recent_actions.append(action)
        if folders:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(lambda _checked=False: self.recent_cleared.emit())
        menu.setEnabled(bool(folders))

    def recent_folders_shown(self) -> list[tuple[str, bool]]:
        """(text, enabled) of each folder entry under File > Open recent."""
        return [(action.text(), action.isEnabled()) for action in self._recent_actions]

    def choose_recent(self, index: int) -> None:
        """Trigger the ``index``-th entry of File > Open recent, as a click would."""
        self._recent_actions[index].trigger()

    def add_panel_toggles(self, toggles: Iterable[QAction]) -> None:
        """Put the panels' show/hide actions (a dock's toggleViewAction) in the View menu, above the toolbar's."""
        view = self.menu(Menu.VIEW)
        for toggle in toggles:
            view.insertAction(self._toolbar_toggle, toggle)

    # -- help ----------------------------------------------------------------------------------------------

    def shortcuts(self) -> list[tuple[str, str]]:
        """(action, keys) for every action and the keys that are not actions: what the help dialog lists."""
        rows = [(a.text(), ", ".join(s.toString() for s in a.shortcuts())) for a in self._actions.values()]
        return rows + list(OTHER_KEYS)

    def show_help(self, parent: QWidget | None = None) -> None:
        rows = "".join(f"<tr><td>{html.escape(name)}</td><td><b>{html.escape(keys)}</b></td></tr>"
                       for name, keys in self.shortcuts() if keys)
        QMessageBox.information(parent, "Keyboard shortcuts", f"<table cellspacing=4>{rows}</table>")


__all__ = ["PEEK_KEY", "TOOLBAR", "ActionSpec", "BrushSizeControl", "Command", "Menu", "ToolbarSlot", "WindowActions"]
