"""Editing operations: what a brush or eraser dab, a flood fill or a polygon would change, computed without writing.

Each operation reads a class-index mask and returns a :class:`~segstudio.core.stamp.Stamp`: a rectangle, the pixels
inside it that get a value, and that value. Only :class:`segstudio.core.document.MaskDocument` writes pixels; keeping
the operations pure lets the document record undo, notify views and metrics, and lets tools preview a stamp
before committing it.

Coordinates are ``(x, y)`` floats with pixel centres at integer coordinates: pixel ``mask[r, c]`` is the
unit square centred on ``(x=c, y=r)``. A shape covers a pixel when it covers the pixel's centre, the same
rule for the brush, the eraser and polygons (rasterized by :mod:`segstudio.core.polygon_raster`), so a polygon
traced around a brush stroke lands on the same pixels.

The :class:`~segstudio.core.paint_scope.PaintScope` is applied inside every operation: pixels it protects are never
in the stamp. Pixels that already hold the stamp's value are left out too, so ``stamp.is_empty`` means "changes
nothing".
"""

from __future__ import annotations

import math
from dataclasses import replace
from enum import IntEnum

import cv2
import numpy as np

from segstudio.core.geometry import EMPTY_RECT, Rect, check_point
from segstudio.core.labels import erase_value_for
from segstudio.core.paint_scope import PaintScope
from segstudio.core.polygon_raster import PolygonLike, polygon_rings, rasterize_even_odd
from segstudio.core.stamp import Stamp, check_mask, check_value

Point = tuple[float, float]


class Connectivity(IntEnum):
    """Which neighbours a flood fill steps to: edge neighbours only, or edges and corners."""

    FOUR = 4
    EIGHT = 8


def _box(shape: tuple[int, ...], x0: float, y0: float, x1: float, y1: float) -> Rect:
    """Pixels whose centres lie in the closed box ``[x0, x1] x [y0, y1]``, clipped to the image."""
    height, width = shape[:2]
    left = max(0, min(width, math.ceil(x0)))
    right = max(0, min(width, math.floor(x1) + 1))
    top = max(0, min(height, math.ceil(y0)))
    bottom = max(0, min(height, math.floor(y1) + 1))
    if right <= left or bottom <= top:
        return EMPTY_RECT
    return Rect(top, left, bottom, right)


def brush_stamp(
    mask: np.ndarray,
    start: Point,
    end: Point,
    radius: float,
    value: int,
    scope: PaintScope = PaintScope(),
) -> Stamp:
    """A round brush of ``radius`` swept from ``start`` to ``end``: every pixel whose centre lies within
    ``radius`` of the segment (a capsule), so two fast mouse samples far apart still leave no gap.

    ``start == end`` is a single dab; radius 0.5 on a pixel centre paints that one pixel. Points may lie
    outside the image; the stamp is clipped to it. Cost is proportional to the capsule's bounding box.
    """
    check_mask(mask)
    value = check_value(value, mask.dtype)
    ax, ay = check_point(start, "start")
    bx, by = check_point(end, "end")
    try:
        radius = float(radius)
    except (TypeError, ValueError):
        raise ValueError(f"brush radius must be a number of pixels, got {radius!r}") from None
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"brush radius must be a positive number of pixels, got {radius}")

    rect = _box(mask.shape, min(ax, bx) - radius, min(ay, by) - radius, max(ax, bx) + radius, max(ay, by) + radius)
    if rect.is_empty:
        return Stamp.empty(value)
    # Offsets from the start point, as a row and a column that broadcast to the box.
    px = np.arange(rect.left, rect.right, dtype=np.float64)[None, :] - ax
    py = np.arange(rect.top, rect.bottom, dtype=np.float64)[:, None] - ay
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        dist2 = px * px + py * py
    else:
        # Project each centre onto the segment, clamp to its ends, measure to the closest point.
        t = (px * dx + py * dy) / length2
        np.clip(t, 0.0, 1.0, out=t)
        ex = px - t * dx
        ey = py - t * dy
        dist2 = ex * ex + ey * ey
    pixels = dist2 <= radius * radius
    pixels &= scope.writable(mask[rect.slices], value)
    return Stamp(rect, pixels, value)


def eraser_stamp(
    mask: np.ndarray,
    start: Point,
    end: Point,
    radius: float,
    scope: PaintScope = PaintScope(),
    value: int | None = None,
) -> Stamp:
    """The brush painting ``value``: what the label set means by "nothing" (its ignore id, else its background
    class; :attr:`~segstudio.core.labels.LabelSet.erase_value`). An :class:`~segstudio.core.session.ImageSession`
    passes it. Without ``value`` the scope's own values decide by the same rule
    (:func:`~segstudio.core.labels.erase_value_for`): ``scope.unlabelled``, else ``scope.background``; with
    neither there is nothing to write and this raises ValueError rather than guess a class.

    ``keep_other_classes`` is ignored here: taken literally it would protect every class from the eraser
    and turn it into a no-op whenever that toggle is on. To erase one class only, set ``scope.only_over``
    (napari's preserve-labels eraser does the same with its selected label).
    """
    if value is None:
        value = erase_value_for(scope.unlabelled, scope.background)
        if value is None:
            raise ValueError("the eraser has nothing to write: the scope has no unlabelled value and no background")
    eraser_scope = replace(scope, keep_other_classes=False)
    return brush_stamp(mask, start, end, radius, value, eraser_scope)


def flood_fill_stamp(
    mask: np.ndarray,
    seed: Point,
    value: int,
    *,
    connectivity: int = Connectivity.FOUR,
    contiguous: bool = True,
    scope: PaintScope = PaintScope(),
) -> Stamp:
    """Fill the region of the seed pixel's class connected to the seed (4- or 8-connected), or, with
    ``contiguous=False``, every pixel of that class in the mask.

    ``seed`` is ``(x, y)``; it is rounded to the nearest pixel centre and must lie inside the image. The
    rectangle is the region's bounding box. Cost is one pass over the mask plus the region.
    """
    check_mask(mask)
    value = check_value(value, mask.dtype)
    try:
        connectivity = Connectivity(connectivity)
    except ValueError:
        raise ValueError(f"flood fill connectivity is 4 or 8, got {connectivity!r}") from None
    sx, sy = check_point(seed, "seed")
    col, row = math.floor(sx + 0.5), math.floor(sy + 0.5)
    height, width = mask.shape
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"flood fill seed {seed!r} lies outside the {width}x{height} image")

    target = int(mask[row, col])
    # The region holds a single value, so the scope accepts or rejects all of it at once.
    if not scope.allows(target, value):
        return Stamp.empty(value)

    # A fresh 0/1 image of "has the seed's class": cv2.floodFill cannot take a read-only array (the
    # document's mask is one) or uint16, and the binary image serves both dtypes with one compare.
    same = mask == target
    if not contiguous:
        stamp = Stamp(Rect.full(mask.shape), same, value).trimmed()
        return replace(stamp, pixels=np.ascontiguousarray(stamp.pixels))

    region = np.zeros((height + 2, width + 2), dtype=np.uint8)
    flags = int(connectivity) | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, (x, y, w, h) = cv2.floodFill(same.view(np.uint8), region, (col, row), 0, 0, 0, flags)
    rect = Rect.from_xywh(x, y, w, h)
    pixels = region[1:-1, 1:-1][rect.slices].astype(bool)  # a copy: the stamp need not pin the full region
    return Stamp(rect, pixels, value)


def polygon_stamp(
    mask: np.ndarray,
    polygon: PolygonLike,
    value: int,
    scope: PaintScope = PaintScope(),
) -> Stamp:
    """Fill a polygon: every pixel whose centre lies inside it.

    ``polygon`` is a sequence of ``(x, y)`` vertices (sub-pixel floats welcome; the closing edge is
    implied; self-intersections fill by the even-odd rule) or a shapely ``Polygon``/``MultiPolygon``,
    whose holes stay unfilled. Fewer than 3 vertices, collinear vertices or an empty/zero-area shapely
    geometry raise ValueError. Cost is the polygon's bounding box plus its boundary.
    """
    check_mask(mask)
    value = check_value(value, mask.dtype)
    rings = polygon_rings(polygon)
    points = np.concatenate(rings)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    rect = _box(mask.shape, x0, y0, x1, y1)
    if rect.is_empty:
        return Stamp.empty(value)
    pixels = rasterize_even_odd(rings, rect)
    pixels &= scope.writable(mask[rect.slices], value)
    return Stamp(rect, pixels, value)
