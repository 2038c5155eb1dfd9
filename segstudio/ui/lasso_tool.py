"""The edge lasso (L): intelligent scissors. Each click fixes an anchor; between anchors the path follows the image's
edges (:class:`~segstudio.core.image_tools.ScissorsPath`), the live part from the last anchor to the mouse shown as
it moves; a double-click, a right-click or Enter closes the lasso back to the first anchor along the edges and fills
it in the current class through the brush's stroke and undo path; Esc drops it.

The path search covers the part of the image on screen around the first click, at most :data:`LASSO_MAX_SIDE`
pixels a side (the search per anchor costs about 0.4 s per megapixel, so a click never waits long on any image).
No Qt here: the canvas forwards the clicks in image coordinates.
"""

from __future__ import annotations

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

    @property
    def drawing(self) -> bool:
        return self._path is not None

    def click(self, session: ImageSession, point: Point, view: Rect | None) -> str | None:
        """Fix an anchor (the first one starts the lasso); a problem to tell the user, or None."""
        try:
            if self._path is None:
                self._path = ScissorsPath(session.image, _region_around(session.shape, point, view))
            self._path.add_anchor(self._inside(point))
        except ValueError as problem:
            return str(problem)
        self.preview = _points(self._path.path)
        return None

    def hover(self, point: Point) -> bool:
        """The live path from the last anchor to ``point``; True when the preview changed."""
        if self._path is None:
            return False
        live = self._path.path_to(self._inside(point))
        self.preview = _points(self._path.path) + _points(live)
        return True

    def closed_path(self) -> np.ndarray | None:
        """The lasso as it would be filled now: the path so far closed back to the first anchor (None: none)."""
        return None if self._path is None else self._path.closed_path()

    def close(self, session: ImageSession, value: int, scope: PaintScope) -> tuple[Rect | None, str | None]:
        """Fill the closed lasso in class ``value`` (one undo step): the changed box, or why nothing was written."""
        path, self._path, self.preview = self._path, None, []
        if path is None:
            return None, None
        try:
            closed = path.closed_path()
            changed = session.write_selection(lambda mask, key, bound: scissors_stamp(mask, closed, key, bound),
                                              value, scope)
        except ValueError as problem:
            return None, str(problem)
        return changed, None

    def cancel(self) -> None:
        self._path, self.preview = None, []

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
