"""Validating an instance model as COCO does: mask AP of its raw detections against the ground-truth instances.

COCO scores every detection a model returns, each with its own (possibly overlapping) mask, not the one-id-per-pixel
:class:`~segstudio.core.instances.InstanceMask` the app shows. So validation does not resolve overlaps and does not
apply the display score threshold: every detection in the model's :class:`~segstudio.core.instance_candidates.
InstanceCandidates` counts, its mask being the pixels whose probability exceeds ``mask_threshold`` (0.5, as
torchvision pastes masks for COCO). No score floor is added here; the only floor is the model's own: torchvision's
Mask R-CNN drops detections under ``box_score_thresh`` (0.05 by default) and keeps at most
``box_detections_per_img`` (100) per image, as in COCO's reference evaluation.

The AP itself is :class:`~segstudio.core.instance_ap.InstanceAPEvaluator`'s (COCOeval's arithmetic: greedy
matching per class, 100 detections per image and class, 101 recall points); this module only counts each
detection's pixel intersections with the ground-truth objects (:func:`detection_overlaps`) for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import floor

import numpy as np

from segstudio.core.instance_ap import InstanceAPEvaluator, InstanceAPScores
from segstudio.core.instance_candidates import LEVELS, InstanceCandidates
from segstudio.core.instance_matching import InstanceOverlaps, instance_overlaps
from segstudio.core.instances import InstanceMask

MASK_THRESHOLD = 0.5


def detection_overlaps(
    truth: InstanceMask, detections: InstanceCandidates, *, mask_threshold: float = MASK_THRESHOLD
) -> InstanceOverlaps:
    """Every detection (overlaps kept) against ``truth``'s objects: prediction ``i + 1`` is detection ``i``.

    A detection whose mask has no pixel above ``mask_threshold`` is kept with area 0: COCOeval scores it as a
    false positive too (IoU 0 with everything), so dropping it would flatter the AP.
    """
    if truth.shape != detections.shape:
        raise ValueError(f"the detections are for a {detections.shape[1]}x{detections.shape[0]} image but the "
                         f"ground truth is {truth.shape[1]}x{truth.shape[0]}")
    if not 0.0 <= mask_threshold <= 1.0:
        raise ValueError(f"mask_threshold must be between 0 and 1, got {mask_threshold}")
    # The ground truth's own objects, numbered 1..G over its pixels (0: background), through the shared counter.
    objects = instance_overlaps(truth, InstanceMask(np.zeros_like(truth.ids), {}))
    present = objects.truth_ids
    ids = truth.ids.astype(np.int64)  # ids can be large (COCO panoptic): a search, not a per-id table
    if len(present):
        where = np.minimum(np.searchsorted(present, ids), len(present) - 1)
        truth_index = np.where(present[where] == ids, where + 1, 0)
    else:
        truth_index = np.zeros(ids.shape, dtype=np.int64)
    cut = floor(mask_threshold * LEVELS + 1e-9)  # stored q / 255 > t  <=>  q > floor(255 t), as resolve() cuts
    count, objects_count = len(detections), len(objects.truth_ids)
    intersections = np.zeros((count, objects_count), dtype=np.int64)
    areas = np.zeros(count, dtype=np.int64)
    for i, ((y0, x0, y1, x1), soft) in enumerate(zip(detections.boxes.tolist(), detections.masks, strict=True)):
        inside = soft > cut
        areas[i] = int(inside.sum())
        if areas[i] and objects_count:
            hits = np.bincount(truth_index[y0:y1, x0:x1][inside], minlength=objects_count + 1)
            intersections[i] = hits[1:]
    return InstanceOverlaps(
        truth_ids=objects.truth_ids,
        truth_classes=objects.truth_classes,
        truth_areas=objects.truth_areas,
        prediction_ids=np.arange(1, count + 1, dtype=np.int64),
        prediction_classes=detections.classes.astype(np.int64),
        # float32 scores widened exactly: the ranking is the model's own
        prediction_scores=detections.scores.astype(np.float64),
        prediction_areas=areas,
        intersections=intersections,
    )


class DetectionAP:
    """Mask AP of a model's detections over validation images: :meth:`add` each image, then :meth:`result`."""

    def __init__(self, class_names: Mapping[int, str] | None = None, *, mask_threshold: float = MASK_THRESHOLD) -> None:
        self._evaluator = InstanceAPEvaluator(class_names)
        self.mask_threshold = float(mask_threshold)

    def add(self, name: str, truth: InstanceMask, detections: InstanceCandidates) -> None:
        self.add_overlaps(name, detection_overlaps(truth, detections, mask_threshold=self.mask_threshold))

    def add_overlaps(self, name: str, overlaps: InstanceOverlaps) -> None:
        """An image's :func:`detection_overlaps`, counted elsewhere (by another training process)."""
        self._evaluator.add_overlaps(name, overlaps)

    def result(self) -> InstanceAPScores:
        return self._evaluator.result()
