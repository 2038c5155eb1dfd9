"""An epoch's validation on whole images, shared out between the run's processes: class-mask scores and, for an
instance model, the COCO mask AP of its detections (:mod:`segstudio.models.training.instance_validation`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from segstudio.core.instance_ap import InstanceAPScores
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.core.progress import CancelToken
from segstudio.models.predictor import Predictor
from segstudio.models.registry import Task
from segstudio.models.training.distributed import Agreement, shard_of
from segstudio.models.training.instance_validation import DetectionAP, detection_overlaps
from segstudio.models.training.setup import RunSetup


@dataclass(frozen=True)
class Validation:
    """One validation pass: class-mask scores, and for an instance model the mask AP of its detections."""

    scores: Scores
    detection_ap: InstanceAPScores | None = None


def validate(predictor: Predictor, setup: RunSetup, agree: Agreement, cancel: CancelToken | None) -> Validation:
    """Whole validation images. Semantic: the confusion of class masks. Instance: the class mask of the
    instances at the predictor's score threshold (for the class IoU figures) and, from every detection the model
    returns (no score cut of ours), the COCO mask AP.

    Each process validates every world_size-th image; the counts are summed and the overlaps gathered in the
    validation order, so every process ends with the figures one process would have computed."""
    labels = setup.labels
    instance = setup.task is Task.INSTANCE
    matrix = np.zeros((labels.num_classes, labels.num_classes), dtype=np.int64)
    detections: list[tuple[int, str, Any]] = []  # (validation index, key, overlaps), for the mask AP
    for index, sample in shard_of(setup.val, agree.ranks):
        if cancel is not None:
            cancel.raise_if_cancelled()
        image = setup.reader.image(sample)
        prediction = predictor.predict(image, cancel=cancel)
        predicted = prediction.classes
        if instance:
            instances = setup.reader.instance_mask(sample)
            if prediction.candidates is None:
                raise ValueError("instance validation needs the model's soft masks (torchvision's 'masks' output)")
            detections.append((index, sample.key, detection_overlaps(instances, prediction.candidates)))
            truth = instances.to_class_mask(predicted.dtype)
            ignore = None
        else:
            truth, ignore = setup.reader.class_mask(sample), labels.ignore_index
        matrix += confusion_matrix(truth, predicted, labels.num_classes, ignore)
    matrix = agree.sum_counts(matrix)
    if not instance:
        return Validation(Scores.from_confusion(matrix, labels.names))
    detection_ap = DetectionAP(dict(enumerate(labels.names)))
    for _, key, overlaps in sorted(agree.gather(detections), key=lambda found: found[0]):
        detection_ap.add_overlaps(key, overlaps)
    return Validation(Scores.from_confusion(matrix, labels.names), detection_ap.result())
