"""Polygon rasterization: a polygon's rings, and the pixel centres they enclose by the even-odd rule.

:func:`polygon_rings` takes what a user or a file gives as a polygon (a sequence of ``(x, y)`` vertices, a NumPy
array of them, or a shapely ``Polygon``/``MultiPolygon`` with holes), checks it and returns its rings;
:func:`rasterize_even_odd` fills them by scanlines through the pixel centres of a rectangle. Coordinates follow
:mod:`segstudio.core.editing`: pixel ``mask[r, c]`` is centred on ``(x=c, y=r)``, and a polygon covers a pixel
when it covers its centre. :func:`~segstudio.core.editing.polygon_stamp` is the editing operation built on these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from segstudio.core.geometry import Rect

PolygonLike = Sequence[tuple[float, float]] | np.ndarray | shapely.Polygon | shapely.MultiPolygon


def polygon_rings(polygon: PolygonLike) -> list[np.ndarray]:
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


def rasterize_even_odd(rings: list[np.ndarray], rect: Rect) -> np.ndarray:
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
