"""Editing operations: what a brush dab, a flood fill or a polygon would change, computed without writing.

Each operation reads a class-index mask and returns a :class:`Stamp`: a rectangle, the pixels inside it that
get a value, and that value. Only :class:`segstudio.core.document.MaskDocument` writes pixels; keeping the
operations pure lets the document record undo, notify views and metrics, and lets tools preview a stamp
before committing it.

Coordinates are ``(x, y)`` floats with pixel centres at integer coordinates: pixel ``mask[r, c]`` is the
unit square centred on ``(x=c, y=r)``. A shape covers a pixel when it covers the pixel's centre, the same
rule for the brush, the eraser and polygons, so a polygon traced around a brush stroke lands on the same
pixels.

The :class:`PaintScope` is applied inside every operation: pixels it protects are never in the stamp.
Pixels that already hold the stamp's value are left out too, so ``stamp.is_empty`` means "changes nothing".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
import cv2
import numpy as np
import shapely

from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.labels import erase_value_for, free_values_for

Point = tuple[float, float]
PolygonLike = Sequence[Point] | np.ndarray | shapely.Polygon | shapely.MultiPolygon

MASK_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
_LIMITS = {dtype: int(np.iinfo(dtype).max) for dtype in MASK_DTYPES}  # np.iinfo per dab is measurable


class Connectivity(IntEnum):
    """Which neighbours a flood fill steps to: edge neighbours only, or edges and corners."""

    FOUR = 4
    EIGHT = 8


@dataclass(frozen=True, slots=True)
class PaintScope:
    """Which existing pixels an edit may overwrite.

    ``only_over``: paint only where the current value is this class (e.g. "recolour class 3 only").
    ``keep_other_classes``: never overwrite a class someone annotated; only the *free* values may be painted
    over: ``background`` (the "nothing there" class, None when the label set has none, as in CamVid) and
    ``unlabelled`` (the ignore id, None when there is none). So painting class 2 fills gaps around class 5
    without eating into it, and on CamVid fills Unlabelled without eating into Sky (class 0).

    The defaults (background 0, no unlabelled value) suit a bare mask; an
    :class:`~segstudio.core.session.ImageSession` replaces both with its label set's values, so tools need not
    know them.
    """

    only_over: int | None = None
    keep_other_classes: bool = False
    background: int | None = 0
    unlabelled: int | None = None

    def __post_init__(self) -> None:
        if self.background is not None and self.background < 0:
            raise ValueError(f"background must be a class index >= 0 or None, got {self.background}")
        if self.unlabelled is not None and self.unlabelled < 0:
            raise ValueError(f"unlabelled must be a mask value >= 0 or None, got {self.unlabelled}")
        if self.only_over is not None and self.only_over < 0:
            raise ValueError(f"only_over must be a class index >= 0 or None, got {self.only_over}")

    @property
    def free_values(self) -> tuple[int, ...]:
        """What ``keep_other_classes`` lets an edit overwrite (:func:`~segstudio.core.labels.free_values_for`)."""
        return free_values_for(self.unlabelled, self.background)

    def writable(self, current: np.ndarray, value: int) -> np.ndarray:
        """Bool array: where ``current`` may become ``value`` under this scope and would actually change."""
        allowed = current != value
        if self.only_over is not None:
            allowed &= current == self.only_over
        if self.keep_other_classes:
            free = np.zeros_like(allowed)  # no free values (no background, no ignore id): every pixel is kept
            for kept in self.free_values:
                free |= current == kept
            allowed &= free  # current == value is already excluded above
        return allowed

    def allows(self, current: int, value: int) -> bool:
        """The scalar form of :meth:`writable`, for regions known to hold a single value."""
        if current == value:
            return False
        if self.only_over is not None and current != self.only_over:
            return False
        return not (self.keep_other_classes and current not in self.free_values)


@dataclass(frozen=True, eq=False)
class Stamp:
    """What an edit would write: ``value`` into the pixels of ``rect`` where ``pixels`` is True.

    ``rect`` lies inside the image it was computed for; it bounds the candidate shape and may be looser
    than the set pixels (see :meth:`trimmed`). ``pixels`` has the shape of ``rect``.
    """

    rect: Rect
    pixels: np.ndarray
    value: int

    def __post_init__(self) -> None:
        if self.pixels.dtype != np.bool_ or self.pixels.ndim != 2:
            raise ValueError(f"stamp pixels must be a 2-D bool array, "
                             f"got {self.pixels.dtype} with {self.pixels.ndim} dims")
        if self.pixels.shape != (self.rect.height, self.rect.width):
            raise ValueError(f"stamp pixels have shape {self.pixels.shape} but the rectangle {self.rect} needs "
                             f"{(self.rect.height, self.rect.width)}")
        if self.value < 0:
            raise ValueError(f"a class value is >= 0, got {self.value}")

    @classmethod
    def empty(cls, value: int) -> Stamp:
        return cls(EMPTY_RECT, np.zeros((0, 0), dtype=bool), value)

    @property
    def is_empty(self) -> bool:
        """True when the stamp writes no pixel."""
        return self.rect.is_empty or not self.pixels.any()

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.pixels))

    def trimmed(self) -> Stamp:
        """The same stamp with ``rect`` shrunk to the bounding box of its set pixels."""
        rows = np.flatnonzero(self.pixels.any(axis=1))
        if rows.size == 0:
            return Stamp.empty(self.value)
        cols = np.flatnonzero(self.pixels.any(axis=0))
        top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        if (top, left, bottom, right) == (0, 0, self.rect.height, self.rect.width):
            return self
        inner = Rect(top, left, bottom, right)
        return replace(self, rect=inner.translated(self.rect.top, self.rect.left), pixels=self.pixels[inner.slices])


def check_mask(mask: np.ndarray) -> None:
    """Raise ValueError unless ``mask`` is a 2-D uint8 or uint16 class-index array."""
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"a mask is a 2-D class-index array, got {type(mask).__name__} with shape {np.shape(mask)}")
    if mask.dtype not in MASK_DTYPES:
        raise ValueError(f"a mask is uint8 (up to 255 classes) or uint16, got {mask.dtype}; convert it with "
                         f"mask.astype(np.uint8) or mask.astype(np.uint16)")


def check_value(value: int, dtype: np.dtype) -> int:
    """Return ``value`` as an int if it is a class index that a mask of ``dtype`` can hold; else ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"a class value is an integer, got {value!r}")
    limit = _LIMITS.get(dtype) or np.iinfo(dtype).max
    if not 0 <= value <= limit:
        hint = "; store the mask as uint16 for more than 255 classes" if np.dtype(dtype) == np.uint8 else ""
        raise ValueError(f"class value {value} does not fit a {np.dtype(dtype)} mask (0..{limit}){hint}")
    return int(value)


def _check_point(point: Point, name: str) -> tuple[float, float]:
    try:
        x, y = (float(c) for c in point)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (x, y) pair of numbers, got {point!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{name} must be finite, got {point!r}")
    return x, y


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
    ax, ay = _check_point(start, "start")
    bx, by = _check_point(end, "end")
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
    sx, sy = _check_point(seed, "seed")
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


def _rings(polygon: PolygonLike) -> list[np.ndarray]:
    """The polygon's rings as float64 (N, 2) arrays of (x, y); shells and holes alike (even-odd fill)."""
    if isinstance(polygon, (shapely.Polygon, shapely.MultiPolygon)):
        if polygon.is_empty or polygon.area == 0.0:
            raise ValueError("polygon is empty or has zero area")
        parts = polygon.geoms if isinstance(polygon, shapely.MultiPolygon) else [polygon]
        return [np.asarray(ring.coords, dtype=np.float64)[:-1, :2]
                for part in parts for ring in (part.exterior, *part.interiors)]
    if isinstance(polygon, shapely.Geometry):
        raise ValueError(f"polygon_stamp takes a Polygon or MultiPolygon, got a {polygon.geom_type}")
    try:
        vertices = np.asarray(polygon, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("polygon vertices must be a sequence of (x, y) pairs") from None
    if vertices.ndim != 2 or vertices.shape[1] != 2:
        raise ValueError(f"polygon vertices must be a sequence of (x, y) pairs, got shape {vertices.shape}")
    if len(vertices) < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {len(vertices)}")
    if not np.isfinite(vertices).all():
        raise ValueError("polygon vertices must be finite")
    # Degenerate = every vertex on one line. (A zero signed area alone would also reject a bow tie.)
    rel = vertices - vertices[0]
    far = rel[np.argmax(np.einsum("ij,ij->i", rel, rel))]
    scale = float(far @ far)
    cross = rel[:, 0] * far[1] - rel[:, 1] * far[0]
    if scale == 0.0 or np.abs(cross).max() <= 1e-9 * scale:
        raise ValueError("polygon is degenerate: its vertices lie on one line")
    return [vertices]


def _rasterize(rings: list[np.ndarray], rect: Rect) -> np.ndarray:
    """Even-odd scanline fill of ``rings`` sampled at the pixel centres of ``rect``.

    Each edge crosses the rows ``y`` with ``min(ya, yb) <= y < max(ya, yb)`` (half-open, so a vertex on a
    row counts once); a centre is inside when an odd number of crossings lie at or left of it. Cost is the
    number of crossings plus the box.
    """
    height, width = rect.height, rect.width
    starts = np.concatenate(rings)
    ends = np.concatenate([np.roll(ring, -1, axis=0) for ring in rings])
    xa, ya, xb, yb = starts[:, 0], starts[:, 1], ends[:, 0], ends[:, 1]
    keep = ya != yb  # horizontal edges cross no row
    xa, ya, xb, yb = xa[keep], ya[keep], xb[keep], yb[keep]
    ylo, yhi = np.minimum(ya, yb), np.maximum(ya, yb)
    first = np.maximum(np.ceil(ylo), rect.top).astype(np.int64)
    stop = np.minimum(np.ceil(yhi), rect.bottom).astype(np.int64)  # exclusive
    counts = np.maximum(stop - first, 0)
    total = int(counts.sum())
    pixels = np.zeros((height, width), dtype=bool)
    if total == 0:
        return pixels
    edge = np.repeat(np.arange(len(counts)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = first[edge] + offsets
    # The fraction along the edge, clipped: an almost horizontal edge (a subnormal dy) would otherwise give an
    # infinite slope and 0 * inf = NaN crossings.
    with np.errstate(over="ignore", divide="ignore"):
        along = np.clip((rows - ya[edge]) / (yb - ya)[edge], 0.0, 1.0)
    xs = xa[edge] + along * (xb - xa)[edge]
    order = np.lexsort((xs, rows))
    rows, xs = rows[order] - rect.top, xs[order]
    # Crossings pair up within each row (every closed ring crosses a row an even number of times).
    span_start = np.clip(np.ceil(xs[0::2]) - rect.left, 0, width).astype(np.int64)
    span_stop = np.clip(np.ceil(xs[1::2]) - rect.left, 0, width).astype(np.int64)
    span_row = rows[0::2]
    # +1 at each span's start, -1 at its stop, then a running sum along the row.
    stride = width + 1
    marks = np.bincount(span_row * stride + span_start, minlength=height * stride)
    marks -= np.bincount(span_row * stride + span_stop, minlength=height * stride)
    np.cumsum(marks.reshape(height, stride), axis=1, out=marks.reshape(height, stride))
    return marks.reshape(height, stride)[:, :width] > 0


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
    rings = _rings(polygon)
    points = np.concatenate(rings)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    rect = _box(mask.shape, x0, y0, x1, y1)
    if rect.is_empty:
        return Stamp.empty(value)
    pixels = _rasterize(rings, rect)
    pixels &= scope.writable(mask[rect.slices], value)
    return Stamp(rect, pixels, value)
