"""The box-to-mask tool's work: GrabCut runs on a worker (it takes seconds on a megapixel), then its selection is
written in the current class on the GUI thread, through the same stroke and undo path as the brush; strokes then
refine that cut.

The canvas reports the dragged box (``box_drawn``); :class:`BoxToMask` cuts the object out of the image inside it
(:func:`~segstudio.core.image_tools.grabcut_stamp`, around the box only: at most a megapixel, else it says so) and
hands the pixels to :meth:`ImageSession.write_selection`, which applies the paint scope to the mask as it is then.
A box drawn while another is being cut replaces it; a result for an image the user has left is dropped.

Refining (``scribbled``): Shift+drag marks pixels that are the object, right-drag pixels that are not. Each stroke
runs GrabCut again with the box and every stroke so far (sure foreground and background), and the new cut replaces
the last one in the same undo step: the last cut is undone and the new one written. That happens only while the
last cut is still the last change to the mask; after any other edit (or an undo) a stroke says to draw a box first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from segstudio.core.geometry import Rect
from segstudio.core.image_tools import grabcut_roi, grabcut_stamp
from segstudio.core.session import ImageSession
from segstudio.core.stamp import Stamp
from segstudio.ui.canvas import Canvas
from segstudio.ui.tools import SCRIBBLE_RADIUS
from segstudio.ui.workers import WorkerFailure, WorkerPool

CHANNEL = "box to mask"
REFINE_HOW = "Shift+drag marks more of the object, right-drag what is not"


@dataclass(eq=False)
class LastCut:
    """The last box cut, while it can be refined: its box, the region GrabCut looks at around it (``around``), the
    strokes so far (bool arrays of that region: the object, not the object), the class it was written in, and the
    session's revision right after it was written (``wrote``: whether it changed pixels, so undo takes it back)."""

    session: ImageSession
    box: Rect
    around: Rect
    keep: np.ndarray
    drop: np.ndarray
    value: int
    revision: int
    wrote: bool
    strokes: int = 0


class BoxToMask(QObject):
    """GrabCut jobs for the canvas's box tool. ``status(message, ms)``; ``written(Rect)`` after a selection landed."""

    status = Signal(str, int)
    written = Signal(object)

    def __init__(self, pool: WorkerPool, canvas: Canvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._canvas = canvas
        self.last: LastCut | None = None
        canvas.box_drawn.connect(self.cut)
        canvas.scribbled.connect(self.refine)

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

        self.last = None
        self.status.emit(f"finding the object in the {box.width}x{box.height} box (GrabCut)...", 0)
        handle = self._pool.submit(CHANNEL, job)
        handle.signals.finished.connect(lambda stamp, s=session, b=box: self._write(s, stamp, b))
        handle.signals.failed.connect(self._failed)

    def refine(self, points: tuple[tuple[float, float], ...], keep: bool) -> None:
        """A stroke through ``points`` marking the object (``keep``) or not: cut the last box again with it."""
        session, last = self._canvas.session, self.last
        if session is None:
            return
        if last is None or last.session is not session or session.revision != last.revision:
            self.status.emit(f"a stroke refines the last box cut: drag a box around the object first (Q), then "
                             f"{REFINE_HOW}", 8000)
            return
        stroke = _stroke_pixels(points, last.around)
        if not stroke.any():
            self.status.emit("the stroke lies outside the box and its surroundings: draw it on the object or next "
                             "to it", 8000)
            return
        if keep:
            last.keep |= stroke
            last.drop &= ~stroke
        else:
            last.drop |= stroke
            last.keep &= ~stroke
        last.strokes += 1
        around, box = last.around, last.box.relative_to(last.around)
        image = session.image[around.slices]
        keep_marks, drop_marks = last.keep.copy(), last.drop.copy()
        nothing = np.broadcast_to(np.zeros(1, dtype=np.uint8), (around.height, around.width))

        def job(_progress, _cancel):  # noqa: ANN001, ANN202
            found = grabcut_stamp(image, nothing, 1, box=box, foreground=keep_marks, background=drop_marks)
            return Stamp(found.rect.translated(around.top, around.left), found.pixels, found.value)

        self.status.emit(f"cutting the box again with {last.strokes} stroke{'s' * (last.strokes != 1)} (GrabCut)...", 0)
        handle = self._pool.submit(CHANNEL, job)
        handle.signals.finished.connect(lambda stamp, s=session, c=last: self._rewrite(s, c, stamp))
        handle.signals.failed.connect(self._failed)

    def _write(self, session: ImageSession, found: Stamp, box: Rect) -> None:
        tools = self._canvas.tools
        if session is not self._canvas.session:
            return  # the user left the image
        if found.is_empty:
            self.status.emit("GrabCut found nothing in the box: draw it closer around the object", 8000)
            return
        tools.cancel()
        changed = session.write_found(found, tools.value, tools.scope)
        around = grabcut_roi(session.shape, box=box)
        blank = np.zeros((around.height, around.width), dtype=bool)
        self.last = LastCut(session, box, around, blank, blank.copy(), tools.value, session.revision,
                            wrote=not changed.is_empty)
        name = session.labels.name_of(tools.value)
        self.status.emit(f"box to mask: {found.count:,} px found, written in {name} (Ctrl+Z undoes; {REFINE_HOW})",
                         10000)
        self.written.emit(changed)

    def _rewrite(self, session: ImageSession, last: LastCut, found: Stamp) -> None:
        if session is not self._canvas.session or last is not self.last or session.revision != last.revision:
            return  # the user left the image, drew another box, or edited since: the cut is no longer the last change
        if last.wrote:
            session.undo()
        changed = session.write_found(found, last.value, self._canvas.tools.scope)  # the cut's class, not today's
        last.revision, last.wrote = session.revision, not changed.is_empty
        name = session.labels.name_of(last.value)
        self.status.emit(f"box to mask refined with {last.strokes} stroke{'s' * (last.strokes != 1)}: "
                         f"{found.count:,} px in {name} (Ctrl+Z undoes the cut)", 10000)
        self.written.emit(changed)

    def _failed(self, failure: WorkerFailure) -> None:
        self.status.emit(f"box to mask: {failure.message}", 10000)


def _stroke_pixels(points: tuple[tuple[float, float], ...], around: Rect) -> np.ndarray:
    """The pixels of ``around`` a stroke through ``points`` (image coordinates) covers, :data:`SCRIBBLE_RADIUS`
    pixels each side."""
    marks = np.zeros((around.height, around.width), dtype=np.uint8)
    line = np.array([[round(x) - around.left, round(y) - around.top] for x, y in points], dtype=np.int32)
    thickness = 2 * SCRIBBLE_RADIUS + 1
    if len(line) == 1:
        cv2.circle(marks, (int(line[0, 0]), int(line[0, 1])), SCRIBBLE_RADIUS, 1, thickness=-1)
    else:
        cv2.polylines(marks, [line.reshape(-1, 1, 2)], isClosed=False, color=1, thickness=thickness)
    return marks.astype(bool)


__all__ = ["BoxToMask", "LastCut"]
