"""Editable outlines of mask regions (segstudio.core.outlines), on CamVid, Penn-Fudan and ISBI 2012 masks."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import shapely

from segstudio.core.geometry import Rect
from segstudio.core.labels import LabelSet
from segstudio.core.outlines import (
    EditableOutline,
    class_outlines,
    outline_of,
    outline_pixels,
    outline_stamp,
    round_trip_difference,
)
from segstudio.core.polygon_raster import rasterize_even_odd
from segstudio.core.value_map import ValueMap
from segstudio.io.mask_files import read_class_mask, read_instance_mask

CAMVID_MASK = ("camvid", "valannot", "0016E5_07959.png")
PENNFUDAN_MASKS = ("FudanPed00025_mask.png", "FudanPed00058_mask.png")  # 6 and 8 people
ISBI_MASK = ("isbi2012", "train", "masks", "0.png")


def _camvid(shared: Path) -> np.ndarray:
    return read_class_mask(shared.joinpath(*CAMVID_MASK), LabelSet.camvid())


def _isbi(shared: Path) -> np.ndarray:
    return read_class_mask(shared.joinpath(*ISBI_MASK), LabelSet.with_count(2), value_map=ValueMap.binary())


def _people(shared: Path, name: str) -> np.ndarray:
    return np.asarray(read_instance_mask(shared / "pennfudan" / "PedMasks" / name).ids)


def _painted(outline: EditableOutline, shape: tuple[int, int]) -> np.ndarray:
    image = np.zeros(shape, dtype=bool)
    stamp = outline_pixels(outline, shape)
    image[stamp.rect.slices] |= stamp.pixels
    return image


def _enclosed_gaps(region: np.ndarray) -> int:
    """4-connected parts of the complement that do not reach the image border: the holes of an 8-connected
    region, counted without any contour tracing."""
    count, labels = cv2.connectedComponents((~region).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return count - 1 - int(np.count_nonzero(border))


def _assert_exact(region: np.ndarray, outlines: list[EditableOutline], value: int) -> None:
    """Each outline paints exactly one 8-connected component, holes as the complement's enclosed parts."""
    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    assert len(outlines) == count - 1
    assert sum(len(outline.holes) for outline in outlines) == _enclosed_gaps(region)
    union = np.zeros(region.shape, dtype=bool)
    for outline in outlines:
        assert outline.value == value
        painted = _painted(outline, region.shape)
        component = labels == labels[np.nonzero(painted)[0][0], np.nonzero(painted)[1][0]]
        np.testing.assert_array_equal(painted, component)
        rows, cols = np.nonzero(component)
        assert outline.source == Rect(rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
        for ring in outline.rings:  # pixel-edge corners only
            np.testing.assert_array_equal(ring % 1.0, 0.5)
        union |= painted
    np.testing.assert_array_equal(union, region)
    difference = round_trip_difference(region, outlines)
    assert (difference.added_count, difference.removed_count) == (0, 0)


# -- tolerance 0: bit-exact --------------------------------------------------------------------------------------


def test_every_camvid_class_round_trips_exactly(shared_data: Path) -> None:
    mask = _camvid(shared_data)
    classes = [int(v) for v in np.unique(mask)]
    assert len(classes) >= 8
    for value in classes:
        _assert_exact(mask == value, class_outlines(mask, value, tolerance=0), value)


def test_pixel_centre_contours_would_not_round_trip(shared_data: Path) -> None:
    """Why the outlines follow pixel edges: cv2.findContours' pixel-centre chains, filled by the same
    centre-inside rule, lose boundary pixels on this very mask."""
    mask = _camvid(shared_data)
    region = mask == int(np.bincount(mask.ravel()).argmax())
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    rings = [c[:, 0, :].astype(np.float64) for c in contours if len(c) >= 3]
    filled = rasterize_even_odd(rings, Rect.full(region.shape))
    assert np.count_nonzero(filled != region) > 100
    assert round_trip_difference(region, outline_of(region, tolerance=0)).changed_count == 0


@pytest.mark.parametrize("name", PENNFUDAN_MASKS)
def test_every_pennfudan_person_round_trips_exactly(shared_data: Path, name: str) -> None:
    ids = _people(shared_data, name)
    people = [int(v) for v in np.unique(ids) if v]
    assert len(people) >= 6
    for person in people:
        region = ids == person
        _assert_exact(region, outline_of(region, tolerance=0, value=person), person)


def test_a_region_given_by_its_rectangle_lands_in_image_coordinates(shared_data: Path) -> None:
    ids = _people(shared_data, PENNFUDAN_MASKS[0])
    region = ids == 1
    rows, cols = np.nonzero(region)
    rect = Rect(rows.min() - 3, cols.min() - 5, rows.max() + 2, cols.max() + 4)
    whole = outline_of(region, tolerance=0)
    cropped = outline_of(region[rect.slices], tolerance=0, rect=rect)
    assert [o.source for o in cropped] == [o.source for o in whole]
    for a, b in zip(whole, cropped, strict=True):
        np.testing.assert_array_equal(a.exterior, b.exterior)
    painted = np.zeros(region.shape, dtype=bool)
    for outline in cropped:
        painted |= _painted(outline, region.shape)
    np.testing.assert_array_equal(painted, region)
    assert round_trip_difference(region[rect.slices], cropped, rect=rect, shape=region.shape).changed_count == 0


def test_isbi_membranes_round_trip_with_their_holes(shared_data: Path) -> None:
    mask = _isbi(shared_data)
    membranes = mask == 0
    start = time.perf_counter()
    outlines = class_outlines(mask, 0, tolerance=0)
    elapsed = time.perf_counter() - start
    assert sum(len(o.holes) for o in outlines) >= 100  # the cells
    _assert_exact(membranes, outlines, 0)
    assert elapsed < 2.0


# -- tolerance > 0: fewer vertices, the difference said exactly ----------------------------------------------


def test_simplified_outlines_have_far_fewer_vertices_and_say_what_they_change(shared_data: Path) -> None:
    mask = _camvid(shared_data)
    exact_vertices = simplified_vertices = changed = 0
    for value in (int(v) for v in np.unique(mask)):
        region = mask == value
        exact_vertices += sum(o.vertex_count for o in class_outlines(mask, value, tolerance=0))
        outlines = class_outlines(mask, value, tolerance=1.5)
        simplified_vertices += sum(o.vertex_count for o in outlines)
        difference = round_trip_difference(region, outlines)
        # Independently: write the outlines into a mask through the editing operation and compare.
        canvas = np.full(mask.shape, 255 if value != 255 else 0, dtype=np.uint8)
        for outline in outlines:
            stamp = outline_stamp(canvas, outline)
            canvas[stamp.rect.slices][stamp.pixels] = value
        written = canvas == value
        assert difference.rect == Rect.full(mask.shape)
        np.testing.assert_array_equal(difference.added, written & ~region)
        np.testing.assert_array_equal(difference.removed, region & ~written)
        changed += difference.changed_count
    # Measured on this mask: 6,184 exact vertices -> 1,648 at 1.5 px (27%), 2,559 of 172,800 pixels changed.
    assert simplified_vertices < 0.35 * exact_vertices
    assert 0 < changed < 0.03 * mask.size


def test_simplifying_never_loses_a_small_island_or_hole() -> None:
    region = np.zeros((12, 12), dtype=bool)
    region[2:9, 2:9] = True
    region[5, 5] = False  # a one-pixel hole
    region[10, 10] = True  # a one-pixel island
    outlines = outline_of(region, tolerance=3.0)
    assert [len(o.holes) for o in outlines] == [1, 0]
    assert round_trip_difference(region, outlines).changed_count == 0


# -- vertex edits and hit testing ------------------------------------------------------------------------------


@pytest.fixture
def person(shared_data: Path) -> tuple[np.ndarray, EditableOutline]:
    ids = _people(shared_data, PENNFUDAN_MASKS[1])
    region = ids == 1
    (outline, *_) = outline_of(region, tolerance=1.5)
    assert len(outline.exterior) >= 20
    return region, outline


def _in_triangles(points: np.ndarray, triangles: list[np.ndarray]) -> np.ndarray:
    area = shapely.union_all([shapely.Polygon(t) for t in triangles]).buffer(1e-9)
    return shapely.contains_xy(area, points[:, 0], points[:, 1])


def test_moving_a_vertex_changes_only_pixels_between_its_old_and_new_edges(person) -> None:  # noqa: ANN001
    region, outline = person
    before = _painted(outline, region.shape)
    vertices = outline.exterior
    for index in range(0, len(vertices), max(1, len(vertices) // 7)):
        old = vertices[index]
        new = old + np.array([4.3, -3.1])
        moved = outline.moved(0, index, (float(new[0]), float(new[1])))
        np.testing.assert_array_equal(moved.exterior[index], new)
        after = _painted(moved, region.shape)
        rows, cols = np.nonzero(after != before)
        assert rows.size > 0
        previous, following = vertices[index - 1], vertices[(index + 1) % len(vertices)]
        changed = np.column_stack([cols, rows]).astype(np.float64)
        assert _in_triangles(changed, [np.array([previous, old, new]), np.array([old, following, new])]).all()


def test_inserting_a_midpoint_changes_nothing_and_deleting_then_reinserting_restores(person) -> None:  # noqa: ANN001
    region, outline = person
    before = _painted(outline, region.shape)
    for ring, vertices in enumerate(outline.rings):
        for index in (0, len(vertices) // 2, len(vertices) - 1):
            middle = (vertices[index] + vertices[(index + 1) % len(vertices)]) / 2
            inserted = outline.with_vertex_inserted(ring, index, (float(middle[0]), float(middle[1])))
            assert inserted.vertex_count == outline.vertex_count + 1
            np.testing.assert_array_equal(_painted(inserted, region.shape), before)
        index = len(vertices) // 2
        removed = outline.without_vertex(ring, index)
        assert len(removed.rings[ring]) == len(vertices) - 1
        point = vertices[index]
        restored = removed.with_vertex_inserted(ring, index - 1, (float(point[0]), float(point[1])))
        for a, b in zip(restored.rings, outline.rings, strict=True):
            np.testing.assert_array_equal(a, b)
    # The outline itself is never changed by an edit.
    assert outline.moved(0, 0, (0.0, 0.0)).exterior[0].tolist() == [0.0, 0.0]
    assert outline.exterior[0].tolist() != [0.0, 0.0]
    with pytest.raises(ValueError):
        outline.exterior[0, 0] = 1.0


def test_hit_testing_finds_the_nearest_vertex_and_edge(person) -> None:  # noqa: ANN001
    region, outline = person
    rng = np.random.default_rng(7)
    rings = outline.rings
    for x, y in rng.uniform([0, 0], [region.shape[1], region.shape[0]], size=(60, 2)):
        ring, index, distance = outline.nearest_vertex((x, y))
        brute = min((float(np.hypot(*(v - (x, y)))), r, i) for r, vs in enumerate(rings) for i, v in enumerate(vs))
        assert distance == pytest.approx(brute[0])
        assert np.hypot(*(rings[ring][index] - (x, y))) == pytest.approx(distance)
        ring, after, distance, foot = outline.nearest_edge((x, y))
        edges = [(shapely.LineString([vs[i], vs[(i + 1) % len(vs)]]).distance(shapely.Point(x, y)), r, i)
                 for r, vs in enumerate(rings) for i in range(len(vs))]
        assert distance == pytest.approx(min(edges)[0])
        segment = shapely.LineString([rings[ring][after], rings[ring][(after + 1) % len(rings[ring])]])
        assert segment.distance(shapely.Point(foot)) == pytest.approx(0.0, abs=1e-9)
        assert np.hypot(foot[0] - x, foot[1] - y) == pytest.approx(distance)
    # A click right next to a vertex picks that vertex.
    target = rings[0][5]
    assert outline.nearest_vertex((target[0] + 0.2, target[1] - 0.1))[:2] == (0, 5)


def test_moving_a_vertex_off_the_image_clips_the_stamp(person) -> None:  # noqa: ANN001
    region, outline = person
    moved = outline.moved(0, 0, (-50.0, -40.0))
    stamp = outline_pixels(moved, region.shape)
    assert stamp.rect.top == 0 and stamp.rect.left == 0
    assert stamp.rect.bottom <= region.shape[0] and stamp.rect.right <= region.shape[1]
    difference = round_trip_difference(region, [moved])
    assert difference.added_count > 0 and difference.rect.clipped(region.shape) == difference.rect


# -- errors ----------------------------------------------------------------------------------------------------


def test_errors_are_clear() -> None:
    region = np.zeros((5, 5), dtype=bool)
    with pytest.raises(ValueError, match="no pixels"):
        outline_of(region, tolerance=0)
    region[1:3, 1:4] = True
    with pytest.raises(ValueError, match=">= 0"):
        outline_of(region, tolerance=-0.5)
    with pytest.raises(ValueError, match=">= 0"):
        outline_of(region, tolerance=float("nan"))
    with pytest.raises(ValueError, match="bool"):
        outline_of(region.astype(np.uint8), tolerance=0)
    with pytest.raises(ValueError, match="rectangle"):
        outline_of(region, tolerance=0, rect=Rect(0, 0, 4, 4))
    (outline,) = outline_of(region, tolerance=0)
    assert len(outline.exterior) == 4
    triangle = outline.without_vertex(0, 3)
    with pytest.raises(ValueError, match="at least 3"):
        triangle.without_vertex(0, 0)
    middle = (triangle.exterior[0] + triangle.exterior[2]) / 2
    with pytest.raises(ValueError, match="one line"):  # the three corners would lie on one line
        triangle.moved(0, 1, (float(middle[0]), float(middle[1])))
    with pytest.raises(ValueError, match="one line"):
        EditableOutline(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), (), 1, Rect(0, 0, 3, 3))
    with pytest.raises(ValueError, match="finite"):
        outline.moved(0, 0, (float("inf"), 0.0))
    with pytest.raises(IndexError):
        outline.moved(1, 0, (0.0, 0.0))
    with pytest.raises(IndexError):
        outline.with_vertex_inserted(0, 4, (0.0, 0.0))


def test_region_under_within_a_window_is_cut_there(shared_data) -> None:  # noqa: ANN001
    # A huge image: the outline tool traces only around the click; the region is the one of the window.
    from segstudio.core.outlines import region_under

    mask = read_class_mask(sorted((shared_data / "camvid" / "valannot").glob("*.png"))[0], LabelSet.camvid())
    point = (mask.shape[1] / 2, mask.shape[0] * 0.8)  # the road, which runs across the whole image
    whole = region_under(mask, point)
    window = Rect(int(point[1]) - 40, int(point[0]) - 60, int(point[1]) + 40, int(point[0]) + 60)
    cut = region_under(mask, point, within=window)
    assert whole is not None and cut is not None and cut[2] == whole[2]
    rect, pixels, _ = cut
    assert window.top <= rect.top and rect.bottom <= window.bottom and window.left <= rect.left and rect.right <= window.right
    full = np.zeros(mask.shape, dtype=bool)
    full[whole[0].slices] = whole[1]
    assert np.array_equal(pixels, full[rect.slices] & _connected_in(full, rect, window, point))
    assert region_under(mask, (0.0, 0.0), within=window) is None


def _connected_in(full: np.ndarray, rect, window, point) -> np.ndarray:  # noqa: ANN001
    part = full[window.slices].astype(np.uint8)
    _, labels = cv2.connectedComponents(part, connectivity=8)
    label = labels[int(round(point[1])) - window.top, int(round(point[0])) - window.left]
    inside = labels == label
    return inside[rect.top - window.top:rect.bottom - window.top, rect.left - window.left:rect.right - window.left]
