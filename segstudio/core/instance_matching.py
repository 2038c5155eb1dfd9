"""Matching predicted instances to ground-truth instances of one image, as COCO's ``COCOeval`` matches them.

:func:`instance_overlaps` counts every (truth, prediction) intersection in one pass: a joint histogram of the
pixel pairs (``np.bincount`` of ``truth index * (P + 1) + prediction index``), so the pairwise mask IoU of all
instances costs one pass over the pixels, whatever the number of instances. The counts are exact integers, so
``intersection / union`` is the very float ``pycocotools.mask.iou`` computes from run-length encodings.

:func:`match_overlaps` / :func:`match_instances` then match greedily, class by class (a prediction is only ever
matched to a ground-truth object of its own class): predictions in descending score (ties keep ascending
instance id, like COCOeval's stable sort keeps the order the results were given in), each taking the remaining
ground-truth object of highest IoU with IoU >= threshold; among equal IoUs the one later in ascending id order
wins, exactly as COCOeval's loop does (it replaces its best match whenever a later one is not worse). Crowd
regions (COCO's ``iscrowd``) are not supported: every ground-truth object is a regular one, matched at most once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from segstudio.core.instances import InstanceMask

# Beyond this id a per-id lookup table costs more than sorting the ids present.
_MAX_LUT_ID = 1 << 22


@dataclass(frozen=True, eq=False)
class InstanceOverlaps:
    """Every ground-truth and predicted instance of one image and their pairwise pixel intersections.

    Arrays are in ascending instance id order: ``truth_ids``/``truth_classes``/``truth_areas`` (G,),
    ``prediction_ids``/``prediction_classes``/``prediction_scores``/``prediction_areas`` (P,), and
    ``intersections`` (P, G) pixel counts. Only instances with at least one pixel are listed.
    """

    truth_ids: np.ndarray
    truth_classes: np.ndarray
    truth_areas: np.ndarray
    prediction_ids: np.ndarray
    prediction_classes: np.ndarray
    prediction_scores: np.ndarray
    prediction_areas: np.ndarray
    intersections: np.ndarray

    def ious(self) -> np.ndarray:
        """(P, G) mask IoU of every prediction with every ground-truth object (float64)."""
        union = self.prediction_areas[:, None] + self.truth_areas[None, :] - self.intersections
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = self.intersections / union
        return np.where(union > 0, iou, 0.0)

    @property
    def class_ids(self) -> tuple[int, ...]:
        """The classes of the truth's or the prediction's instances, ascending."""
        return tuple(int(c) for c in np.union1d(self.truth_classes, self.prediction_classes))


@dataclass(frozen=True)
class InstanceMatch:
    """A predicted instance matched to a ground-truth instance of the same class."""

    prediction_id: int
    truth_id: int
    class_id: int
    iou: float
    score: float


@dataclass(frozen=True)
class InstanceMatching:
    """One image's matching at ``threshold``: the matches (in the order they were made: descending score), the
    predictions left unmatched (descending score) and the ground-truth objects no prediction matched (ascending id).
    ``ious`` is the best IoU each unmatched prediction has with a same-class ground-truth object (0 when none),
    in the order of ``unmatched_predictions``."""

    threshold: float
    matches: tuple[InstanceMatch, ...]
    unmatched_predictions: tuple[int, ...]
    missed_truths: tuple[int, ...]
    unmatched_best_ious: tuple[float, ...] = ()

    @property
    def mean_matched_iou(self) -> float | None:
        return float(np.mean([m.iou for m in self.matches])) if self.matches else None


def instance_overlaps(truth: InstanceMask, prediction: InstanceMask) -> InstanceOverlaps:
    """Pairwise pixel intersections of ``truth``'s and ``prediction``'s instances (same shape required).

    A prediction without scores counts every instance as score 1.0; scores for only some instances are an error.
    """
    if truth.ids.shape != prediction.ids.shape:
        raise ValueError(f"prediction is {prediction.ids.shape[1]}x{prediction.ids.shape[0]} but the ground truth is "
                         f"{truth.ids.shape[1]}x{truth.ids.shape[0]}")
    truth_ids, truth_index = _compact(truth.ids)
    prediction_ids, prediction_index = _compact(prediction.ids)
    g, p = len(truth_ids), len(prediction_ids)
    joint = np.bincount((truth_index * (p + 1) + prediction_index).ravel(), minlength=(g + 1) * (p + 1))
    joint = joint.reshape(g + 1, p + 1).astype(np.int64)
    scores = _scores(prediction_ids, prediction.scores)
    return InstanceOverlaps(
        truth_ids=truth_ids,
        truth_classes=np.array([truth.classes[int(i)] for i in truth_ids], dtype=np.int64),
        truth_areas=joint[1:, :].sum(axis=1),
        prediction_ids=prediction_ids,
        prediction_classes=np.array([prediction.classes[int(i)] for i in prediction_ids], dtype=np.int64),
        prediction_scores=scores,
        prediction_areas=joint[:, 1:].sum(axis=0),
        intersections=np.ascontiguousarray(joint[1:, 1:].T),
    )


def match_instances(
    truth: InstanceMask, prediction: InstanceMask, *, threshold: float = 0.5, max_detections: int | None = None
) -> InstanceMatching:
    """Match ``prediction``'s instances to ``truth``'s (see the module doc). ``max_detections``: per class, only the
    that many best-scored predictions are matched (COCO: 100); the rest count as unmatched."""
    return match_overlaps(instance_overlaps(truth, prediction), threshold=threshold, max_detections=max_detections)


def match_overlaps(
    overlaps: InstanceOverlaps, *, threshold: float = 0.5, max_detections: int | None = None
) -> InstanceMatching:
    """:func:`match_instances` on overlaps already counted."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"the IoU threshold must be between 0 and 1, got {threshold}")
    ious = overlaps.ious()
    matches: list[InstanceMatch] = []
    unmatched: list[tuple[float, int, float]] = []  # (-score, id, best iou): sorted = descending score
    missed: list[int] = []
    for class_id in overlaps.class_ids:
        truths, predictions = class_members(overlaps, class_id)
        considered = predictions if max_detections is None else predictions[:max_detections]
        class_ious = ious[np.ix_(considered, truths)]
        matched = greedy_match(class_ious, np.array([threshold]))[0]
        for row, (index, column) in enumerate(zip(considered, matched)):
            pred_id, score = int(overlaps.prediction_ids[index]), float(overlaps.prediction_scores[index])
            if column >= 0:
                matches.append(InstanceMatch(pred_id, int(overlaps.truth_ids[truths[column]]), class_id,
                                             float(class_ious[row, column]), score))
            else:
                best = float(class_ious[row].max()) if len(truths) else 0.0
                unmatched.append((-score, pred_id, best))
        for index in predictions[len(considered):]:
            best = float(ious[index, truths].max()) if len(truths) else 0.0
            unmatched.append((-float(overlaps.prediction_scores[index]), int(overlaps.prediction_ids[index]), best))
        taken = set(int(c) for c in matched if c >= 0)
        missed.extend(int(overlaps.truth_ids[t]) for column, t in enumerate(truths) if column not in taken)
    matches.sort(key=lambda m: (-m.score, m.prediction_id))
    unmatched.sort()
    return InstanceMatching(
        threshold=float(threshold),
        matches=tuple(matches),
        unmatched_predictions=tuple(u[1] for u in unmatched),
        missed_truths=tuple(sorted(missed)),
        unmatched_best_ious=tuple(u[2] for u in unmatched),
    )


def class_members(overlaps: InstanceOverlaps, class_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``class_id``'s ground-truth objects (ascending id) and predictions (descending score, ties by
    ascending id: a stable sort of the negated scores, as COCOeval sorts)."""
    truths = np.flatnonzero(overlaps.truth_classes == class_id)
    predictions = np.flatnonzero(overlaps.prediction_classes == class_id)
    order = np.argsort(-overlaps.prediction_scores[predictions], kind="mergesort")
    return truths, predictions[order]


def greedy_match(ious: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """COCOeval's greedy matching of (D, G) ``ious`` (rows in descending score) at every threshold at once:
    (T, D) the column each row matched, -1 for none. A row takes the free column of highest IoU >= threshold
    (a threshold is capped at 1 - 1e-10, as COCOeval caps it); among equal IoUs the last column wins."""
    d, g = ious.shape
    t = len(thresholds)
    matched = np.full((t, d), -1, dtype=np.int64)
    if d == 0 or g == 0:
        return matched
    limits = np.minimum(np.asarray(thresholds, dtype=np.float64), 1 - 1e-10)[:, None]
    free = np.ones((t, g), dtype=bool)
    rows = np.arange(t)
    for row in range(d):
        candidates = np.where(free & (ious[row][None, :] >= limits), ious[row][None, :], -1.0)
        last = g - 1 - np.argmax(candidates[:, ::-1], axis=1)  # the last column holding the maximum
        hit = candidates[rows, last] >= 0
        matched[hit, row] = last[hit]
        free[rows[hit], last[hit]] = False
    return matched


def _compact(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids present (ascending, 0 left out) and every pixel's index among them (0 = background, 1.. = ids)."""
    flat = ids.ravel()
    if flat.dtype == np.uint64:
        flat = flat.astype(np.int64)  # np.bincount refuses uint64; ids above 2**63 are not realistic
    highest = int(flat.max(initial=0))
    if highest <= _MAX_LUT_ID:
        counts = np.bincount(flat, minlength=1)
        present = np.flatnonzero(counts)
        present = present[present > 0]
        lut = np.zeros(highest + 1, dtype=np.int64)
        lut[present] = np.arange(1, len(present) + 1)
        return present.astype(np.int64), lut[flat].reshape(ids.shape)
    values, inverse = np.unique(flat, return_inverse=True)
    if values[0] != 0:
        return values.astype(np.int64), (inverse + 1).reshape(ids.shape)
    return values[1:].astype(np.int64), inverse.reshape(ids.shape)


def _scores(ids: np.ndarray, scores: Mapping[int, float] | None) -> np.ndarray:
    if scores is None:
        return np.ones(len(ids), dtype=np.float64)
    missing = [int(i) for i in ids if int(i) not in scores]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise ValueError(f"instances {shown} have no score while others have one; give every instance a score")
    return np.array([scores[int(i)] for i in ids], dtype=np.float64)
