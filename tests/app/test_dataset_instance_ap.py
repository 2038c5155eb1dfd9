"""A project's instance AP (:func:`dataset_instance_scores`) equal to pycocotools' COCOeval on Penn-Fudan, with the
predictions written where the window writes them (``segstudio-predictions/<model>/<key>.png``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.app.dataset_instance_ap import SCORING_INSTANCE_AP, dataset_instance_scores
from segstudio.app.project_predictions import app_predictions, prediction_path
from segstudio.core.errors import FileProblem
from segstudio.core.instances import InstanceMask
from segstudio.core.progress import CancelToken, Cancelled, Progress
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.io.mask_files import read_instance_mask, write_class_mask, write_instance_mask
from tests.core.test_instance_ap import coco_stats, grow

MODEL = "maskrcnn-test"

# What each image's prediction does to its pedestrians (by instance id), in the dataset's (sorted) order. "merge"
# paints objects 1 and 2 as one prediction; "fp" adds a false-positive box; "dup" a shifted copy of object 1.
PLANS: dict[str, tuple[str, ...]] = {
    "FudanPed00003": ("exact",),
    "FudanPed00004": ("dilate", "drop", "fp"),
    "FudanPed00005": ("merge", "dup"),
    "FudanPed00006": ("erode", "dilate"),
    "FudanPed00009": ("shift", "exact", "fp"),
    "FudanPed00016": ("dilate", "exact", "drop", "fp", "fp"),
}


@pytest.fixture
def project(shared_data: Path, tmp_path: Path) -> Dataset:
    """Six Penn-Fudan images with their pedestrian masks, copied (the shared data is never written)."""
    source, root = shared_data / "pennfudan", tmp_path / "pennfudan"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for name in PLANS:
        if not (source / "PedMasks" / f"{name}_mask.png").is_file():
            pytest.skip(f"Penn-Fudan image {name} not found under {source}")
        shutil.copy(source / "PNGImages" / f"{name}.png", root / "PNGImages" / f"{name}.png")
        shutil.copy(source / "PedMasks" / f"{name}_mask.png", root / "PedMasks" / f"{name}_mask.png")
    return open_dataset(root)


def perturbed(truth: np.ndarray, plan: tuple[str, ...], rng: np.random.Generator) -> InstanceMask:
    """A prediction of ``truth``'s objects following ``plan`` (see :data:`PLANS`), with random scores, some tied."""
    ids = np.zeros(truth.shape, dtype=np.uint8)
    classes: dict[int, int] = {}

    def paint(region: np.ndarray) -> None:
        region = region & (ids == 0)
        if region.any():
            new = len(classes) + 1
            ids[region] = new
            classes[new] = 1

    for object_id, action in enumerate(plan, start=1):
        region = truth == object_id
        if action == "exact":
            paint(region)
        elif action == "dilate":
            paint(grow(region, 3 + object_id))
        elif action == "erode":
            paint(~grow(~region, 4))
        elif action == "shift":
            paint(np.roll(region, 18, axis=1))
        elif action == "merge":
            paint((truth == 1) | (truth == 2))
        elif action == "dup":
            paint(np.roll(truth == 1, 9, axis=1))
        elif action == "fp":
            top, left = int(rng.integers(0, truth.shape[0] - 60)), int(rng.integers(0, truth.shape[1] - 40))
            box = np.zeros(truth.shape, bool)
            box[top : top + 60, left : left + 40] = True
            paint(box)
        else:
            assert action == "drop"
    scores = {i: float(rng.choice([rng.random(), 0.5])) for i in classes}  # ties on purpose: COCO's stable order
    return InstanceMask(ids, classes, scores)


def write_predictions(dataset: Dataset) -> list[tuple[InstanceMask, InstanceMask]]:
    """Write every image's perturbed prediction; (truth, prediction) pairs in the dataset's sample order."""
    rng = np.random.default_rng(5)
    pairs = []
    for sample in dataset.samples:
        truth_path = dataset.ground_truth(sample)
        assert truth_path is not None
        truth = read_instance_mask(truth_path)
        prediction = perturbed(np.asarray(truth.ids), PLANS[sample.name], rng)
        path = prediction_path(dataset, MODEL, sample)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_instance_mask(path, prediction)
        pairs.append((truth, prediction))
    return pairs


def test_dataset_ap_equals_cocoeval_on_penn_fudan(project: Dataset) -> None:
    pairs = write_predictions(project)
    predictions = app_predictions(project)
    assert len(predictions) == len(PLANS)
    seen: list[Progress] = []
    result = dataset_instance_scores(project, predictions, progress=seen.append)
    assert result is not None
    stats, precision = coco_stats(pairs)
    scores = result.scores
    assert scores.ap == pytest.approx(stats[0], abs=1e-12)
    assert scores.ap50 == pytest.approx(stats[1], abs=1e-12)
    assert scores.ap75 == pytest.approx(stats[2], abs=1e-12)
    np.testing.assert_allclose(scores.precision, precision, atol=1e-12, rtol=0)
    assert 0.0 < scores.ap < scores.ap50 < 1.0  # the perturbations cost something, not everything
    assert scores.images == len(PLANS)
    assert [c.name for c in scores.classes] == [project.spec.labels.name_of(1)]
    assert scores.truth_objects == sum(t.num_instances for t, _ in pairs)
    assert scores.predicted_objects == sum(p.num_instances for _, p in pairs)
    assert result.notes() == []
    assert [p.done for p in seen] == list(range(1, len(PLANS) + 1))
    assert {p.stage for p in seen} == {SCORING_INSTANCE_AP}

    # The per-image figures add up to the table and say what each plan did.
    figures = {f.key.rpartition("/")[2]: f for f in result.per_image}
    assert list(figures) == list(PLANS)
    assert sum(f.matched_objects for f in result.per_image) == scores.matched_objects
    exact = figures["FudanPed00003"]
    assert (exact.truth_objects, exact.predicted_objects, exact.matched_objects) == (1, 1, 1)
    assert exact.mean_matched_iou == 1.0 and exact.missed_objects == 0 and exact.false_positives == 0
    dropped = figures["FudanPed00004"]  # one dilated (matched), one dropped (missed), one false positive
    assert (dropped.truth_objects, dropped.predicted_objects, dropped.matched_objects) == (2, 2, 1)
    assert dropped.missed_objects == 1 and dropped.false_positives == 1
    assert 0.5 <= dropped.mean_matched_iou < 1.0
    merged = figures["FudanPed00005"]  # two pedestrians as one prediction: at most one of them matched
    assert merged.truth_objects == 2 and merged.matched_objects <= 1 and merged.missed_objects >= 1
    many = figures["FudanPed00016"]
    assert (many.truth_objects, many.predicted_objects) == (3, 4) and many.matched_objects == 2
    # A researcher sorts images by these; the worst by matched IoU is not the exact copy.
    worst = min((f for f in result.per_image if f.mean_matched_iou is not None), key=lambda f: f.mean_matched_iou)
    assert worst.key != exact.key and worst.mean_matched_iou < 1.0


def test_class_mask_predictions_give_no_ap(project: Dataset) -> None:
    labels = project.spec.labels
    for sample in project.samples:
        truth = read_instance_mask(project.ground_truth(sample))
        path = prediction_path(project, MODEL, sample)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_class_mask(path, truth.to_class_mask(), labels)
    predictions = app_predictions(project)
    assert len(predictions) == len(PLANS)
    assert dataset_instance_scores(project, predictions) is None
    assert dataset_instance_scores(project, {}) is None

    # With some written as instances, those are scored and the others are counted in a note.
    pairs = write_predictions(project)
    keys = [sample.key for sample in project.samples]
    for sample in project.samples[:2]:
        truth = read_instance_mask(project.ground_truth(sample))
        write_class_mask(prediction_path(project, MODEL, sample), truth.to_class_mask(), labels)
    result = dataset_instance_scores(project, app_predictions(project))
    assert result is not None
    assert result.class_mask_predictions == tuple(keys[:2])
    assert [f.key for f in result.per_image] == keys[2:]
    assert "2 images' predictions are class masks: no AP" in result.notes()
    stats, _ = coco_stats(pairs[2:])
    assert result.scores.ap == pytest.approx(stats[0], abs=1e-12)
    assert result.scores.images == len(keys) - 2


def test_missing_predictions_and_cancel(project: Dataset) -> None:
    write_predictions(project)
    predictions = app_predictions(project)
    kept = dict(list(predictions.items())[:3])
    result = dataset_instance_scores(project, kept)
    assert result is not None and len(result.per_image) == 3
    assert len(result.without_prediction) == len(PLANS) - 3
    assert f"{len(PLANS) - 3} images with instance ground truth have no prediction" in result.notes()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        dataset_instance_scores(project, predictions, cancel=token)


def test_broken_prediction_file_names_it(project: Dataset) -> None:
    write_predictions(project)
    predictions = app_predictions(project)
    broken = predictions[project.samples[3].key]
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # a PNG cut off mid-write
    with pytest.raises(FileProblem) as raised:
        dataset_instance_scores(project, predictions)
    assert raised.value.path == broken and broken.name in str(raised.value)


def test_mis_sized_prediction_names_it(project: Dataset) -> None:
    write_predictions(project)
    predictions = app_predictions(project)
    small = predictions[project.samples[1].key]
    write_instance_mask(small, InstanceMask(np.zeros((5, 7), np.uint8), {}))
    with pytest.raises(FileProblem) as raised:
        dataset_instance_scores(project, predictions)
    assert raised.value.path == small and "7x5" in str(raised.value)

