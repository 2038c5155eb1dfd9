"""The editing commands of the window's actions: choosing the tool, the paint scope, the brush size and the class
to paint with, and the commands that change the shown mask as a whole (undo, redo, accept the prediction, reset
to the ground truth), which a read-only window refuses.

The canvas's :class:`~segstudio.ui.tools.ToolController` holds the tool state; :class:`EditingCommands` changes
it and reports through typed signals, so the toolbar and the status bar follow.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from segstudio.core.session import ImageSession
from segstudio.ui.canvas import Canvas
from segstudio.ui.saving import SaveController
from segstudio.ui.tools import Tool

REFUSED_MS = 8000
BRUSH_STEP_DIVISOR = 8  # [ and ] change the brush by an eighth of its size (at least a pixel)
WAND_TOLERANCE_STEP = 4  # and the magic wand's tolerance by this much
MAX_OUTLINE_TOLERANCE = 10.0  # pixels: an outline simplified further stops following its region


class EditingCommands(QObject):
    """Editing commands on one canvas.

    ``tool_changed(Tool)``; ``tools_changed()``: the tool, the paint scope or the class changed (the status bar
    shows them); ``status(message, ms)``: why a command did nothing.
    """

    tool_changed = Signal(object)
    tools_changed = Signal()
    status = Signal(str, int)

    def __init__(self, canvas: Canvas, saving: SaveController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._saving = saving

    @property
    def tool(self) -> Tool:
        return self._canvas.tools.tool

    def set_tool(self, tool: Tool) -> None:
        tools = self._canvas.tools
        tools.cancel()  # a polygon or stroke of the previous tool is dropped, not finished by the new one
        self._saving.unsaved.note()  # a stroke closed here may have changed nothing
        tools.tool = tool
        self._canvas.update()
        self.tool_changed.emit(tool)
        self.tools_changed.emit()

    def toggle_keep_other_classes(self) -> None:
        tools = self._canvas.tools
        tools.keep_other_classes = not tools.keep_other_classes
        self.tools_changed.emit()

    def set_class(self, class_id: int) -> None:
        self._canvas.tools.value = class_id
        self.tools_changed.emit()

    def step_brush(self, direction: int) -> None:
        """A larger (1) or smaller (-1) brush; with the magic wand, a larger or smaller colour tolerance."""
        tools = self._canvas.tools
        if tools.tool is Tool.OUTLINE:
            tools.outlines.tolerance = min(MAX_OUTLINE_TOLERANCE, max(0.0, tools.outlines.tolerance + direction * 0.5))
            self.tools_changed.emit()
            self.status.emit(f"outline tolerance {tools.outlines.tolerance:g} px (0: every pixel corner), for the next "
                             "outline", 4000)
            return
        if tools.tool is Tool.WAND:
            tools.tolerance = int(min(255, max(0, tools.tolerance + direction * WAND_TOLERANCE_STEP)))
            self.tools_changed.emit()
            self.status.emit(f"magic wand tolerance {tools.tolerance}", 3000)
            return
        size = self._canvas.tools.size
        self._canvas.set_brush_size(size + direction * max(1, size // BRUSH_STEP_DIVISOR))

    def undo(self) -> None:
        self._canvas.tools.cancel()
        self._edit(lambda session: session.undo())

    def redo(self) -> None:
        self._edit(lambda session: session.redo())

    def accept_prediction(self) -> None:
        self._edit(lambda session: session.accept_prediction())

    def reset_to_ground_truth(self) -> None:
        self._edit(lambda session: session.reset_to_ground_truth())

    def _edit(self, operation: Callable[[ImageSession], object]) -> None:
        session = self._canvas.session
        if session is None or self._saving.refuse_when_read_only("change the mask"):
            return
        try:
            operation(session)
        except ValueError as error:  # e.g. no prediction to accept: the session says why
            self.status.emit(str(error), REFUSED_MS)


__all__ = ["EditingCommands"]
