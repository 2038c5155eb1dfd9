"""Scores and dataset scores through segstudio.core.metrics, the public import; cross-checked with torchmetrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from segstudio.core.labels import CAMVID_CLASS_NAMES, CAMVID_IGNORE_INDEX
from segstudio.core.metrics import (
    ClassScores,
    DatasetEvaluator,
    Scores,
    confusion_matrix,
)


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
