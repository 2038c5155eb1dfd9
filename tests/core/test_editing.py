"""Editing operations against direct computations and shapely/OpenCV, which we did not write."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.editing import Connectivity, brush_stamp, eraser_stamp, flood_fill_stamp, polygon_stamp
from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.paint_scope import PaintScope
from segstudio.core.polygon_raster import polygon_rings, rasterize_even_odd
from segstudio.core.stamp import Stamp


def full(stamp: Stamp, shape: tuple[int, int]) -> np.ndarray:
    """The stamp's pixels placed in an image-sized bool array."""
    out = np.zeros(shape, dtype=bool)
    out[stamp.rect.slices] = stamp.pixels
    return out


def capsule(shape: tuple[int, int], start: tuple[float, float], end: tuple[float, float], radius: float) -> np.ndarray:
    """Every pixel centre within ``radius`` of the segment, computed over the whole image, one pixel at a time
    in spirit (no box, no broadcasting tricks)."""
    ys, xs = np.indices(shape, dtype=np.float64)
    (ax, ay), (bx, by) = start, end
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.zeros(shape) if length2 == 0 else np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0, 1)
    return (xs - (ax + t * dx)) ** 2 + (ys - (ay + t * dy)) ** 2 <= radius * radius


# -- brush ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("centre", "radius"),
    [((20, 20), 0.5), ((20, 20), 1.0), ((20, 20), 5.0), ((20.3, 19.7), 7.25), ((20.5, 20.5), 3.0), ((10, 30), 12.0)],
)
def test_single_dab_matches_direct_distance_computation(centre, radius):
    mask = np.zeros((48, 50), dtype=np.uint8)
    stamp = brush_stamp(mask, centre, centre, radius, 1)
    expected = capsule(mask.shape, centre, centre, radius)
    assert stamp.count == int(expected.sum())
    np.testing.assert_array_equal(full(stamp, mask.shape), expected)


def test_radius_half_paints_exactly_one_pixel():
    mask = np.zeros((9, 9), dtype=np.uint8)
    stamp = brush_stamp(mask, (4, 6), (4, 6), 0.5, 3)
    assert stamp.count == 1
    assert full(stamp, mask.shape)[6, 4]
    assert stamp.value == 3


def test_fast_stroke_from_two_samples_leaves_no_gap():
    mask = np.zeros((120, 160), dtype=np.uint8)
    start, end, radius = (5.0, 8.0), (150.0, 110.0), 3.0
    stamp = brush_stamp(mask, start, end, radius, 1)
    painted = full(stamp, mask.shape)
    np.testing.assert_array_equal(painted, capsule(mask.shape, start, end, radius))
    # One 4-connected band...
    count, _ = cv2.connectedComponents(painted.view(np.uint8), connectivity=4)
    assert count == 2  # background + the band
    # ...of the right width: area of a capsule is 2 r L + pi r^2, up to pixelation along its rim.
    length = math.dist(start, end)
    area = 2 * radius * length + math.pi * radius**2
    assert abs(painted.sum() - area) / area < 0.05
    # Every row the segment crosses holds a run of about 2r / cos(angle) pixels.
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    widths = painted[20:100].sum(axis=1)
    assert np.all(np.abs(widths - 2 * radius / abs(math.sin(angle))) <= 2)


def test_stroke_covers_every_dab_along_its_path():
    mask = np.zeros((64, 64), dtype=np.uint8)
    start, end, radius = (3.0, 60.0), (61.0, 2.0), 4.0
    painted = full(brush_stamp(mask, start, end, radius, 1), mask.shape)
    for t in np.linspace(0, 1, 200):
        point = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        dab = full(brush_stamp(mask, point, point, radius, 1), mask.shape)
        assert not (dab & ~painted).any()


@pytest.mark.parametrize(("start", "end"), [((-3, -4), (-3, -4)), ((-10, 5), (70, 5)), ((30, 70), (30, 20))])
def test_brush_is_clipped_at_the_borders(start, end):
    mask = np.zeros((40, 50), dtype=np.uint8)
    stamp = brush_stamp(mask, start, end, 6.5, 2)
    assert stamp.rect == stamp.rect.clipped(mask.shape)
    np.testing.assert_array_equal(full(stamp, mask.shape), capsule(mask.shape, start, end, 6.5))


def test_brush_entirely_outside_is_empty():
    mask = np.zeros((10, 10), dtype=np.uint8)
    stamp = brush_stamp(mask, (-20, -20), (-15, 40), 3, 1)
    assert stamp.is_empty and stamp.rect == EMPTY_RECT


def test_brush_leaves_out_pixels_that_already_hold_the_value():
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[:, :10] = 4
    stamp = brush_stamp(mask, (10, 10), (10, 10), 5, 4)
    assert not full(stamp, mask.shape)[:, :10].any()
    assert full(stamp, mask.shape)[10, 10:15].all()


def test_scope_only_over():
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[:, 10:] = 2
    mask[:5] = 3
    stamp = brush_stamp(mask, (10, 10), (10, 10), 8, 1, PaintScope(only_over=2))
    painted = full(stamp, mask.shape)
    assert painted.any()
    assert (mask[painted] == 2).all()
    expected = capsule(mask.shape, (10, 10), (10, 10), 8) & (mask == 2)
    np.testing.assert_array_equal(painted, expected)


def test_scope_keep_other_classes():
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[:, 12:] = 5
    mask[:4, :] = 1
    stamp = brush_stamp(mask, (10, 10), (10, 10), 9, 1, PaintScope(keep_other_classes=True))
    painted = full(stamp, mask.shape)
    expected = capsule(mask.shape, (10, 10), (10, 10), 9) & (mask == 0)
    np.testing.assert_array_equal(painted, expected)


def test_scope_with_a_non_zero_background():
    mask = np.full((10, 10), 7, dtype=np.uint8)
    mask[:, 5:] = 2
    stamp = brush_stamp(mask, (5, 5), (5, 5), 4, 1, PaintScope(keep_other_classes=True, background=7))
    assert (mask[full(stamp, mask.shape)] == 7).all()


def test_eraser_writes_the_value_it_is_given_and_honours_only_over():
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[5:15, 5:10] = 1
    mask[5:15, 10:15] = 2
    stamp = eraser_stamp(mask, (10, 10), (10, 10), 4)
    assert stamp.value == 0  # a bare scope: background 0, no unlabelled value
    np.testing.assert_array_equal(full(stamp, mask.shape), capsule(mask.shape, (10, 10), (10, 10), 4) & (mask != 0))
    only_two = eraser_stamp(mask, (10, 10), (10, 10), 4, PaintScope(only_over=2))
    assert (mask[full(only_two, mask.shape)] == 2).all() and only_two.count > 0
    # keep_other_classes would make the eraser a no-op; the eraser ignores it.
    kept = eraser_stamp(mask, (10, 10), (10, 10), 4, PaintScope(keep_other_classes=True))
    assert kept.count == stamp.count
    assert eraser_stamp(mask, (10, 10), (10, 10), 4, PaintScope(background=9)).value == 9
    # The unlabelled value beats the background, and an explicit value beats both.
    camvid = PaintScope(background=None, unlabelled=11)
    unlabelled = eraser_stamp(mask, (10, 10), (10, 10), 4, camvid)
    assert unlabelled.value == 11
    np.testing.assert_array_equal(full(unlabelled, mask.shape), capsule(mask.shape, (10, 10), (10, 10), 4))
    assert eraser_stamp(mask, (10, 10), (10, 10), 4, PaintScope(unlabelled=255)).value == 255
    assert eraser_stamp(mask, (10, 10), (10, 10), 4, camvid, value=3).value == 3
    with pytest.raises(ValueError, match="nothing to write"):
        eraser_stamp(mask, (10, 10), (10, 10), 4, PaintScope(background=None))


def test_keep_other_classes_frees_the_background_and_the_unlabelled_value_only():
    # CamVid-like: class 0 (Sky) is a real class, 11 is unlabelled, there is no background class. (The scope's own
    # rule is in test_paint_scope.py; here every operation applies it.)
    mask = np.array([[0, 11, 3, 11, 0, 5]], dtype=np.uint8)
    camvid = PaintScope(keep_other_classes=True, background=None, unlabelled=11)
    assert brush_stamp(mask, (0, 0), (5, 0), 2, 8, camvid).count == 2
    assert flood_fill_stamp(mask, (0, 0), 8, scope=camvid).is_empty
    assert flood_fill_stamp(mask, (1, 0), 8, contiguous=False, scope=camvid).count == 2
    square = [(-1, -1), (6, -1), (6, 1), (-1, 1)]
    np.testing.assert_array_equal(full(polygon_stamp(mask, square, 8, camvid), mask.shape), mask == 11)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius": 0}, "radius"),
        ({"radius": -2}, "radius"),
        ({"radius": math.nan}, "radius"),
        ({"radius": None}, "radius"),
        ({"value": 256}, "uint16"),
        ({"value": -1}, "0..255"),
        ({"start": (math.inf, 0)}, "finite"),
        ({"start": (1, 2, 3)}, "pair"),
    ],
)
def test_brush_rejects_bad_arguments(kwargs, message):
    args = {"start": (1, 1), "end": (2, 2), "radius": 2, "value": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        brush_stamp(np.zeros((8, 8), np.uint8), **args)


def test_brush_rejects_masks_that_are_not_class_indices():
    with pytest.raises(ValueError, match="uint8"):
        brush_stamp(np.zeros((8, 8), np.float32), (1, 1), (1, 1), 2, 1)
    with pytest.raises(ValueError, match="2-D"):
        brush_stamp(np.zeros((8, 8, 3), np.uint8), (1, 1), (1, 1), 2, 1)


def test_brush_on_uint16_writes_large_class_values():
    mask = np.zeros((10, 10), dtype=np.uint16)
    stamp = brush_stamp(mask, (5, 5), (5, 5), 2, 40000)
    assert stamp.value == 40000 and stamp.count == 13


# -- flood fill ----------------------------------------------------------------------------------------


def diagonal_mask() -> np.ndarray:
    """A diagonal line of class 1: separate pixels for 4-neighbours, one line for 8-neighbours. It walls the
    background into two halves for 4-neighbours; 8-neighbours step through its corners."""
    mask = np.zeros((8, 8), dtype=np.uint8)
    np.fill_diagonal(mask, 1)
    return mask


def test_flood_fill_four_vs_eight_connectivity_on_a_diagonal():
    mask = diagonal_mask()
    four = flood_fill_stamp(mask, (3, 3), 2, connectivity=4)
    assert four.count == 1 and four.rect == Rect(3, 3, 4, 4)
    eight = flood_fill_stamp(mask, (3, 3), 2, connectivity=8)
    assert eight.count == 8 and eight.rect == Rect(0, 0, 8, 8)
    np.testing.assert_array_equal(full(eight, mask.shape), mask == 1)
    # Background: the diagonal walls off the lower-left half for 4-neighbours, not for 8-neighbours.
    lower = flood_fill_stamp(mask, (0, 5), 3, connectivity=Connectivity.FOUR)
    np.testing.assert_array_equal(full(lower, mask.shape), np.tril(np.ones((8, 8), bool), -1))
    everywhere = flood_fill_stamp(mask, (0, 5), 3, connectivity=8)
    np.testing.assert_array_equal(full(everywhere, mask.shape), mask == 0)


def test_flood_fill_on_a_checkerboard():
    mask = (np.indices((6, 7)).sum(axis=0) % 2).astype(np.uint8)
    assert flood_fill_stamp(mask, (2, 2), 5, connectivity=4).count == 1
    np.testing.assert_array_equal(full(flood_fill_stamp(mask, (2, 2), 5, connectivity=8), mask.shape), mask == 0)


def test_flood_fill_non_contiguous_fills_every_pixel_of_the_class():
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[1:3, 1:3] = 2
    mask[7:9, 8:11] = 2
    contiguous = flood_fill_stamp(mask, (1, 1), 4)
    assert contiguous.count == 4 and contiguous.rect == Rect(1, 1, 3, 3)
    everywhere = flood_fill_stamp(mask, (1, 1), 4, contiguous=False)
    assert everywhere.count == 10 and everywhere.rect == Rect(1, 1, 9, 11)
    np.testing.assert_array_equal(full(everywhere, mask.shape), mask == 2)


def test_flood_fill_uint16():
    mask = np.full((10, 10), 300, dtype=np.uint16)
    mask[:, 5] = 1000
    mask[3, :] = 300 + 256  # equal to 300 in the low byte: a cast to uint8 would merge them
    stamp = flood_fill_stamp(mask, (1, 1), 40000)
    assert stamp.value == 40000
    np.testing.assert_array_equal(full(stamp, mask.shape)[:3, :5], np.ones((3, 5), bool))
    assert stamp.count == 15


def test_flood_fill_seed_is_rounded_and_checked():
    mask = diagonal_mask()
    assert flood_fill_stamp(mask, (2.6, 3.4), 2, connectivity=4).rect == Rect(3, 3, 4, 4)
    for seed in [(-1, 0), (0, 8), (8, 0), (7.6, 0), (0, -0.6)]:
        with pytest.raises(ValueError, match="outside"):
            flood_fill_stamp(mask, seed, 2)
    with pytest.raises(ValueError, match="4 or 8"):
        flood_fill_stamp(mask, (0, 0), 2, connectivity=6)


def test_flood_fill_scope():
    mask = np.zeros((6, 6), dtype=np.uint8)
    mask[:3] = 2
    assert flood_fill_stamp(mask, (0, 0), 1, scope=PaintScope(only_over=3)).is_empty
    assert flood_fill_stamp(mask, (0, 0), 1, scope=PaintScope(only_over=2)).count == 18
    assert flood_fill_stamp(mask, (0, 0), 1, scope=PaintScope(keep_other_classes=True)).is_empty
    assert flood_fill_stamp(mask, (0, 5), 1, scope=PaintScope(keep_other_classes=True)).count == 18
    assert flood_fill_stamp(mask, (0, 0), 2).is_empty  # already that value


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([4, 8]), st.sampled_from([np.uint8, np.uint16]))
def test_flood_fill_matches_connected_components(seed, connectivity, dtype):
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 3, size=(23, 31)).astype(dtype)
    x, y = int(rng.integers(0, 31)), int(rng.integers(0, 23))
    stamp = flood_fill_stamp(mask, (x, y), 7, connectivity=connectivity)
    _, labels = cv2.connectedComponents((mask == mask[y, x]).astype(np.uint8), connectivity=connectivity)
    np.testing.assert_array_equal(full(stamp, mask.shape), labels == labels[y, x])


# -- polygon (the rasterization itself: test_polygon_raster.py) -------------------------------------------


def test_polygon_scope_and_clipping():
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[10:] = 3
    vertices = [(-5.5, -5.5), (25.5, -5.5), (25.5, 25.5), (-5.5, 25.5)]
    stamp = polygon_stamp(mask, vertices, 1, PaintScope(keep_other_classes=True))
    assert stamp.rect == Rect(0, 0, 20, 20)
    np.testing.assert_array_equal(full(stamp, mask.shape), mask == 0)
    assert polygon_stamp(mask, [(30, 30), (40, 30), (35, 40)], 1).is_empty


def test_polygon_stamp_is_the_raster_of_its_box():
    mask = np.zeros((30, 40), dtype=np.uint8)
    vertices = [(3.2, 4.7), (35.5, 2.1), (28.9, 26.3), (17.0, 12.5), (6.4, 27.8)]
    stamp = polygon_stamp(mask, vertices, 2)
    assert stamp.rect == Rect(3, 4, 28, 36)  # the pixel centres within the vertices' box: rows 3..27, columns 4..35
    whole = rasterize_even_odd(polygon_rings(vertices), Rect.full(mask.shape))
    np.testing.assert_array_equal(full(stamp, mask.shape), whole)
