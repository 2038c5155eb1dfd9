"""The window's status bar: its permanent fields and the passing messages.

Fields, left to right: the work's state ("modified", or read-only when another window holds the folder), the
class being painted, the tool (size, paint scope; the eraser says what it writes) and the pixel under the cursor
with its class. Messages come from the controllers' ``status(message, ms)`` signals through :meth:`show`; a
:meth:`report` is a message that also opens a warning box when the window is interactive.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QMessageBox, QStatusBar, QWidget

from segstudio.core.labels import LabelSet
from segstudio.ui.canvas import Canvas
from segstudio.ui.pixel_readout import pixel_readout
from segstudio.ui.tools import Tool

REPORT_MS = 15000
REFUSED_MS = 8000  # a gesture the canvas refused (e.g. the eraser has nothing to write)


class StatusLine(QObject):
    """The status bar of one window (see the module notes); it follows the canvas's cursor and refusals itself,
    the rest is pushed: :meth:`set_labels`, :meth:`set_read_only`, then :meth:`refresh`."""

    def __init__(self, bar: QStatusBar, canvas: Canvas, *, interactive: bool, dialog_parent: QWidget | None = None
                 ) -> None:
        super().__init__(bar)
        self._bar = bar
        self._canvas = canvas
        self._interactive = interactive
        self._dialog_parent = dialog_parent
        self._labels: LabelSet | None = None
        self._read_only = False
        self.state, self.class_name, self.tool, self.cursor = (QLabel(bar) for _ in range(4))
        for label in (self.state, self.class_name, self.tool, self.cursor):
            bar.addPermanentWidget(label)
        canvas.cursor_moved.connect(self.show_cursor)
        canvas.tool_refused.connect(lambda message: self.show(message, REFUSED_MS))
        canvas.tool_note.connect(lambda message: self.show(message, REFUSED_MS))

    @property
    def message(self) -> str:
        """The passing message shown now ("" when none)."""
        return self._bar.currentMessage()

    def show(self, message: str, ms: int = 0) -> None:
        """Show ``message`` for ``ms`` milliseconds (0: until the next one)."""
        self._bar.showMessage(message, ms)

    def report(self, message: str) -> None:
        """A problem the user must see: in the status bar, and in a warning box when the window is interactive."""
        self.show(message, REPORT_MS)
        if self._interactive:
            QMessageBox.warning(self._dialog_parent, "segstudio", message)

    def set_labels(self, labels: LabelSet | None) -> None:
        """The open folder's label set names the classes (None: no folder, the class shows as its number)."""
        self._labels = labels

    def set_read_only(self, reason: str) -> None:
        """The folder opened read-only (``reason``) or writable ("")."""
        self._read_only = bool(reason)
        self.refresh()

    def refresh(self) -> None:
        """Show the tools' and the shown session's state as they are now."""
        tools = self._canvas.tools
        self.class_name.setText(f"class: {self._class_name(tools.value)}")
        keep = ", keep other classes" if tools.keep_other_classes else ""
        what = tools.eraser_status if tools.tool is Tool.ERASER and tools.eraser_status else tools.tool.value
        setting = {Tool.WAND: f"tolerance {tools.tolerance}",
                   Tool.OUTLINE: f"tolerance {tools.outlines.tolerance:g} px"}.get(tools.tool, f"size {tools.size}")
        self.tool.setText(f"{what}, {setting}{keep}")
        session = self._canvas.session
        state = "modified" if session is not None and session.dirty else ""
        self.state.setText("read-only (open in another window)" if self._read_only else state)

    def show_cursor(self, x: int, y: int, value: int) -> None:
        """The pixel under the cursor: the truth's, prediction's and working mask's class there and the error map's
        mark (:func:`~segstudio.ui.pixel_readout.pixel_readout`; ``value`` -1: outside the image)."""
        session = self._canvas.session
        if value < 0 or session is None:
            self.cursor.setText("")
            return
        self.cursor.setText(pixel_readout(session, x, y, self._canvas.instance_at(x, y)))

    def _class_name(self, value: int) -> str:
        try:
            return self._labels.name_of(value) if self._labels is not None else str(value)
        except KeyError:
            return str(value)


__all__ = ["StatusLine"]
