"""Instance-model validation: COCO mask AP of the raw detections, and the best epoch chosen by mask AP@0.5."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from segstudio.core.instance_ap import InstanceAPEvaluator
from segstudio.core.instance_candidates import InstanceCandidates
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.progress import Progress
from segstudio.core.value_map import ValueMap
from segstudio.models.checkpoints import load_checkpoint
from segstudio.models.predictor import Predictor
from segstudio.models.training import (
    MASK_AP50,
    MEAN_IOU,
    EpochRecord,
    TrainingConfig,
    TrainingData,
    TrainingSample,
    resume_state_path,
)
from segstudio.models.training import train as train_on_samples
from segstudio.models.training.instance_validation import DetectionAP, detection_overlaps
from segstudio.models.training.runner import epoch_score, keeps_best

# -- COCOeval on the same detections ----------------------------------------------------------------------------


def _coco_ap(truths: list[InstanceMask], detections: list[InstanceCandidates], classes: tuple[int, ...]) -> np.ndarray:
    """pycocotools' segm stats for ground-truth instance masks and overlapping detections (mask: probability > 0.5)."""
    images, annotations, results = [], [], []
    for image_id, (truth, found) in enumerate(zip(truths, detections, strict=True), start=1):
        height, width = truth.shape
        images.append({"id": image_id, "height": height, "width": width})
        for instance_id in np.unique(truth.ids[truth.ids > 0]).tolist():
            rle = coco_mask.encode(np.asfortranarray((truth.ids == instance_id).astype(np.uint8)))
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": int(truth.classes[instance_id]),
                "segmentation": rle, "area": float(coco_mask.area(rle)), "iscrowd": 0,
                "bbox": coco_mask.toBbox(rle).tolist(),
            })  # fmt: skip
        for index in range(len(found)):
            binary = np.zeros(found.shape, np.uint8)
            y0, x0, y1, x1 = found.boxes[index]
            binary[y0:y1, x0:x1] = found.masks[index] > 127  # stored q/255 > 0.5
            results.append({
                "image_id": image_id, "category_id": int(found.classes[index]),
                "segmentation": coco_mask.encode(np.asfortranarray(binary)), "score": float(found.scores[index]),
            })  # fmt: skip
    ground_truth = COCO()
    ground_truth.dataset = {"images": images, "annotations": annotations,
                            "categories": [{"id": c, "name": str(c)} for c in classes]}
    ground_truth.createIndex()
    evaluation = COCOeval(ground_truth, ground_truth.loadRes(results), iouType="segm")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return evaluation.stats


def _hand_made_image(rng: np.random.Generator, height: int = 48, width: int = 64) -> tuple[InstanceMask, InstanceCandidates]:
    """Three or four objects of classes 1 and 2, and detections around them that overlap each other: shifted and
    grown copies, one box covering two objects, a spurious one, one whose mask is empty, tied scores."""
    ids = np.zeros((height, width), np.uint16)
    classes: dict[int, int] = {}
    count = int(rng.integers(3, 5))
    for instance in range(1, count + 1):
        h, w = (int(v) for v in rng.integers(8, 20, size=2))
        y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        ids[y : y + h, x : x + w] = instance  # later objects occlude earlier ones, as instance PNGs store them
        classes[instance] = int(rng.integers(1, 3))
    truth = InstanceMask(ids, classes)
    soft, scores, labels = [], [], []
    for instance in np.unique(ids[ids > 0]).tolist():
        for _ in range(int(rng.integers(1, 4))):
            shifted = np.roll(ids == instance, tuple(int(v) for v in rng.integers(-4, 5, size=2)), axis=(0, 1))
            soft.append(np.where(shifted, 0.9, 0.2))  # 0.2: a probability below the mask threshold
            scores.append(round(float(rng.random()), 1))  # rounded: ties in score, which COCOeval breaks by order
            labels.append(classes[instance] if rng.random() < 0.8 else 3 - classes[instance])
    covering = np.zeros((height, width))
    covering[height // 4 : 3 * height // 4, :] = 0.95
    spurious = np.zeros((height, width))
    spurious[:6, :6] = 0.7
    for mask, score, label in ((covering, 0.85, 1), (spurious, 0.6, 2), (np.full((height, width), 0.3), 0.5, 1)):
        soft.append(mask)
        scores.append(score)
        labels.append(label)
    return truth, InstanceCandidates.from_soft_masks(np.stack(soft), scores, labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_ap_of_overlapping_detections_equals_cocoeval(seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = [_hand_made_image(rng) for _ in range(4)]
    ap = DetectionAP()
    for index, (truth, found) in enumerate(images):
        ap.add(str(index), truth, found)
    result = ap.result()
    stats = _coco_ap([t for t, _ in images], [f for _, f in images], (1, 2))
    assert result.ap is not None and result.ap50 is not None and result.ap75 is not None
    assert 0.0 < result.ap50 < 1.0  # neither trivially perfect nor trivially zero
    assert result.ap == pytest.approx(stats[0], abs=1e-12)
    assert result.ap50 == pytest.approx(stats[1], abs=1e-12)
    assert result.ap75 == pytest.approx(stats[2], abs=1e-12)


def test_without_overlaps_the_detections_score_as_the_instance_mask_they_resolve_to() -> None:
    """Where no two detections overlap, resolving them into one InstanceMask changes nothing: the validation AP
    must then be segstudio.core.instance_ap's AP of that mask (scored instances in descending-score id order)."""
    ids = np.zeros((30, 40), np.uint8)
    ids[2:12, 2:14], ids[15:28, 20:38], ids[3:10, 25:33] = 1, 2, 3
    truth = InstanceMask(ids, {1: 1, 2: 1, 3: 2})
    soft = np.zeros((4, 30, 40))
    soft[0, 2:12, 3:14] = 0.9  # matches object 1
    soft[1, 14:28, 22:38] = 0.8  # matches object 2
    soft[2, 20:24, 2:8] = 0.7  # matches nothing
    soft[3, 3:10, 25:31] = 0.9  # object 3's class, IoU 42/56 = 0.75
    found = InstanceCandidates.from_soft_masks(soft, [0.9, 0.4, 0.7, 0.3], [1, 1, 1, 2])
    ap = DetectionAP()
    ap.add("one", truth, found)
    reference = InstanceAPEvaluator()
    reference.add("one", truth, found.resolve(score_threshold=0.0))
    ours, theirs = ap.result(), reference.result()
    assert ours.ap50 == theirs.ap50 and ours.ap == theirs.ap
    assert [c.ap for c in ours.classes] == [c.ap for c in theirs.classes]
    assert ours.ap50 == pytest.approx(_coco_ap([truth], [found], (1, 2))[1], abs=1e-12)


def test_an_empty_detection_mask_counts_as_a_false_positive() -> None:
    ids = np.zeros((20, 20), np.uint8)
    ids[5:15, 5:15] = 1
    truth = InstanceMask(ids, {1: 1})
    soft = np.zeros((2, 20, 20))
    soft[1, 5:15, 5:15] = 0.9
    found = InstanceCandidates.from_soft_masks(soft, [0.9, 0.8], [1, 1])  # the better scored one has no pixel
    overlaps = detection_overlaps(truth, found)
    assert overlaps.prediction_areas.tolist() == [0, 100] and overlaps.intersections.tolist() == [[0], [100]]
    ap = DetectionAP()
    ap.add("one", truth, found)
    # recall 1 is only reached at the second detection, at precision 1/2
    assert ap.result().ap50 == pytest.approx(0.5)
    assert ap.result().ap50 == pytest.approx(_coco_ap([truth], [found], (1,))[1], abs=1e-12)


def test_detections_for_another_image_size_are_refused() -> None:
    truth = InstanceMask(np.zeros((10, 12), np.uint8), {})
    found = InstanceCandidates.from_soft_masks(np.zeros((1, 10, 10)), [0.5], [1])
    with pytest.raises(ValueError, match="10x10 image but the ground truth is 12x10"):
        detection_overlaps(truth, found)


# -- which epoch is kept -----------------------------------------------------------------------------------------


def _record(epoch: int, mean_iou: float | None, mask_ap50: float | None, score_key: str) -> EpochRecord:
    return EpochRecord(epoch=epoch, steps=epoch, train_loss=1.0, learning_rate=1e-3, mean_iou=mean_iou, mean_dice=None,
                       pixel_accuracy=None, mask_ap50=mask_ap50, mask_ap=None, score_key=score_key)


def _kept(history: list[EpochRecord]) -> int | None:
    """The epoch the runner keeps, replaying its rule over ``history``."""
    best_epoch, best = None, None
    for record in history:
        if keeps_best(epoch_score(record), best):
            best_epoch, best = record.epoch, epoch_score(record)
    return best_epoch


def test_an_instance_model_keeps_the_epoch_of_best_mask_ap_not_of_best_class_iou() -> None:
    figures = [(0.80, 0.20), (0.50, 0.40), (0.70, 0.30)]  # (class mean IoU, mask AP@0.5): they disagree
    instance = [_record(e, iou, ap, MASK_AP50) for e, (iou, ap) in enumerate(figures, start=1)]
    semantic = [_record(e, iou, None, MEAN_IOU) for e, (iou, _) in enumerate(figures, start=1)]
    assert _kept(instance) == 2
    assert _kept(semantic) == 1
    assert instance[1].score == 0.40 and instance[1].score_name == "mask AP@0.5"


def test_an_ap_tie_keeps_the_later_epoch_and_n_a_ranks_last() -> None:
    assert _kept([_record(1, 0.9, 0.0, MASK_AP50), _record(2, 0.1, 0.0, MASK_AP50)]) == 2
    assert _kept([_record(1, 0.1, 0.3, MASK_AP50), _record(2, 0.9, None, MASK_AP50)]) == 1


def test_records_without_the_ap_fields_read_as_ranked_by_mean_iou() -> None:
    """Resume states and checkpoint summaries written before the AP fields existed still read."""
    old = {"epoch": 3, "steps": 9, "train_loss": 0.5, "learning_rate": 1e-3, "mean_iou": 0.6, "mean_dice": 0.7,
           "pixel_accuracy": 0.9, "class_iou": [0.9, 0.3], "class_dice": [0.95, 0.45], "seconds": 2.0, "partial": False}
    record = EpochRecord.from_mapping(old)
    assert record.score_key == MEAN_IOU and record.mask_ap50 is None and record.score == 0.6
    assert set(record.metrics) == {"loss", "mean_iou", "mean_dice", "pixel_accuracy"}  # semantic: unchanged
    instance = _record(2, 0.4, 0.25, MASK_AP50)
    assert EpochRecord.from_mapping(instance.to_mapping()) == instance
    assert instance.metrics["mask_ap50"] == 0.25 and "mask_ap" in instance.metrics
    with pytest.raises(ValueError, match="unknown score_key"):
        _record(1, 0.4, 0.25, "accuracy")


# -- a tiny Mask R-CNN run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _InstancesByName:
    """SampleFiles over in-memory images and instance masks, keyed by the sample paths' names."""

    images: dict[str, np.ndarray]
    masks: dict[str, InstanceMask]

    def read_image(self, path: Path) -> np.ndarray:
        return self.images[path.name]

    def read_class_mask(self, path: Path, labels: LabelSet, value_map: ValueMap | None, expected_size: tuple[int, int]) -> np.ndarray:
        raise AssertionError("an instance run reads no class masks")

    def read_instance_mask(self, path: Path) -> InstanceMask:
        return self.masks[path.name]


def _blob_data(count: int = 5) -> TrainingData:
    """``count`` 64x80 grey images with two or three large bright rectangles each (class 1); the last two validate."""
    rng = np.random.default_rng(11)
    images, masks, samples = {}, {}, []
    for index in range(count):
        ids = np.zeros((64, 80), np.uint8)
        ids[4 + index : 34 + index, 4:36] = 1
        ids[30:60, 44 - index : 76 - index] = 2
        if index % 2:
            ids[40:60, 6:26] = 3
        image = (rng.random((64, 80, 3)) * 40).astype(np.uint8)
        image[ids > 0] += np.uint8(150)
        images[f"{index}.png"] = image
        masks[f"{index}_mask.png"] = InstanceMask(ids, {i: 1 for i in range(1, 4)})
        nowhere = Path("/nonexistent")
        split = "val" if index >= count - 2 else "train"
        samples.append(TrainingSample(str(index), nowhere / f"{index}.png", nowhere / f"{index}_mask.png", split=split))
    return TrainingData(LabelSet.from_names(["background", "blob"]), tuple(samples), _InstancesByName(images, masks), "memory")


@pytest.mark.usefixtures("one_torch_thread")
def test_a_tiny_mask_rcnn_run_reports_mask_ap_per_epoch_and_keeps_the_best_by_it(tmp_path: Path) -> None:
    data = _blob_data()
    config = TrainingConfig(
        architecture="mask_rcnn", encoder="mobilenet_v3", options={"min_size": 64, "max_size": 96},
        epochs=2, batch_size=2, samples_per_epoch=2, seed=0, device="cpu",
    )  # fmt: skip
    seen: list[Progress] = []
    result = train_on_samples(data, config, tmp_path / "blobs.safetensors", progress=seen.append)
    assert [r.epoch for r in result.history] == [1, 2] and result.val_keys == ("3", "4")
    for record in result.history:
        assert record.score_key == MASK_AP50
        assert record.mask_ap50 is not None and 0.0 <= record.mask_ap50 <= 1.0
        assert record.mask_ap is not None and 0.0 <= record.mask_ap <= 1.0
    validations = [p for p in seen if p.stage == "validate"]
    assert len(validations) == 2
    for progress, record in zip(validations, result.history, strict=True):
        assert "mask AP@0.5" in progress.message and "mean IoU" not in progress.message.split("(")[0]
        assert progress.metrics["mask_ap50"] == record.mask_ap50
    expected = 2 if epoch_score(result.history[1]) >= epoch_score(result.history[0]) else 1
    assert result.best_epoch == expected and result.best_record is result.history[expected - 1]
    assert result.best_metrics["mask_ap50"] == result.best_record.mask_ap50
    # The checkpoint is the best epoch's model and says what chose it; its detections, scored by pycocotools,
    # give the AP the run recorded for that epoch.
    loaded = load_checkpoint(result.checkpoint)
    assert loaded.meta.metrics["mask_ap50"] == result.best_record.mask_ap50
    assert loaded.meta.training["selected_by"] == MASK_AP50
    assert [r["mask_ap50"] for r in loaded.meta.training["history"]][: result.best_epoch] == [
        r.mask_ap50 for r in result.history[: result.best_epoch]
    ]
    predictor = Predictor.from_checkpoint(loaded, device="cpu")
    truths, detections = [], []
    for key in result.val_keys:
        prediction = predictor.predict(data.files.images[f"{key}.png"])
        assert prediction.candidates is not None
        truths.append(data.files.masks[f"{key}_mask.png"])
        detections.append(prediction.candidates)
    assert sum(len(d) for d in detections) > 0  # the AP below is of real detections, not of none
    stats = _coco_ap(truths, detections, (1,))
    assert result.best_record.mask_ap50 == pytest.approx(stats[1], abs=1e-9)
    assert result.best_record.mask_ap == pytest.approx(stats[0], abs=1e-9)


@pytest.mark.usefixtures("one_torch_thread")
def test_resuming_a_run_whose_best_was_chosen_by_class_iou_ranks_by_mask_ap_from_then_on(tmp_path: Path) -> None:
    """A resume state written before instance runs were ranked by AP holds a best class IoU; an AP must not be
    compared with it (a 0.9 IoU would keep the old epoch against every AP), so the resumed epoch replaces it."""
    data = _blob_data()
    config = TrainingConfig(
        architecture="mask_rcnn", encoder="mobilenet_v3", options={"min_size": 64, "max_size": 96},
        epochs=1, batch_size=2, samples_per_epoch=2, seed=0, device="cpu", keep_resume_state=True,
    )  # fmt: skip
    out = tmp_path / "blobs.safetensors"
    train_on_samples(data, config, out)
    path = resume_state_path(out)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    saved["best"] = {"epoch": 1, "score": 0.9, "metrics": {"loss": 1.0, "mean_iou": 0.9}}  # as an older run wrote it
    saved["history"] = [
        {k: v for k, v in r.items() if k not in ("mask_ap50", "mask_ap", "score_key")} | {"mean_iou": 0.9}
        for r in saved["history"]
    ]
    torch.save(saved, path)
    result = train_on_samples(data, replace(config, epochs=2), out, resume=True)
    assert result.history[0].score_key == MEAN_IOU and result.history[1].score_key == MASK_AP50
    assert result.best_epoch == 2 and result.best_metrics["mask_ap50"] == result.history[1].mask_ap50
    assert any("chosen by mean_iou" in note for note in result.notes)
