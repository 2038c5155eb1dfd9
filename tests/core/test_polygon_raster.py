"""Polygon rasterization against shapely, which we did not write: rings, even-odd fill, pixel centres inside."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.geometry import Rect
from segstudio.core.polygon_raster import PolygonLike, polygon_rings, rasterize_even_odd


def raster(polygon: PolygonLike, shape: tuple[int, int]) -> np.ndarray:
    """The pixels of a ``shape`` image whose centres ``polygon`` covers."""
    return rasterize_even_odd(polygon_rings(polygon), Rect.full(shape))


def centres_inside(polygon: shapely.Geometry, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """shapely's verdict for every pixel centre, and where that verdict sits on the boundary (ambiguous)."""
    ys, xs = np.indices(shape, dtype=np.float64)
    inside = shapely.contains_xy(polygon, xs, ys)
    on_boundary = shapely.intersects_xy(polygon.boundary, xs, ys)
    return inside, on_boundary


def star(rng: np.random.Generator, centre: tuple[float, float], r_min: float, r_max: float, n: int) -> np.ndarray:
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = rng.uniform(r_min, r_max, n)
    return np.column_stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)])


def test_large_polygon_area_is_close_to_shapely_area():
    rng = np.random.default_rng(1)
    vertices = star(rng, (300.3, 250.7), 150, 230, 60)
    area = shapely.Polygon(vertices).area
    assert abs(raster(vertices, (520, 600)).sum() - area) / area < 0.005


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_polygon_pixels_are_the_centres_shapely_says_are_inside(seed):
    rng = np.random.default_rng(seed)
    shape = (40, 50)
    vertices = star(rng, tuple(rng.uniform(-10, 60, 2)), 2, 25, int(rng.integers(3, 12)))
    polygon = shapely.Polygon(vertices)
    painted = raster(vertices, shape)
    inside, ambiguous = centres_inside(polygon, shape)
    np.testing.assert_array_equal(painted[~ambiguous], inside[~ambiguous])


def test_sub_pixel_vertices():
    shape = (10, 10)
    assert raster([(1.6, 1.6), (4.4, 1.6), (4.4, 4.4), (1.6, 4.4)], shape).sum() == 9
    assert raster([(2.1, 2.1), (3.9, 2.1), (3.9, 3.9), (2.1, 3.9)], shape).sum() == 1
    assert not raster([(2.1, 2.1), (2.9, 2.1), (2.9, 2.9), (2.1, 2.9)], shape).any()
    # A thin sliver between centres covers nothing; shifted onto a row of centres it covers the row.
    assert not raster([(0, 3.2), (9, 3.2), (9, 3.8), (0, 3.8)], shape).any()
    assert raster([(0.5, 2.8), (9.5, 2.8), (9.5, 3.2), (0.5, 3.2)], shape).sum() == 9


def test_polygon_with_a_hole_and_multipolygon():
    shape = (60, 60)
    donut = shapely.Polygon([(5.3, 5.3), (50.2, 5.1), (50.7, 50.4), (5.5, 50.2)],
                            holes=[[(20.2, 20.3), (35.6, 20.1), (35.3, 35.2), (20.4, 35.7)]])
    painted = raster(donut, shape)
    inside, ambiguous = centres_inside(donut, shape)
    np.testing.assert_array_equal(painted[~ambiguous], inside[~ambiguous])
    assert not painted[25:31, 25:31].any()
    assert abs(painted.sum() - donut.area) / donut.area < 0.03

    pair = shapely.MultiPolygon([shapely.box(1.2, 1.2, 10.8, 10.8), donut])
    painted = raster(pair, shape)
    inside, ambiguous = centres_inside(pair, shape)
    np.testing.assert_array_equal(painted[~ambiguous], inside[~ambiguous])


def test_self_intersecting_polygon_fills_by_even_odd():
    painted = raster([(0.5, 0.5), (10.5, 10.5), (10.5, 0.5), (0.5, 10.5)], (12, 12))
    assert painted.sum() > 0
    assert painted[5, 2] and painted[5, 9] and not painted[1, 5] and not painted[9, 5]


@pytest.mark.parametrize(
    "polygon",
    [
        [(0, 0), (5, 5)],
        [(0, 0), (2, 2), (5, 5)],
        [(1, 1), (1, 1), (1, 1), (1, 1)],
        [(0, 0), (3, 0), (math.nan, 4)],
        np.zeros((4, 3)),
        shapely.Polygon(),
        shapely.Polygon([(0, 0), (1, 1), (2, 2)]),
        shapely.LineString([(0, 0), (5, 5)]),
        "not a polygon",
    ],
)
def test_degenerate_polygons_are_rejected(polygon):
    with pytest.raises(ValueError):
        polygon_rings(polygon)


def test_polygon_with_an_almost_horizontal_edge() -> None:
    """A subnormal rise once gave an infinite slope, NaN crossings and a crash in the scanline fill."""
    painted = raster([(0.0, 1.0), (0.0, 0.0), (6.0, 3.09e-308)], (8, 8))
    assert painted.dtype == bool  # no crash; the sliver covers no pixel centre or only a few
