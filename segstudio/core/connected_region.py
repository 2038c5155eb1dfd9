"""The connected region of equal values under a pixel (8-neighbours), the shared step of clicking a patch of a mask:
an error region (:mod:`segstudio.core.error_regions`), a class region to outline (:mod:`segstudio.core.outlines`).
``within`` bounds the work to the part of the image looked at (a region crossing its edge is cut there)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from segstudio.core.geometry import Rect, nearest_pixel


def connected_at(values: np.ndarray, point: Sequence[float], *, within: Rect | None = None,
                 accept: Callable[[int], bool] | None = None) -> tuple[Rect, np.ndarray, int] | None:
    """The region of ``values`` (2-D) connected to the pixel nearest ``point`` (``(x, y)``) holding its value: its
    box, its pixels in the box (bool) and the value. None outside the image (or ``within``), or when ``accept``
    refuses the value (checked before any work). Costs one pass over the part looked at plus the region."""
    row, col = nearest_pixel(point)
    frame = Rect.full(values.shape) if within is None else within
    if not (frame.top <= row < frame.bottom and frame.left <= col < frame.right):
        return None
    value = int(values[row, col])
    if accept is not None and not accept(value):
        return None
    part = values[frame.slices]
    same = (part == value).view(np.uint8).copy()
    height, width = part.shape
    fill = np.zeros((height + 2, width + 2), dtype=np.uint8)
    flags = 8 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, (x, y, w, h) = cv2.floodFill(same, fill, (col - frame.left, row - frame.top), 0, 0, 0, flags)
    rect = Rect.from_xywh(x, y, w, h)
    return rect.translated(frame.top, frame.left), fill[1:-1, 1:-1][rect.slices].astype(bool), value


__all__ = ["connected_at"]
