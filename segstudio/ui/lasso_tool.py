"""The edge lasso (L): intelligent scissors. Each click fixes an anchor; between anchors the path follows the image's
edges (:class:`~segstudio.core.image_tools.ScissorsPath`), the live part from the last anchor to the mouse shown as
it moves; a double-click, a right-click or Enter closes the lasso back to the first anchor along the edges and fills
it in the current class through the brush's stroke and undo path; Esc drops it.

The path search covers the part of the image on screen around the first click, at most :data:`LASSO_MAX_SIDE`
pixels a side. The search from each anchor (OpenCV's buildMap, about 0.4 s per megapixel, measured 0.37 s at the
1024 px cap) runs on a builder thread, so a click never freezes the window: anchors clicked meanwhile queue up and
are joined in order, the preview showing straight lines to them until their paths are known. OpenCV releases the
GIL while it searches. Closing waits for the anchors still queued (the closing path starts from the last one).
No Qt here: the canvas forwards the clicks in image coordinates.
"""

from __future__ import annotations

import threading

import numpy as np

from segstudio.core.geometry import Rect
from segstudio.core.image_tools import ScissorsPath, scissors_stamp
from segstudio.core.paint_scope import PaintScope
from segstudio.core.session import ImageSession

Point = tuple[float, float]
LASSO_MAX_SIDE = 1024


class LassoTool:
    """The lasso being drawn (see the module notes)."""

    def __init__(self) -> None:
        self._path: ScissorsPath | None = None
        self.preview: list[Point] = []  # the path so far and the live part to the mouse, for the overlay
        self._pending: list[Point] = []  # anchors clicked whose paths the builder has not joined yet
        self._queue = threading.Lock()  # guards _pending and _building
        self._building = False
        self._searching = threading.Lock()  # held by the builder while it extends the path
        self._builder: threading.Thread | None = None
        self._joined: list[Point] = []  # the path the builder last finished, for the preview while it works
        self.problem: str | None = None  # why the builder could not join an anchor (told at the next click)

    @property
    def drawing(self) -> bool:
        return self._path is not None

    @property
    def busy(self) -> bool:
        """Whether anchors are still being joined."""
        with self._queue:
            return self._building

    def click(self, session: ImageSession, point: Point, view: Rect | None) -> str | None:
        """Fix an anchor (the first one starts the lasso); a problem to tell the user, or None. The anchor is
        joined on the builder thread."""
        problem, self.problem = self.problem, None
        if problem is not None:
            return problem
        try:
            if self._path is None:
                self._path, self._joined = ScissorsPath(session.image, _region_around(session.shape, point, view)), []
        except ValueError as failed:
            return str(failed)
        with self._queue:
            self._pending.append(self._inside(point))
            start = not self._building
            self._building = True
        if start:
            self._builder = threading.Thread(target=self._build, args=(self._path,), name="edge lasso", daemon=True)
            self._builder.start()
        self.preview = self._joined + self._straight()
        return None

    def _build(self, path: ScissorsPath) -> None:
        """Join the queued anchors in order (the builder thread)."""
        while True:
            with self._queue:
                if not self._pending or path is not self._path:
                    self._building = False
                    return
                anchor = self._pending[0]
            with self._searching:
                try:
                    path.add_anchor(anchor)
                except ValueError as failed:
                    self.problem = str(failed)
                joined = _points(path.path)
            with self._queue:
                if self._pending and self._pending[0] == anchor:
                    self._pending.pop(0)
                if path is self._path:
                    self._joined = joined

    def _straight(self, to: Point | None = None) -> list[Point]:
        with self._queue:
            points = list(self._pending)
        return points + ([to] if to is not None else [])

    def hover(self, point: Point) -> bool:
        """The live path from the last anchor to ``point`` (a straight line while anchors are being joined); True
        when the preview changed."""
        if self._path is None:
            return False
        inside = self._inside(point)
        if not self.busy and self._searching.acquire(blocking=False):
            try:
                live = self._path.path_to(inside) if self._path.anchors else np.zeros((0, 2), np.int32)
                self.preview = _points(self._path.path) + _points(live)
            finally:
                self._searching.release()
        else:
            self.preview = self._joined + self._straight(inside)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the queued anchors to be joined; False if ``timeout`` (seconds) passed first."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
            return not builder.is_alive()
        return True

    def closed_path(self) -> np.ndarray | None:
        """The lasso as it would be filled now: the path so far closed back to the first anchor (None: none)."""
        self.wait()
        return None if self._path is None else self._path.closed_path()

    def close(self, session: ImageSession, value: int, scope: PaintScope) -> tuple[Rect | None, str | None]:
        """Fill the closed lasso in class ``value`` (one undo step): the changed box, or why nothing was written.
        Waits for anchors still being joined (the closing path starts from the last one)."""
        self.wait()
        path, self._path, self.preview = self._path, None, []
        problem, self.problem = self.problem, None
        if path is None:
            return None, problem
        try:
            closed = path.closed_path()
            changed = session.write_selection(lambda mask, key, bound: scissors_stamp(mask, closed, key, bound),
                                              value, scope)
        except ValueError as failed:
            return None, str(failed)
        return changed, problem

    def cancel(self) -> None:
        with self._queue:
            self._path, self._pending = None, []
        self.preview, self._joined, self.problem = [], [], None

    def _inside(self, point: Point) -> Point:
        """``point`` moved into the search region (the path cannot leave it)."""
        assert self._path is not None
        roi = self._path.roi
        return (float(np.clip(point[0], roi.left, roi.right - 1)), float(np.clip(point[1], roi.top, roi.bottom - 1)))


def _region_around(shape: tuple[int, int], point: Point, view: Rect | None) -> Rect:
    region = Rect.around(point, LASSO_MAX_SIDE, shape)
    return region if view is None else region.intersection(view)


def _points(path: np.ndarray) -> list[Point]:
    return [(float(x), float(y)) for x, y in np.asarray(path).reshape(-1, 2)]


__all__ = ["LASSO_MAX_SIDE", "LassoTool"]
