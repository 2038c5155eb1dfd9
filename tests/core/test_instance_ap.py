"""Mask AP equal to pycocotools' COCOeval(iouType="segm") on the same data: Penn-Fudan ground truth with perturbed
predictions, and a synthetic multi-class case."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.core.instance_ap import InstanceAPEvaluator, InstanceAPScores
from segstudio.core.instances import InstanceMask

PENN_IMAGES = 12  # the first 12 PedMasks by name


def coco_stats(pairs: list[tuple[InstanceMask, InstanceMask]]) -> np.ndarray:
    """COCOeval's 12 segm stats for (truth, prediction) pairs, image ids 1.. in the given order."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results, classes = [], [], [], set()
    for image_id, (truth, prediction) in enumerate(pairs, start=1):
        height, width = truth.ids.shape
        images.append({"id": image_id, "height": height, "width": width})
        for instance in np.unique(truth.ids[truth.ids > 0]):
            binary = np.asfortranarray(truth.ids == instance, dtype=np.uint8)
            rle = mask_utils.encode(binary)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": truth.classes[int(instance)],
                "segmentation": rle, "area": float(binary.sum()), "bbox": list(mask_utils.toBbox(rle)), "iscrowd": 0,
            })  # fmt: skip
            classes.add(truth.classes[int(instance)])
        for instance in np.unique(prediction.ids[prediction.ids > 0]):  # ascending id: COCOeval's tie order
            rle = mask_utils.encode(np.asfortranarray(prediction.ids == instance, dtype=np.uint8))
            score = 1.0 if prediction.scores is None else prediction.scores[int(instance)]
            results.append({"image_id": image_id, "category_id": prediction.classes[int(instance)],
                            "segmentation": rle, "score": score})
            classes.add(prediction.classes[int(instance)])
    with contextlib.redirect_stdout(io.StringIO()):
        truth_coco = COCO()
        truth_coco.dataset = {"images": images, "annotations": annotations,
                              "categories": [{"id": c, "name": str(c)} for c in sorted(classes)]}
        truth_coco.createIndex()
        evaluation = COCOeval(truth_coco, truth_coco.loadRes(results), iouType="segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation.stats, evaluation.eval["precision"][:, :, :, 0, -1]


def ours(pairs: list[tuple[InstanceMask, InstanceMask]]) -> InstanceAPScores:
    evaluator = InstanceAPEvaluator()
    for index, (truth, prediction) in enumerate(pairs):
        evaluator.add(f"image{index}", truth, prediction)
    return evaluator.result()


def assert_same_as_coco(pairs: list[tuple[InstanceMask, InstanceMask]]) -> InstanceAPScores:
    stats, precision = coco_stats(pairs)
    result = ours(pairs)
    for value, expected in ((result.ap, stats[0]), (result.ap50, stats[1]), (result.ap75, stats[2])):
        assert value == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(result.precision, precision, atol=1e-12, rtol=0)
    return result


def grow(region: np.ndarray, steps: int) -> np.ndarray:
    """Dilation by ``steps`` 4-neighbour steps (erosion: grow the complement)."""
    region = region.copy()
    for _ in range(steps):
        padded = np.pad(region, 1)
        region = padded[1:-1, 1:-1] | padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
    return region


def perturb(truth: np.ndarray, rng: np.random.Generator, *, classes: int = 1) -> InstanceMask:
    """Predictions built from ``truth``'s objects: shifted, dilated, eroded, dropped, duplicated (shifted copies)
    objects, false positives, random scores; with ``classes`` > 1 some get a wrong class."""
    height, width = truth.shape
    ids = np.zeros(truth.shape, dtype=np.uint16)
    new_classes: dict[int, int] = {}
    next_id = 1

    def paint(region: np.ndarray, class_id: int) -> None:
        nonlocal next_id
        region = region & (ids == 0)
        if region.any():
            ids[region] = next_id
            new_classes[next_id] = class_id
            next_id += 1

    objects = [int(i) for i in np.unique(truth) if i > 0]
    for instance in objects:
        region = truth == instance
        action = rng.integers(0, 6)
        if action == 0:
            continue  # dropped: a missed object
        if action == 1:
            region = np.roll(region, (int(rng.integers(-25, 26)), int(rng.integers(-25, 26))), axis=(0, 1))
        elif action == 2:
            region = grow(region, int(rng.integers(1, 8)))
        elif action == 3:
            region = ~grow(~region, int(rng.integers(1, 10)))
        class_id = int(rng.integers(1, classes + 1)) if classes > 1 else 1
        paint(region, class_id)
        if action == 4:  # a duplicate, shifted a little: at best a false positive
            paint(np.roll(truth == instance, int(rng.integers(3, 15)), axis=1), class_id)
    for _ in range(int(rng.integers(0, 3))):  # false positives: boxes anywhere
        top, left = int(rng.integers(0, height - 20)), int(rng.integers(0, width - 20))
        box = np.zeros(truth.shape, bool)
        box[top : top + int(rng.integers(10, 80)), left : left + int(rng.integers(10, 60))] = True
        paint(box, int(rng.integers(1, classes + 1)))
    scores = {i: float(rng.choice([rng.random(), 0.5])) for i in new_classes}  # some ties on purpose
    return InstanceMask(ids, new_classes, scores)


@pytest.fixture(scope="module")
def penn_fudan_truths(shared_data: Path) -> list[np.ndarray]:
    folder = shared_data / "pennfudan" / "PedMasks"
    if not folder.is_dir():
        pytest.skip(f"Penn-Fudan not found under {folder}")
    paths = sorted(folder.glob("*_mask.png"))[:PENN_IMAGES]
    assert len(paths) == PENN_IMAGES, f"expected at least {PENN_IMAGES} masks in {folder}"
    return [np.asarray(Image.open(path)) for path in paths]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_penn_fudan_ap_equals_cocoeval(penn_fudan_truths: list[np.ndarray], seed: int) -> None:
    rng = np.random.default_rng(seed)
    pairs = [(InstanceMask.from_ids(t), perturb(t, rng)) for t in penn_fudan_truths]
    result = assert_same_as_coco(pairs)
    assert 0.0 < result.ap < result.ap50 < 1.0
    assert result.truth_objects == sum(len(np.unique(t)) - 1 for t in penn_fudan_truths)


def test_perfect_predictions_score_one(penn_fudan_truths: list[np.ndarray]) -> None:
    pairs = [(InstanceMask.from_ids(t), InstanceMask.from_ids(t, scores={int(i): 0.9 for i in np.unique(t) if i}))
             for t in penn_fudan_truths[:3]]
    result = assert_same_as_coco(pairs)
    assert result.ap == 1.0 and result.matched_objects == result.truth_objects == result.predicted_objects


def _synthetic_truth(rng: np.random.Generator, classes: int) -> InstanceMask:
    ids = np.zeros((96, 128), dtype=np.uint16)
    labels: dict[int, int] = {}
    for instance in range(1, int(rng.integers(2, 9))):
        top, left = int(rng.integers(0, 80)), int(rng.integers(0, 110))
        ids[top : top + int(rng.integers(6, 30)), left : left + int(rng.integers(6, 30))] = instance
    for instance in np.unique(ids[ids > 0]):
        labels[int(instance)] = int(rng.integers(1, classes + 1))
    return InstanceMask(ids, labels)


def test_multi_class_synthetic_equals_cocoeval() -> None:
    rng = np.random.default_rng(7)
    pairs = []
    for _ in range(20):
        truth = _synthetic_truth(rng, 3)
        prediction = perturb(truth.ids, rng, classes=4)  # class 4 has predictions only: n/a, as COCOeval's -1
        pairs.append((truth, prediction))
    result = assert_same_as_coco(pairs)
    by_class = {c.class_id: c for c in result.classes}
    assert by_class[4].ap is None and by_class[4].truth_objects == 0 and by_class[4].predicted_objects > 0
    stats, precision = coco_stats(pairs)
    for k, figures in enumerate(result.classes):
        if figures.ap is not None:
            assert figures.ap == pytest.approx(float(np.mean(precision[:, :, k])), abs=1e-12)


def test_unscored_predictions_and_empty_images_equal_cocoeval() -> None:
    rng = np.random.default_rng(3)
    pairs = []
    for index in range(6):
        truth = _synthetic_truth(rng, 2)
        prediction = perturb(truth.ids, rng, classes=2)
        prediction = InstanceMask(prediction.ids, prediction.classes)  # no scores: all 1.0, ties by id
        if index == 2:
            prediction = InstanceMask(np.zeros_like(truth.ids), {})
        pairs.append((truth, prediction))
    assert_same_as_coco(pairs)


def test_no_ground_truth_at_all_is_none() -> None:
    evaluator = InstanceAPEvaluator()
    ids = np.zeros((8, 8), np.uint8)
    ids[:3, :3] = 1
    evaluator.add("a", InstanceMask(np.zeros((8, 8), np.uint8), {}), InstanceMask(ids, {1: 1}, {1: 0.3}))
    result = evaluator.result()
    assert result.ap is None and result.ap50 is None and result.classes[0].predicted_objects == 1
