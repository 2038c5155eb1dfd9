"""The parts of one object's pixels: its connected pieces, and the pieces a dragged line cuts it into (the geometry
behind :meth:`~segstudio.core.instance_layer.InstanceLayer.split_components` and ``split_by_line``).

Each function returns ``(labels, areas)``: per pixel the part it belongs to (0 outside the object, 1..n a part) and
each part's pixel count, ``areas[k - 1]`` for part ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Point = tuple[float, float]
_SHIFT = 4  # lines are drawn with sub-pixel precision: coordinates in 1/16 pixel
_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.uint8)


def line_pixels(shape: tuple[int, int], line: Sequence[Point], *, width: int = 1,
                origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Bool mask of ``shape``: the pixels under the polyline ``line`` (image ``(x, y)`` points, ``origin`` the
    image position ``(top, left)`` of the mask's corner), ``width`` pixels thick."""
    drawn = np.zeros(shape, dtype=np.uint8)
    top, left = origin
    points = np.array([[x - left, y - top] for x, y in line], dtype=np.float64)
    cv2.polylines(drawn, [np.round(points * (1 << _SHIFT)).astype(np.int32)], False, 1,
                  thickness=max(1, int(width)), lineType=cv2.LINE_8, shift=_SHIFT)
    return drawn.astype(bool)


def connected_parts(pixels: np.ndarray, *, connectivity: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The connected pieces of ``pixels`` (bool)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(pixels.astype(np.uint8), connectivity=connectivity)
    return labels, stats[1:count, cv2.CC_STAT_AREA].astype(np.int64)


def parts_cut_by(pixels: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The pieces ``pixels`` falls into once the ``cut`` pixels are taken out (4-connected, so a one-pixel diagonal
    line separates), with the cut pixels then given back to a piece they touch, so no pixel is lost. None when the
    cut leaves one piece."""
    labels, areas = connected_parts(pixels & ~cut, connectivity=4)
    if len(areas) < 2:
        return None
    remaining = pixels & (labels == 0)
    while remaining.any():  # grow the pieces into the cut, one 4-neighbour ring at a time
        grown = cv2.dilate(labels.astype(np.float32), _CROSS).astype(labels.dtype)
        take = remaining & (grown > 0)
        if not take.any():
            break  # cut pixels touching no piece (a line over a one-pixel sliver) stay with the first part
        labels[take] = grown[take]
        remaining &= ~take
    labels[remaining] = 1
    return labels, np.bincount(labels[pixels].ravel(), minlength=len(areas) + 1)[1:].astype(np.int64)


__all__ = ["connected_parts", "line_pixels", "parts_cut_by"]
