"""The confusion matrix: its rules (ignore id, invalid values), dtypes and layouts, and each counting path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core import confusion, tiling
from segstudio.core.confusion import confusion_matrix, unexpected_values


def naive_confusion(gt: np.ndarray, pred: np.ndarray, n: int, ignore: int | None = None) -> np.ndarray:
    """The textbook definition, for comparison: one bincount over the kept pixels."""
    g = np.asarray(gt).astype(np.int64).ravel()
    p = np.asarray(pred).astype(np.int64).ravel()
    keep = g != ignore if ignore is not None else np.ones(g.shape, dtype=bool)
    return np.bincount(g[keep] * n + p[keep], minlength=n * n).reshape(n, n)


# -- ignore and invalid values -----------------------------------------------------------------------------


def test_ignored_truth_pixels_are_left_out_whatever_the_prediction() -> None:
    gt = np.array([[0, 255, 1, 255]], np.uint8)
    pred = np.array([[0, 1, 1, 255]], np.uint8)
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 2, 255), [[1, 0], [0, 1]])


def test_ignore_id_just_above_the_classes() -> None:
    gt = np.array([[0, 3, 3, 2]], np.uint8)
    pred = np.array([[0, 1, 3, 2]], np.uint8)
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 3, 3), np.diag([1, 0, 1]))


def test_out_of_range_prediction_values_are_listed() -> None:
    gt = np.zeros((2, 3), np.uint8)
    pred = np.array([[0, 14, 200], [11, 14, 255]], np.uint8)
    with pytest.raises(ValueError, match=r"prediction holds values \[14, 200\] outside the 12 classes \(0\.\.11\) and ignore id 255"):
        confusion_matrix(gt, pred, 12, 255)


def test_out_of_range_truth_values_are_listed() -> None:
    gt = np.array([[0, 12, 7]], np.uint16)
    with pytest.raises(ValueError, match=r"ground truth holds values \[7, 12\] outside the 5 classes \(0\.\.4\);"):
        confusion_matrix(gt, np.zeros_like(gt), 5)


def test_long_lists_of_bad_values_are_cut_short() -> None:
    pred = np.arange(100, 200, dtype=np.uint8).reshape(10, 10)
    with pytest.raises(ValueError, match="and 88 more"):
        confusion_matrix(np.zeros_like(pred), pred, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_prediction_of_the_ignore_id_on_a_scored_pixel_is_refused(dtype: type) -> None:
    # torchmetrics has no sound rule here (it fails, or counts the pixel in the next row); see confusion's notes
    gt = np.array([[0, 1, 255]], dtype)
    pred = np.array([[0, 255, 255]], dtype)
    with pytest.raises(ValueError, match="prediction holds the ignore id 255 at 1 pixel where the ground truth is a class"):
        confusion_matrix(gt, pred, 2, 255)


def test_invalid_values_in_ignored_pixels_are_still_errors() -> None:
    with pytest.raises(ValueError, match=r"prediction holds values \[9\]"):
        confusion_matrix(np.array([[255]], np.uint8), np.array([[9]], np.uint8), 2, 255)


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"ground truth has shape \(2, 3\) but prediction has shape \(3, 2\)"):
        confusion_matrix(np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8), 2)


@pytest.mark.parametrize(
    ("gt", "n", "ignore", "message"),
    [
        (np.zeros((2, 2), np.float32), 2, None, "integer class ids"),
        (np.zeros((2, 2, 3), np.uint8), 2, None, "2-D"),
        (np.zeros((2, 2), np.uint8), 0, None, "positive integer"),
        (np.zeros((2, 2), np.uint8), 3, 1, "ignore id 1 is also a class id"),
    ],
)
def test_bad_arguments(gt: np.ndarray, n: int, ignore: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_matrix(gt, gt, n, ignore)


def test_unexpected_values_helper() -> None:
    assert unexpected_values(np.array([[0, 3, 255, 9]], np.uint8), 4, 255) == [9]
    assert unexpected_values(np.array([[-1, 2, -100]], np.int64), 3, -100) == [-1]


# -- dtypes, layouts, sizes --------------------------------------------------------------------------------


def test_uint16_with_many_classes_and_values_above_255() -> None:
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 300, (97, 131)).astype(np.uint16)
    pred = np.where(rng.random(gt.shape) < 0.3, rng.integers(0, 300, gt.shape), gt).astype(np.uint16)
    gt[:5] = 1000
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 300, 1000), naive_confusion(gt, pred, 300, 1000))


def test_uint8_with_more_than_sixteen_classes() -> None:
    rng = np.random.default_rng(4)
    gt = rng.integers(0, 40, (200, 180), dtype=np.uint8)
    pred = rng.integers(0, 40, (200, 180), dtype=np.uint8)
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 40), naive_confusion(gt, pred, 40))


def test_non_contiguous_views() -> None:
    rng = np.random.default_rng(5)
    gt = rng.integers(0, 6, (300, 400), dtype=np.uint8)
    pred = rng.integers(0, 6, (300, 400), dtype=np.uint8)
    gt[:20] = 255
    for g, p in [
        (gt[::2, ::3], pred[1::2, ::3]),  # strided
        (gt.T, pred.T),  # Fortran order
        (gt[::-1, ::-2], pred[:, ::-2]),  # negative strides
        (gt[10:200, 30:77], pred[50:240, 100:147]),  # plain crops
    ]:
        np.testing.assert_array_equal(confusion_matrix(g, p, 6, 255), naive_confusion(g, p, 6, 255))


def test_many_tiles_match_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiles far smaller than a row force both row and column splitting and the thread pool.
    rng = np.random.default_rng(6)
    gt = rng.integers(0, 5, (123, 457), dtype=np.uint8)
    pred = rng.integers(0, 5, (123, 457), dtype=np.uint8)
    monkeypatch.setattr(confusion, "_TILE_PIXELS", 100)
    assert len(tiling._tiles(gt.shape, 100)) > 100
    for dtype in (np.uint8, np.uint16, np.int32):
        g, p = gt.astype(dtype), pred.astype(dtype)
        np.testing.assert_array_equal(confusion_matrix(g, p, 5), naive_confusion(g, p, 5))


@pytest.fixture(params=["runs", "histogram"])
def counting_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force every tile down one path: run-length counting, or the histogram/bincount fallback."""
    monkeypatch.setattr(confusion, "_PIXELS_PER_RUN_MIN", 0 if request.param == "runs" else 10**12)
    return request.param


def blocky_pair(rng: np.random.Generator, shape: tuple[int, int], n: int, dtype: type, block: int = 7):
    """Masks made of blocks, like real ones: long runs of one pair, a few boundaries."""
    cells = (-(-shape[0] // block), -(-shape[1] // block))
    gt = np.kron(rng.integers(0, n, cells), np.ones((block, block), np.int64))[: shape[0], : shape[1]]
    pred = np.where(rng.random(cells) < 0.3, rng.integers(0, n, cells), gt[::block, ::block])
    pred = np.kron(pred, np.ones((block, block), np.int64))[: shape[0], : shape[1]]
    return gt.astype(dtype), pred.astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64, bool])
def test_each_counting_path_matches_naive(counting_path: str, dtype: type) -> None:
    rng = np.random.default_rng(8)
    n, ignore = (2, None) if dtype == bool else (9, 255 if dtype != np.int64 else -1)
    for make in (blocky_pair, lambda r, s, k, d: (r.integers(0, k, s).astype(d), r.integers(0, k, s).astype(d))):
        gt, pred = make(rng, (83, 121), n, dtype)
        if ignore is not None:
            gt[10:20, 30:50] = ignore
            pred[12:15, 31:40] = ignore  # allowed: the truth is ignored there too
        for g, p in ((gt, pred), (gt[::2, ::-1], pred[::2, ::-1]), (gt.T, pred.T)):
            np.testing.assert_array_equal(confusion_matrix(g, p, n, ignore), naive_confusion(g, p, n, ignore))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_each_counting_path_finds_bad_values(counting_path: str, dtype: type) -> None:
    rng = np.random.default_rng(9)
    gt, pred = blocky_pair(rng, (64, 64), 5, dtype)
    gt[:8] = 255
    bad = pred.copy()
    bad[40:48, 40:48] = 7
    with pytest.raises(ValueError, match=r"prediction holds values \[7\]"):
        confusion_matrix(gt, bad, 5, 255)
    for value in (200, 12):  # far above the classes, and just above them
        bad = gt.copy()
        bad[40:48, 40:48] = value
        with pytest.raises(ValueError, match=rf"ground truth holds values \[{value}\]"):
            confusion_matrix(bad, pred, 5, 255)
    stray = pred.copy()
    stray[30:32, 30:32] = 255  # the ignore id where the truth is a class
    with pytest.raises(ValueError, match="ignore id 255 at 4 pixels"):
        confusion_matrix(gt, stray, 5, 255)


def test_real_masks_are_counted_by_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast path is the one real masks take: make the fallback fail loudly and count a blocky pair.
    def no_fallback(*args: object) -> None:
        raise AssertionError("a blocky tile fell back to the histogram")

    monkeypatch.setattr(confusion, "_count_histogram", no_fallback)
    gt, pred = blocky_pair(np.random.default_rng(10), (300, 400), 12, np.uint8, block=40)
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 12), naive_confusion(gt, pred, 12))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_counts_beyond_float32_precision_stay_exact(counting_path: str, dtype: type) -> None:
    # calcHist returns float32 bins: exact only to 2**24. An odd count above that is not even representable
    # in float32, so a single un-tiled histogram could not produce it. Both paths are checked.
    height, width = 4201, 4099
    count = height * width
    assert count > 2**24 and count % 2 == 1 and int(np.float32(count)) != count
    mask = np.zeros((height, width), dtype)
    cm = confusion_matrix(mask, mask, 3)
    assert cm[0, 0] == count and cm.sum() == count


def test_empty_masks() -> None:
    empty = np.zeros((0, 5), np.uint8)
    np.testing.assert_array_equal(confusion_matrix(empty, empty, 3), np.zeros((3, 3)))


def test_bool_masks() -> None:
    gt = np.array([[True, False, True]])
    pred = np.array([[True, True, False]])
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 2), [[0, 1], [1, 1]])


@st.composite
def mask_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int8, np.int32, np.int64]))
    n = draw(st.integers(1, 120 if dtype == np.int8 else 300))
    if dtype == np.uint8:
        n = min(n, 256)
    ignore = draw(st.sampled_from([None, n, n + 7, 255, -1]))
    if ignore is not None and not (np.iinfo(dtype).min <= ignore <= np.iinfo(dtype).max):
        ignore = None
    if ignore is not None and 0 <= ignore < n:
        ignore = None
    shape = (draw(st.integers(0, 40)), draw(st.integers(0, 40)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()) and min(shape) > 0:
        gt, pred = blocky_pair(rng, shape, n, dtype, block=draw(st.integers(1, 12)))
    else:
        gt = rng.integers(0, n, shape).astype(dtype)
        pred = rng.integers(0, n, shape).astype(dtype)
    if ignore is not None and gt.size:
        hole = rng.random(shape) < 0.2
        gt[hole] = ignore
        pred[hole & (rng.random(shape) < 0.5)] = ignore
    if draw(st.booleans()) and min(shape) > 2:  # a strided view
        gt, pred = gt[::2, ::-1], pred[::2, ::-1]
    return gt, pred, n, ignore


@settings(max_examples=150, deadline=None)
@given(mask_pairs())
def test_matches_naive_counting(case: tuple[np.ndarray, np.ndarray, int, int | None]) -> None:
    gt, pred, n, ignore = case
    np.testing.assert_array_equal(confusion_matrix(gt, pred, n, ignore), naive_confusion(gt, pred, n, ignore))
