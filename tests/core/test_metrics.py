from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core import metrics
from segstudio.core.labels import CAMVID_CLASS_NAMES, CAMVID_IGNORE_INDEX
from segstudio.core.metrics import (
    ClassScores,
    DatasetEvaluator,
    Scores,
    confusion_matrix,
    map_tiles,
    unexpected_values,
)


def naive_confusion(gt: np.ndarray, pred: np.ndarray, n: int, ignore: int | None = None) -> np.ndarray:
    """The textbook definition, for comparison: one bincount over the kept pixels."""
    g = np.asarray(gt).astype(np.int64).ravel()
    p = np.asarray(pred).astype(np.int64).ravel()
    keep = g != ignore if ignore is not None else np.ones(g.shape, dtype=bool)
    return np.bincount(g[keep] * n + p[keep], minlength=n * n).reshape(n, n)


# -- a hand-computed example -----------------------------------------------------------------------------------

# Pairs (truth, prediction): (0,0) (0,1) (1,1) (1,1) / (2,2) (2,0) (1,0) (0,0). Class 3 is in neither mask.
GT = np.array([[0, 0, 1, 1], [2, 2, 1, 0]], dtype=np.uint8)
PRED = np.array([[0, 1, 1, 1], [2, 0, 0, 0]], dtype=np.uint8)
EXPECTED_CM = np.array([[2, 1, 0, 0], [1, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_hand_computed_confusion_matrix() -> None:
    cm = confusion_matrix(GT, PRED, 4)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, EXPECTED_CM)


def test_hand_computed_class_scores() -> None:
    scores = Scores.from_confusion(EXPECTED_CM, ["bg", "a", "b", "absent"])
    bg, a, b, absent = scores.classes
    # class 0: overlap 2, predicted 4, true 3 -> combined 7, union 5
    assert (bg.overlap, bg.predicted, bg.true, bg.combined, bg.union) == (2, 4, 3, 7, 5)
    assert bg.iou == pytest.approx(2 / 5) and bg.dice == pytest.approx(4 / 7)
    assert (a.overlap, a.predicted, a.true, a.combined, a.union) == (2, 3, 3, 6, 4)
    assert a.iou == pytest.approx(0.5) and a.dice == pytest.approx(2 / 3)
    assert (b.overlap, b.predicted, b.true, b.combined, b.union) == (1, 1, 2, 3, 2)
    assert b.iou == pytest.approx(0.5) and b.dice == pytest.approx(2 / 3)
    assert (b.false_positive, b.false_negative) == (0, 1)
    # absent from both masks: n/a, not 0 and not 1
    assert absent.union == 0 and absent.iou is None and absent.dice is None and not absent.has_score
    assert scores.mean_iou == pytest.approx((0.4 + 0.5 + 0.5) / 3)
    assert scores.mean_dice == pytest.approx((4 / 7 + 2 / 3 + 2 / 3) / 3)
    assert scores.pixel_accuracy == pytest.approx(5 / 8)
    assert scores.total == 8 and scores.correct == 5
    assert scores["a"] is a and scores[3] is absent
    np.testing.assert_allclose(scores.iou_array, [0.4, 0.5, 0.5, np.nan])
    np.testing.assert_allclose(scores.dice_array, [4 / 7, 2 / 3, 2 / 3, np.nan])
    np.testing.assert_array_equal(scores.scored_array, [True, True, True, False])


def test_class_only_predicted_scores_zero_not_na() -> None:
    scores = Scores.from_masks(np.zeros((2, 2), np.uint8), np.array([[0, 1], [0, 0]], np.uint8), 3)
    assert scores[1].iou == 0.0 and scores[1].dice == 0.0
    assert scores[2].iou is None
    assert scores.mean_iou == pytest.approx((3 / 4 + 0) / 2)


def test_nothing_scored_gives_none_everywhere() -> None:
    scores = Scores.from_confusion(np.zeros((3, 3), dtype=np.int64))
    assert scores.mean_iou is None and scores.mean_dice is None and scores.pixel_accuracy is None
    assert scores.class_names == ("class 0", "class 1", "class 2")
    assert np.isnan(scores.iou_array).all()


def test_scores_is_a_value() -> None:
    source = EXPECTED_CM.copy()
    scores = Scores.from_confusion(source)
    source[0, 0] = 100
    assert scores.confusion[0, 0] == 2
    with pytest.raises(ValueError):
        scores.confusion[0, 0] = 5
    with pytest.raises(AttributeError):
        scores.confusion = source  # type: ignore[misc]


@pytest.mark.parametrize(
    ("matrix", "names", "message"),
    [
        (np.zeros((2, 3)), None, "square"),
        (np.array([[1, -1], [0, 0]]), None, "negative"),
        (np.array([[1.5, 0], [0, 0]]), None, "whole"),
        (np.zeros((2, 2)), ["x"], "1 class names given for a 2-class"),
        (np.zeros((2, 2)), ["x", "x"], "repeated: x"),
    ],
)
def test_scores_reject_bad_input(matrix: np.ndarray, names: list[str] | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scores.from_confusion(matrix, names)


def test_class_scores_json() -> None:
    data = ClassScores(0, "x", overlap=0, predicted=0, true=0).to_json_dict()
    assert data == {"overlap": 0, "predicted": 0, "true": 0, "combined": 0, "union": 0, "iou": None, "dice": None}


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
    # torchmetrics has no sound rule here (it fails, or counts the pixel in the next row); see metrics' notes
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
    monkeypatch.setattr(metrics, "_TILE_PIXELS", 100)
    assert len(metrics._tiles(gt.shape, 100)) > 100
    for dtype in (np.uint8, np.uint16, np.int32):
        g, p = gt.astype(dtype), pred.astype(dtype)
        np.testing.assert_array_equal(confusion_matrix(g, p, 5), naive_confusion(g, p, 5))


@pytest.fixture(params=["runs", "histogram"])
def counting_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force every tile down one path: run-length counting, or the histogram/bincount fallback."""
    monkeypatch.setattr(metrics, "_PIXELS_PER_RUN_MIN", 0 if request.param == "runs" else 10**12)
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
    for value in (200, 12):  # above the packed byte's 16 rows, and inside them
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

    monkeypatch.setattr(metrics, "_count_histogram", no_fallback)
    gt, pred = blocky_pair(np.random.default_rng(10), (300, 400), 12, np.uint8, block=40)
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 12), naive_confusion(gt, pred, 12))


def test_map_tiles_cover_the_shape_once() -> None:
    seen = np.zeros((37, 53), np.int64)

    def mark(tile: tuple[slice, slice]) -> int:
        seen[tile] += 1
        return seen[tile].size

    sizes = map_tiles(mark, seen.shape, tile_pixels=20)
    assert (seen == 1).all() and sum(sizes) == seen.size and max(sizes) <= 20


def test_map_tiles_inside_its_own_workers_runs_in_place() -> None:
    # Counting from inside a tile job (say, a per-tile metric) must neither deadlock nor drop tiles.
    rng = np.random.default_rng(11)
    gt, pred = blocky_pair(rng, (64, 64), 4, np.uint8)
    results = map_tiles(lambda tile: map_tiles(lambda inner: 1, (50, 50), tile_pixels=10), (40, 40), tile_pixels=100)
    assert len(results) == 20 and all(sum(r) == 250 for r in results)  # 2-row tiles; 10-pixel inner tiles
    nested = map_tiles(lambda tile: confusion_matrix(gt, pred, 4), (4, 4), tile_pixels=4)
    for matrix in nested:
        np.testing.assert_array_equal(matrix, naive_confusion(gt, pred, 4))


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


# -- datasets ----------------------------------------------------------------------------------------------


def test_dataset_accumulated_versus_mean_of_images() -> None:
    evaluator = DatasetEvaluator(2, ignore_index=255, class_names=["bg", "fg"])
    # Image a: 4 pixels of fg, all found. Image b: 1 fg pixel missed among 3 bg (one bg pixel ignored).
    a = evaluator.add("a.png", np.ones((2, 2), np.uint8), np.ones((2, 2), np.uint8))
    b = evaluator.add("b.png", np.array([[0, 0], [1, 255]], np.uint8), np.zeros((2, 2), np.uint8))
    assert a["fg"].iou == 1.0 and a["bg"].iou is None and a.mean_iou == 1.0
    assert b["fg"].iou == 0.0 and b["bg"].iou == pytest.approx(2 / 3) and b.mean_iou == pytest.approx(1 / 3)
    result = evaluator.result()
    np.testing.assert_array_equal(result.overall.confusion, [[2, 0], [1, 4]])
    assert result.overall["fg"].iou == pytest.approx(4 / 5)
    assert result.overall["bg"].iou == pytest.approx(2 / 3)
    assert result.mean_iou == pytest.approx((4 / 5 + 2 / 3) / 2)
    assert result.pixel_accuracy == pytest.approx(6 / 7)
    means = result.image_mean
    assert means.iou == (pytest.approx(2 / 3), pytest.approx(0.5))  # bg only scored in b; fg in both
    assert means.images == (1, 2)
    assert means.mean_iou == pytest.approx((1.0 + 1 / 3) / 2)
    assert means.pixel_accuracy == pytest.approx((1.0 + 2 / 3) / 2)
    assert list(result.per_image) == ["a.png", "b.png"] and result.per_image["b.png"] is b


def test_dataset_json_is_plain_and_uses_null_for_na() -> None:
    evaluator = DatasetEvaluator(3, class_names=["bg", "cat", "dog"])
    evaluator.add("one", np.array([[0, 1]], np.uint8), np.array([[0, 1]], np.uint8))
    data = json.loads(json.dumps(evaluator.result().to_json_dict()))
    assert data["per_class"]["dog"] == {"overlap": 0, "predicted": 0, "true": 0, "combined": 0, "union": 0, "iou": None, "dice": None}
    assert data["per_class"]["cat"]["iou"] == 1.0
    assert data["mean_iou"] == 1.0 and data["pixel_accuracy"] == 1.0
    assert data["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert data["per_image"]["one"]["per_class"]["dog"]["iou"] is None
    assert data["per_image"]["one"]["mean_dice"] == 1.0
    assert data["mean_of_images"]["per_class"]["dog"] == {"iou": None, "dice": None, "images": 0}
    assert data["mean_of_images"]["mean_iou"] == 1.0
    assert data["num_images"] == 1 and data["class_names"] == ["bg", "cat", "dog"]


def test_empty_dataset() -> None:
    result = DatasetEvaluator(2).result()
    assert result.mean_iou is None and result.image_mean.mean_iou is None and result.image_mean.iou == (None, None)
    json.dumps(result.to_json_dict())


def test_dataset_rejects_duplicates_and_wrong_matrices() -> None:
    evaluator = DatasetEvaluator(2)
    evaluator.add("x", np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint8))
    with pytest.raises(ValueError, match="already added"):
        evaluator.add("x", np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint8))
    with pytest.raises(ValueError, match=r"expected \(2, 2\)"):
        evaluator.add_confusion("y", np.zeros((3, 3)))
    assert len(evaluator) == 1


# -- against torchmetrics on real CamVid masks ----------------------------------------------------------------

CAMVID_CLASSES = 11


def _camvid_truths(shared_data: Path, count: int = 10) -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    folder = shared_data / "camvid" / "valannot"
    paths = sorted(folder.glob("*.png"))
    if not paths:
        pytest.skip(f"no CamVid validation masks in {folder}")
    spread = paths[:: max(1, len(paths) // count)][:count]  # frames from across the sequence, not 10 neighbours
    return [(p.name, np.array(Image.open(p))) for p in spread]


def _perturbed_cases(gt: np.ndarray, index: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deterministic (truth, prediction) stand-ins for a model's output; no prediction holds the ignore id."""
    rng = np.random.default_rng(index)
    base = gt.copy()
    base[base == CAMVID_IGNORE_INDEX] = 3  # a model always says something: road, here
    flipped = base.copy()
    flip = rng.random(base.shape) < 0.15
    flipped[flip] = rng.integers(0, CAMVID_CLASSES, int(flip.sum()))
    shifted = np.roll(base, shift=(int(rng.integers(-12, 13)), int(rng.integers(-12, 13))), axis=(0, 1))
    never_predicted = base.copy()
    never_predicted[(base == 9) | (base == 2)] = 4  # pedestrians and poles never predicted
    # A class gone from both masks (bicyclists unlabelled in the truth, called road by the model): n/a.
    truth_without = gt.copy()
    truth_without[gt == 10] = CAMVID_IGNORE_INDEX
    removed = base.copy()
    removed[base == 10] = 3
    return [(gt, flipped), (gt, shifted), (gt, never_predicted), (truth_without, removed)]


def test_against_torchmetrics_on_camvid(shared_data: Path) -> None:
    torch = pytest.importorskip("torch")
    classification = pytest.importorskip("torchmetrics.classification")

    n, ignore = CAMVID_CLASSES, CAMVID_IGNORE_INDEX
    kwargs = {"num_classes": n, "ignore_index": ignore}
    jaccard = classification.MulticlassJaccardIndex(average=None, **kwargs)
    jaccard_macro = classification.MulticlassJaccardIndex(average="macro", **kwargs)
    f1 = classification.MulticlassF1Score(average=None, **kwargs)
    accuracy = classification.MulticlassAccuracy(average="micro", **kwargs)
    confusion = classification.MulticlassConfusionMatrix(**kwargs)
    evaluator = DatasetEvaluator(n, ignore, CAMVID_CLASS_NAMES)
    theirs_total = [classification.MulticlassJaccardIndex(average=None, **kwargs), classification.MulticlassF1Score(average=None, **kwargs)]

    checked_absent = 0
    for index, (name, gt) in enumerate(_camvid_truths(shared_data)):
        assert gt.dtype == np.uint8 and set(np.unique(gt)) <= set(range(n + 1))
        for variant, (truth, pred) in enumerate(_perturbed_cases(gt, index)):
            ours = evaluator.add(f"{name}#{variant}", truth, pred)
            target, preds = torch.from_numpy(truth.astype(np.int64)), torch.from_numpy(pred.astype(np.int64))
            np.testing.assert_array_equal(ours.confusion, confusion(preds, target).numpy())
            their_iou, their_dice = jaccard(preds, target).numpy(), f1(preds, target).numpy()
            for metric in theirs_total:
                metric.update(preds, target)
            scored = ours.scored_array
            # Where a class has a score, the numbers agree.
            np.testing.assert_allclose(ours.iou_array[scored], their_iou[scored], rtol=1e-6)
            np.testing.assert_allclose(ours.dice_array[scored], their_dice[scored], rtol=1e-6)
            # Where it has none, we say n/a; torchmetrics says 0 (its zero_division default), never a score.
            assert all(ours[int(c)].iou is None for c in np.flatnonzero(~scored))
            assert np.all((their_iou[~scored] == 0) | np.isnan(their_iou[~scored]))
            assert np.all((their_dice[~scored] == 0) | np.isnan(their_dice[~scored]))
            checked_absent += int((~scored).sum())
            # torchmetrics' macro Jaccard also leaves out classes absent from both masks: the same mean.
            assert ours.mean_iou == pytest.approx(float(jaccard_macro(preds, target)), rel=1e-6)
            assert ours.pixel_accuracy == pytest.approx(float(accuracy(preds, target)), rel=1e-6)
    assert checked_absent > 0, "the perturbations should leave some class absent from some image"

    # Accumulated over the dataset: torchmetrics' update/compute sums confusion matrices too.
    result = evaluator.result()
    all_iou, all_dice = (m.compute().numpy() for m in theirs_total)
    np.testing.assert_allclose(result.overall.iou_array, all_iou, rtol=1e-6)
    np.testing.assert_allclose(result.overall.dice_array, all_dice, rtol=1e-6)
    assert result.mean_iou == pytest.approx(float(np.mean(all_iou)), rel=1e-6)
    # Mean of images is its own thing: the mean of the per-image numbers we checked above.
    per_image_iou = [s.mean_iou for s in result.per_image.values()]
    assert result.image_mean.mean_iou == pytest.approx(float(np.mean(per_image_iou)))
    assert not math.isclose(result.image_mean.mean_iou, result.mean_iou)
