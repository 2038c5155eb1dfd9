"""The box-to-mask tool's work: GrabCut runs on a worker (it takes seconds on a megapixel), then its selection is
written in the current class on the GUI thread, through the same stroke and undo path as the brush.

The canvas reports the dragged box (``box_drawn``); :class:`BoxToMask` cuts the object out of the image inside it
(:func:`~segstudio.core.image_tools.grabcut_stamp`, around the box only: at most a megapixel, else it says so) and
hands the pixels to :meth:`ImageSession.write_selection`, which applies the paint scope to the mask as it is then.
A box drawn while another is being cut replaces it; a result for an image the user has left is dropped.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from segstudio.core.geometry import Rect
from segstudio.core.image_tools import grabcut_stamp
from segstudio.core.session import ImageSession
from segstudio.core.stamp import Stamp
from segstudio.ui.canvas import Canvas
from segstudio.ui.workers import WorkerFailure, WorkerPool

CHANNEL = "box to mask"


class BoxToMask(QObject):
    """GrabCut jobs for the canvas's box tool. ``status(message, ms)``; ``written(Rect)`` after a selection landed."""

    status = Signal(str, int)
    written = Signal(object)

    def __init__(self, pool: WorkerPool, canvas: Canvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._canvas = canvas
        canvas.box_drawn.connect(self.cut)

    def cut(self, box: Rect) -> None:
        """Find the object inside ``box`` on a worker and paint it in the current class."""
        session = self._canvas.session
        if session is None:
            return
        if self._canvas.tools.read_only:
            self.status.emit("read-only: this folder is open in another window", 8000)
            return
        image = session.image
        # GrabCut needs no mask: every pixel is offered, the scope is applied when the result is written.
        nothing = np.broadcast_to(np.zeros(1, dtype=np.uint8), session.shape)

        def job(_progress, _cancel):  # noqa: ANN001, ANN202
            return grabcut_stamp(image, nothing, 1, box=box)

        self.status.emit(f"finding the object in the {box.width}x{box.height} box (GrabCut)...", 0)
        handle = self._pool.submit(CHANNEL, job)
        handle.signals.finished.connect(lambda stamp, s=session: self._write(s, stamp))
        handle.signals.failed.connect(self._failed)

    def _write(self, session: ImageSession, found: Stamp) -> None:
        tools = self._canvas.tools
        if session is not self._canvas.session:
            return  # the user left the image
        if found.is_empty:
            self.status.emit("GrabCut found nothing in the box: draw it closer around the object", 8000)
            return
        tools.cancel()
        changed = session.write_selection(
            lambda mask, key, scope: Stamp(found.rect, found.pixels & scope.writable(mask[found.rect.slices], key), key),
            tools.value, tools.scope)
        name = session.labels.name_of(tools.value)
        self.status.emit(f"box to mask: {found.count:,} px found, written in {name} (Ctrl+Z undoes)", 8000)
        self.written.emit(changed)

    def _failed(self, failure: WorkerFailure) -> None:
        self.status.emit(f"box to mask: {failure.message}", 10000)


__all__ = ["BoxToMask"]
