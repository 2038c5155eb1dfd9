"""A mask region as an editable polygon outline, and back to pixels.

:func:`outline_of` turns a boolean region into one :class:`EditableOutline` per 8-connected component: an
exterior ring and its holes, as float ``(x, y)`` vertices in image pixel coordinates (pixel ``mask[r, c]`` is
the unit square centred on ``(x=c, y=r)``, as in :mod:`segstudio.core.editing`). :func:`outline_pixels` and
:func:`outline_stamp` rasterise an outline back by the rule every polygon in segstudio uses (a pixel is inside
when its centre is, even-odd; :mod:`segstudio.core.polygon_raster`).

The round trip is exact at ``tolerance=0``. The rings are traced along pixel *edges* (vertices on half-integer
corners), not through boundary pixel centres as ``cv2.findContours`` does: a centre-chain contour runs through
the centres of its own boundary pixels and cuts diagonal steps, so a centre-inside raster loses or gains pixels.
An edge ring is the union of the region's pixel squares' boundary, every pixel centre lies a half pixel from it,
and the even-odd fill of those unit edges is the region itself, whatever order they are linked in. With
``tolerance > 0`` the rings are simplified by Douglas-Peucker and :func:`round_trip_difference` says how many
pixels writing them back would add and remove.

Rings of a component: where two region pixels touch only at a corner the trace keeps them in one ring (the
8-connected convention), so the exterior may touch itself at such a corner and a hole may touch the exterior
there; the even-odd fill does not care. Holes are the 4-connected gaps the component encloses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import shapely

from segstudio.core.connected_region import connected_at
from segstudio.core.editing import polygon_stamp
from segstudio.core.geometry import EMPTY_RECT, Rect, check_point
from segstudio.core.paint_scope import PaintScope
from segstudio.core.polygon_raster import polygon_rings, rasterize_even_odd
from segstudio.core.stamp import Stamp

Point = tuple[float, float]

# Edge directions in image coordinates (y down). The codes go clockwise on screen, so a right turn is +1.
_EAST, _SOUTH, _WEST, _NORTH = 0, 1, 2, 3


def _ring_array(ring: object, name: str) -> np.ndarray:
    """``ring`` as a read-only float64 (N, 2) array; ValueError unless it is a proper polygon ring."""
    try:
        (checked,) = polygon_rings(np.asarray(ring, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None
    checked = checked.copy()
    checked.setflags(write=False)
    return checked


def _check_point(point: Point, name: str = "point") -> np.ndarray:
    return np.array(check_point(point, name))


@dataclass(frozen=True, eq=False)
class EditableOutline:
    """One connected region as polygon rings: ``exterior`` and ``holes``, float (x, y) vertices in image pixel
    coordinates (pixel centres on integers), each ring closed implicitly (no repeated first vertex).

    Rings are addressed by number: 0 is the exterior, ``1 + k`` is ``holes[k]``. ``value`` is the class the
    outline stands for and ``source`` the bounding rectangle of the pixels it was traced from (image
    coordinates). Every edit returns a new outline; every ring keeps at least 3 vertices not all on one line.
    """

    exterior: np.ndarray
    holes: tuple[np.ndarray, ...]
    value: int
    source: Rect

    def __post_init__(self) -> None:
        object.__setattr__(self, "exterior", _ring_array(self.exterior, "the exterior ring"))
        object.__setattr__(self, "holes", tuple(_ring_array(hole, f"hole {number}")
                                                for number, hole in enumerate(self.holes)))
        if isinstance(self.value, (bool, np.bool_)) or not isinstance(self.value, (int, np.integer)) or self.value < 0:
            raise ValueError(f"an outline's value is a class index >= 0, got {self.value!r}")

    @property
    def rings(self) -> tuple[np.ndarray, ...]:
        """The exterior then the holes: what ring numbers index."""
        return (self.exterior, *self.holes)

    @property
    def vertex_count(self) -> int:
        return sum(len(ring) for ring in self.rings)

    def to_shapely(self) -> shapely.Polygon:
        """A shapely polygon with these rings (not validated: an exact outline may touch itself at a corner)."""
        return shapely.Polygon(self.exterior, list(self.holes))

    def _ring(self, ring: int) -> np.ndarray:
        if not 0 <= ring < len(self.holes) + 1:
            raise IndexError(f"ring {ring} does not exist; this outline has rings 0..{len(self.holes)}")
        return self.rings[ring]

    def _with_ring(self, ring: int, vertices: np.ndarray) -> EditableOutline:
        rings = list(self.rings)
        rings[ring] = vertices
        return EditableOutline(rings[0], tuple(rings[1:]), self.value, self.source)

    @staticmethod
    def _vertex_index(vertices: np.ndarray, index: int) -> int:
        if not -len(vertices) <= index < len(vertices):
            raise IndexError(f"vertex {index} does not exist; the ring has {len(vertices)} vertices")
        return index % len(vertices)

    def moved(self, ring: int, index: int, point: Point) -> EditableOutline:
        """This outline with vertex ``index`` of ``ring`` at ``point``. ValueError if that makes the ring
        degenerate (all its vertices on one line)."""
        vertices = self._ring(ring).copy()
        vertices[self._vertex_index(vertices, index)] = _check_point(point)
        return self._with_ring(ring, vertices)

    def with_vertex_inserted(self, ring: int, after_index: int, point: Point) -> EditableOutline:
        """This outline with ``point`` inserted into ``ring`` right after vertex ``after_index``, i.e. on the
        edge from ``after_index`` to the next vertex (the last vertex's edge closes the ring)."""
        vertices = self._ring(ring)
        position = self._vertex_index(vertices, after_index) + 1
        return self._with_ring(ring, np.insert(vertices, position, _check_point(point), axis=0))

    def without_vertex(self, ring: int, index: int) -> EditableOutline:
        """This outline without vertex ``index`` of ``ring``. ValueError when the ring has only 3 vertices or the
        rest would lie on one line."""
        vertices = self._ring(ring)
        position = self._vertex_index(vertices, index)
        if len(vertices) <= 3:
            raise ValueError(f"ring {ring} has {len(vertices)} vertices; a ring keeps at least 3")
        return self._with_ring(ring, np.delete(vertices, position, axis=0))

    def nearest_vertex(self, point: Point) -> tuple[int, int, float]:
        """``(ring, index, distance)`` of the vertex closest to ``point`` (the first one on ties)."""
        target = _check_point(point)
        best = (0, 0, math.inf)
        for number, vertices in enumerate(self.rings):
            distances = np.hypot(*(vertices - target).T)
            index = int(np.argmin(distances))
            if distances[index] < best[2]:
                best = (number, index, float(distances[index]))
        return best

    def nearest_edge(self, point: Point) -> tuple[int, int, float, Point]:
        """``(ring, after_index, distance, foot)`` of the edge closest to ``point``: the edge runs from vertex
        ``after_index`` to the next one, ``foot`` is the closest point on it (where
        :meth:`with_vertex_inserted` ``(ring, after_index, foot)`` would put a new vertex)."""
        target = _check_point(point)
        best: tuple[int, int, float, Point] = (0, 0, math.inf, (math.nan, math.nan))
        for number, starts in enumerate(self.rings):
            steps = np.roll(starts, -1, axis=0) - starts
            lengths = np.einsum("ij,ij->i", steps, steps)
            along = np.einsum("ij,ij->i", target - starts, steps) / np.where(lengths > 0, lengths, 1.0)
            feet = starts + np.clip(along, 0.0, 1.0)[:, None] * steps
            distances = np.hypot(*(feet - target).T)
            index = int(np.argmin(distances))
            if distances[index] < best[2]:
                best = (number, index, float(distances[index]), (float(feet[index, 0]), float(feet[index, 1])))
        return best


# -- region -> outlines ---------------------------------------------------------------------------------------


def _region_rect(region: np.ndarray, rect: Rect | None) -> Rect:
    if not isinstance(region, np.ndarray) or region.ndim != 2 or region.dtype != np.bool_:
        raise ValueError(f"a region is a 2-D bool array, got {type(region).__name__} "
                         f"{getattr(region, 'dtype', '')} with shape {np.shape(region)}")
    if rect is None:
        return Rect.full(region.shape)
    if region.shape != (rect.height, rect.width):
        raise ValueError(f"the region has shape {region.shape} but its rectangle {rect} needs "
                         f"{(rect.height, rect.width)}")
    return rect


def _edge_rings(region: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """The region's boundary as rings of pixel-edge corners, each with the component label of the pixels it
    bounds. Corners are ``(x, y)`` in the region's coordinates; only the corners where the ring turns are kept."""
    height, width = region.shape
    padded = np.zeros((height + 2, width + 2), dtype=bool)
    padded[1:-1, 1:-1] = region
    # One directed unit edge per side between a region pixel and a pixel outside, walking clockwise around the
    # region on screen (region on the right). Corner (i, j) is the top-left corner of pixel (i, j).
    sides = (
        (_EAST, region & ~padded[:-2, 1:-1], (0, 0), (0, 1)),  # top side: (r, c) -> (r, c+1)
        (_SOUTH, region & ~padded[1:-1, 2:], (0, 1), (1, 1)),  # right side: (r, c+1) -> (r+1, c+1)
        (_WEST, region & ~padded[2:, 1:-1], (1, 1), (1, 0)),  # bottom side: (r+1, c+1) -> (r+1, c)
        (_NORTH, region & ~padded[1:-1, :-2], (1, 0), (0, 0)),  # left side: (r+1, c) -> (r, c)
    )
    corner_columns = width + 1
    directions, starts, ends, owners = [], [], [], []
    for direction, boundary, (start_dr, start_dc), (end_dr, end_dc) in sides:
        rows, cols = np.nonzero(boundary)
        directions.append(np.full(rows.size, direction, dtype=np.int64))
        starts.append((rows + start_dr) * corner_columns + cols + start_dc)
        ends.append((rows + end_dr) * corner_columns + cols + end_dc)
        owners.append(labels[rows, cols])
    direction = np.concatenate(directions)
    start, end, owner = np.concatenate(starts), np.concatenate(ends), np.concatenate(owners)
    outgoing = np.full(((height + 1) * corner_columns, 4), -1, dtype=np.int64)
    outgoing[start, direction] = np.arange(direction.size)
    # At a corner where two region pixels meet only diagonally, two edges leave; turning left (away from the
    # pixel just passed along) carries the ring on to the diagonal neighbour, so 8-connected pixels share one
    # ring. Everywhere else exactly one edge leaves and the order does not matter.
    following = outgoing[end, (direction + 3) % 4]
    for turn in (0, 1):
        missing = following < 0
        following[missing] = outgoing[end[missing], (direction[missing] + turn) % 4]
    if (following < 0).any():
        raise AssertionError("pixel-edge boundary is not closed")  # cannot happen: every corner balances

    successor = following.tolist()
    seen = np.zeros(direction.size, dtype=bool)
    rings = []
    for first in range(direction.size):
        if seen[first]:
            continue
        chain = [first]
        edge = successor[first]
        while edge != first:
            chain.append(edge)
            edge = successor[edge]
        chain_array = np.array(chain)
        seen[chain_array] = True
        turning = direction[chain_array] != np.roll(direction[chain_array], 1)
        corners = start[chain_array[turning]]
        xy = np.column_stack([corners % corner_columns, corners // corner_columns]).astype(np.float64) - 0.5
        rings.append((xy, int(owner[first])))
    return rings


def _signed_area(ring: np.ndarray) -> float:
    """Shoelace area; positive for rings clockwise on screen (y down), as exteriors are traced."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _simplified(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker to ``tolerance`` pixels; the exact ring when simplifying would leave no polygon (a ring a
    few pixels across), so small islands and holes are never lost."""
    if tolerance == 0.0:
        return ring
    # float32 holds half-integer coordinates exactly for any image size OpenCV handles.
    fewer = cv2.approxPolyDP(ring.astype(np.float32).reshape(-1, 1, 2), tolerance, True)[:, 0, :].astype(np.float64)
    try:
        polygon_rings(fewer)
    except ValueError:
        return ring
    return fewer


def outline_of(
    region: np.ndarray,
    *,
    tolerance: float,
    value: int = 1,
    rect: Rect | None = None,
) -> list[EditableOutline]:
    """One :class:`EditableOutline` per 8-connected component of ``region``, largest (most pixels) first.

    ``region`` is a 2-D bool array: the whole image, or the part of it at ``rect``. ``value`` is the class the
    outlines stand for. ``tolerance`` is the Douglas-Peucker distance in pixels; 0 keeps the exact pixel-edge
    outline, which :func:`outline_pixels` turns back into exactly the component's pixels. ValueError for a
    region without pixels, a negative or non-finite tolerance, or a region that is not 2-D bool.
    """
    frame = _region_rect(region, rect)
    try:
        tolerance = float(tolerance)
    except (TypeError, ValueError):
        raise ValueError(f"tolerance is a number of pixels, got {tolerance!r}") from None
    if not (math.isfinite(tolerance) and tolerance >= 0.0):
        raise ValueError(f"tolerance is a distance in pixels >= 0, got {tolerance}")
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        raise ValueError("the region has no pixels, so it has no outline")
    cols = np.flatnonzero(region.any(axis=0))
    # Work in the region's bounding box: the corner tables scale with the box, not the image.
    box = Rect(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    cropped = region[box.slices]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cropped.astype(np.uint8), connectivity=8)
    offset = np.array([frame.left + box.left, frame.top + box.top], dtype=np.float64)
    exteriors: dict[int, np.ndarray] = {}
    holes: dict[int, list[np.ndarray]] = {label: [] for label in range(1, count)}
    for ring, label in _edge_rings(cropped, labels):
        # The exact ring's orientation tells exterior from hole (simplification may flip a tiny ring's area);
        # simplify in the box's coordinates (small numbers), then move to the image.
        is_exterior = _signed_area(ring) > 0
        ring = _simplified(ring, tolerance) + offset
        if is_exterior:
            exteriors[label] = ring
        else:
            holes[label].append(ring)
    order = sorted(range(1, count), key=lambda label: -int(stats[label, cv2.CC_STAT_AREA]))
    outlines = []
    for label in order:
        x, y, w, h = (int(v) for v in stats[label, :4])
        source = Rect.from_xywh(x, y, w, h).translated(frame.top + box.top, frame.left + box.left)
        outlines.append(EditableOutline(exteriors[label], tuple(holes[label]), value, source))
    return outlines


def region_under(mask: np.ndarray, point: Point, *, within: Rect | None = None) -> tuple[Rect, np.ndarray, int] | None:
    """The 8-connected region of the class under ``point`` (nearest pixel centre) in the class mask ``mask``: its
    box, its pixels in the box (bool) and the class; None outside the image (or ``within``, the part looked at: a
    region crossing its edge is cut there)."""
    return connected_at(mask, _check_point(point), within=within)


def class_outlines(mask: np.ndarray, value: int, *, tolerance: float) -> list[EditableOutline]:
    """The outlines of every pixel of class ``value`` in a class-index mask (ValueError when there is none)."""
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"a mask is a 2-D array, got shape {np.shape(mask)}")
    return outline_of(mask == value, tolerance=tolerance, value=value)


# -- outlines -> pixels ---------------------------------------------------------------------------------------


def _pixel_box(rings: Sequence[np.ndarray]) -> Rect:
    """The pixels whose centres lie in the rings' bounding box (unclipped)."""
    points = np.concatenate(rings)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    left, top = math.ceil(x0), math.ceil(y0)
    return Rect(top, left, max(top, math.floor(y1) + 1), max(left, math.floor(x1) + 1))


def outline_pixels(outline: EditableOutline, shape: tuple[int, ...]) -> Stamp:
    """The pixels of an image of ``shape`` whose centres the outline encloses (even-odd: holes stay out), as a
    stamp of the outline's value. Its rectangle is the outline's box within the image (maybe looser than the
    set pixels; empty when the outline lies outside the image)."""
    rect = _pixel_box(outline.rings).clipped(shape)
    if rect.is_empty:
        return Stamp.empty(outline.value)
    return Stamp(rect, rasterize_even_odd(list(outline.rings), rect), outline.value)


def outline_stamp(mask: np.ndarray, outline: EditableOutline, scope: PaintScope = PaintScope()) -> Stamp:
    """What writing the outline into ``mask`` would change: :func:`~segstudio.core.editing.polygon_stamp` of its
    rings (holes kept out, the paint scope applied, pixels already of its value left out)."""
    return polygon_stamp(mask, outline.to_shapely(), outline.value, scope)


@dataclass(frozen=True, eq=False)
class OutlineDifference:
    """What writing outlines back would change about a region, in the pixels of ``rect`` (image coordinates):
    ``added`` are pixels the outlines cover outside the region, ``removed`` region pixels they leave out."""

    rect: Rect
    added: np.ndarray
    removed: np.ndarray

    @property
    def added_count(self) -> int:
        return int(np.count_nonzero(self.added))

    @property
    def removed_count(self) -> int:
        return int(np.count_nonzero(self.removed))

    @property
    def changed_count(self) -> int:
        """Pixels that would change: "the simplified outline differs from the region by N pixels"."""
        return self.added_count + self.removed_count


def round_trip_difference(
    region: np.ndarray,
    outlines: Iterable[EditableOutline],
    *,
    rect: Rect | None = None,
    shape: tuple[int, ...] | None = None,
) -> OutlineDifference:
    """Pixels that the union of ``outlines``, rasterised as :func:`outline_pixels` does, adds to and removes from
    ``region`` (a 2-D bool array covering ``rect`` of the image, the whole image when ``rect`` is None).

    ``shape`` is the image's shape (default: the region's own when ``rect`` is None); pixels outside it are never
    counted, since nothing is written there. Without a shape every pixel the outlines reach counts.
    """
    frame = _region_rect(region, rect)
    outlines = list(outlines)
    if shape is None and rect is None:
        shape = region.shape
    area = frame
    for outline in outlines:
        area = area.union(_pixel_box(outline.rings))
    if shape is not None:
        area = area.clipped(shape)
    inside = np.zeros((area.height, area.width), dtype=bool)
    visible = frame.intersection(area)
    if not visible.is_empty:
        inside[visible.relative_to(area).slices] = region[visible.relative_to(frame).slices]
    covered = np.zeros_like(inside)
    if not area.is_empty:
        for outline in outlines:
            covered |= rasterize_even_odd(list(outline.rings), area)
    if area.is_empty:
        area = EMPTY_RECT
    return OutlineDifference(area, covered & ~inside, inside & ~covered)


def _frames(mask_shape: tuple[int, ...], source: Rect, region: np.ndarray, outline: EditableOutline
            ) -> tuple[Rect, np.ndarray, np.ndarray]:
    """The box holding the region and the outline's pixels, and both as bool arrays of that box."""
    new = outline_pixels(outline, mask_shape)
    box = source.union(new.rect)
    inside = np.zeros((box.height, box.width), dtype=bool)
    inside[new.rect.top - box.top:new.rect.bottom - box.top, new.rect.left - box.left:new.rect.right - box.left] = new.pixels
    before = np.zeros_like(inside)
    before[source.top - box.top:source.bottom - box.top, source.left - box.left:source.right - box.left] = region
    return box, before, inside


def outline_covers(outline: EditableOutline, source: Rect, region: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether the outline still encloses every pixel of the region it was traced from (writing it back then
    needs no value for pixels it gave up)."""
    _, before, inside = _frames(shape, source, region, outline)
    return not (before & ~inside).any()


def written_back(mask: np.ndarray, source: Rect, region: np.ndarray, outline: EditableOutline, *,
                 erase_value: int | None) -> tuple[Rect, np.ndarray]:
    """What writing an edited outline back over the region it was traced from (``region``: its pixels in the box
    ``source``) writes: a box and its new values. Pixels the outline encloses take its class; pixels of the region
    it no longer encloses take ``erase_value`` (the unlabelled value, else the background), the rest stays."""
    box, before, inside = _frames(mask.shape, source, region, outline)
    values = np.array(mask[box.slices], copy=True)
    given_up = before & ~inside
    if given_up.any():
        if erase_value is None:
            raise ValueError("the outline gives up pixels of its region but there is no unlabelled or background "
                             "value to give them")
        values[given_up] = erase_value
    values[inside] = outline.value
    return box, values
