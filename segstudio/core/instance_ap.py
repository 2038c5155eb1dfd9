"""Dataset mask AP, accumulated image by image, as ``pycocotools.cocoeval.COCOeval(iouType="segm")`` computes it.

COCO's conventions, replicated: IoU thresholds ``np.linspace(.5, .95, 10)``; 101 recall points
``np.linspace(0, 1, 101)``; at most 100 predictions per image and class (the best scored); area range "all"; the
greedy matching of :func:`~segstudio.core.instance_matching.greedy_match`; the detections of all images pooled per
class and sorted by descending score with a stable sort (images in the order they were added, so give them in
COCO's image id order to reproduce it exactly); precision made monotone from the right and read at the first
detection reaching each recall point (0 past the last); AP the mean over thresholds and recall points, and the
overall AP the mean over the classes that have ground truth.

Where COCOeval differs in form: a class without any ground-truth object has precision -1 there and is left out of
its means; here its AP is ``None`` (n/a), and it is left out of the overall figures the same way. When no class has
ground truth, COCOeval says -1 and this says ``None``. Crowd regions (``iscrowd``) and other area ranges or
``maxDets`` are not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segstudio.core.instance_matching import InstanceOverlaps, class_members, greedy_match, instance_overlaps
from segstudio.core.instances import InstanceMask

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_POINTS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETECTIONS = 100
_AT_50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
_AT_75 = int(np.flatnonzero(IOU_THRESHOLDS == 0.75)[0])


@dataclass(frozen=True)
class ClassAP:
    """One class's AP figures (``None``: no ground-truth object of the class) and object counts.

    ``matched_objects``: predictions matched at IoU 0.5 (of the 100 best scored per image); ``predicted_objects`` and
    ``truth_objects``: all of them."""

    class_id: int
    name: str
    ap: float | None
    ap50: float | None
    ap75: float | None
    matched_objects: int
    predicted_objects: int
    truth_objects: int

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "class_id": self.class_id, "name": self.name, "ap": self.ap, "ap50": self.ap50, "ap75": self.ap75,
            "matched_objects": self.matched_objects, "predicted_objects": self.predicted_objects,
            "truth_objects": self.truth_objects,
        }  # fmt: skip


@dataclass(frozen=True, eq=False)
class InstanceAPScores:
    """The dataset's AP: per class (ascending id) and overall (mean over the classes with ground truth).

    ``precision`` is COCOeval's ``eval["precision"][:, :, :, 0, -1]``: (thresholds, recall points, classes), -1 for a
    class without ground truth."""

    classes: tuple[ClassAP, ...]
    ap: float | None
    ap50: float | None
    ap75: float | None
    images: int
    precision: np.ndarray = field(repr=False)

    @property
    def matched_objects(self) -> int:
        return sum(c.matched_objects for c in self.classes)

    @property
    def predicted_objects(self) -> int:
        return sum(c.predicted_objects for c in self.classes)

    @property
    def truth_objects(self) -> int:
        return sum(c.truth_objects for c in self.classes)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "ap": self.ap, "ap50": self.ap50, "ap75": self.ap75, "images": self.images,
            "matched_objects": self.matched_objects, "predicted_objects": self.predicted_objects,
            "truth_objects": self.truth_objects, "iou_thresholds": [float(t) for t in IOU_THRESHOLDS],
            "max_detections": MAX_DETECTIONS, "classes": [c.to_json_dict() for c in self.classes],
        }  # fmt: skip


@dataclass
class _ClassPool:
    scores: list[np.ndarray] = field(default_factory=list)
    matched: list[np.ndarray] = field(default_factory=list)  # (T, D) bool per image
    truths: int = 0
    predictions: int = 0


class InstanceAPEvaluator:
    """Add images one by one (:meth:`add` or :meth:`add_overlaps`), then read :meth:`result`."""

    def __init__(self, class_names: Mapping[int, str] | None = None) -> None:
        self._names = dict(class_names or {})
        self._pools: dict[int, _ClassPool] = {}
        self._images: list[str] = []

    def add(self, name: str, truth: InstanceMask, prediction: InstanceMask) -> InstanceOverlaps:
        """Score one image; returns its overlaps (for :func:`~segstudio.core.instance_matching.match_overlaps`)."""
        overlaps = instance_overlaps(truth, prediction)
        self.add_overlaps(name, overlaps)
        return overlaps

    def add_overlaps(self, name: str, overlaps: InstanceOverlaps) -> None:
        ious = overlaps.ious()
        for class_id in overlaps.class_ids:
            truths, predictions = class_members(overlaps, class_id)
            pool = self._pools.setdefault(class_id, _ClassPool())
            pool.truths += len(truths)
            pool.predictions += len(predictions)
            kept = predictions[:MAX_DETECTIONS]
            matched = greedy_match(ious[np.ix_(kept, truths)], IOU_THRESHOLDS) >= 0
            pool.scores.append(overlaps.prediction_scores[kept])
            pool.matched.append(matched)
        self._images.append(name)

    def result(self) -> InstanceAPScores:
        class_ids = sorted(self._pools)
        precision = -np.ones((len(IOU_THRESHOLDS), len(RECALL_POINTS), len(class_ids)))
        classes = []
        for k, class_id in enumerate(class_ids):
            pool = self._pools[class_id]
            if pool.truths:
                precision[:, :, k] = _precision(pool)
            have = pool.truths > 0
            matched = int(sum(m[_AT_50].sum() for m in pool.matched))
            classes.append(ClassAP(
                class_id, self._names.get(class_id, f"class {class_id}"),
                _mean(precision[:, :, k]) if have else None,
                _mean(precision[_AT_50, :, k]) if have else None,
                _mean(precision[_AT_75, :, k]) if have else None,
                matched, pool.predictions, pool.truths,
            ))  # fmt: skip
        return InstanceAPScores(
            tuple(classes), _mean(precision), _mean(precision[_AT_50]), _mean(precision[_AT_75]), len(self._images),
            precision,
        )  # fmt: skip


def _precision(pool: _ClassPool) -> np.ndarray:
    """(T, R) interpolated precision of one class, COCOeval.accumulate's arithmetic."""
    scores = np.concatenate(pool.scores) if pool.scores else np.zeros(0)
    matched = np.concatenate(pool.matched, axis=1) if pool.matched else np.zeros((len(IOU_THRESHOLDS), 0), bool)
    order = np.argsort(-scores, kind="mergesort")
    tps = matched[:, order]
    tp_sum = np.cumsum(tps, axis=1).astype(np.float64)
    fp_sum = np.cumsum(~tps, axis=1).astype(np.float64)
    result = np.zeros((len(IOU_THRESHOLDS), len(RECALL_POINTS)))
    detections = tps.shape[1]
    if detections == 0:
        return result
    for t in range(len(IOU_THRESHOLDS)):
        tp, fp = tp_sum[t], fp_sum[t]
        recall = tp / pool.truths
        precision = tp / (fp + tp + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # COCOeval's right-to-left max, in one pass
        where = np.searchsorted(recall, RECALL_POINTS, side="left")
        inside = where < detections
        result[t, inside] = precision[where[inside]]
    return result


def _mean(values: np.ndarray) -> float | None:
    """COCOeval.summarize's mean: over the entries > -1; None (COCOeval: -1) when there are none."""
    kept = values[values > -1]
    return float(np.mean(kept)) if kept.size else None
