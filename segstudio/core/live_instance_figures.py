"""Live instance figures while the user edits instances: each working instance's IoU with the ground-truth object it
matches, the matching itself (IoU >= 0.5, greedy by score, as COCO matches), and what is left unmatched.

A :class:`LiveInstanceFigures` listens to an :class:`~segstudio.core.instance_layer.InstanceLayer`'s keys and keeps a
joint histogram of (working key, ground-truth object) pixel pairs current from each changed rectangle, so reading
the figures costs O(instances x objects), never a pass over the image. The matching is
:func:`~segstudio.core.instance_matching.match_overlaps` on those counts: the same matching, the same IoUs as
:func:`~segstudio.core.instance_matching.match_instances` on a snapshot (tests hold it to that after random edits).

Scores: an instance the model made keeps its score (through splits and class changes); an instance the user made
counts as score 1.0 (drawn by a person: as sure as it gets), so it is matched first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from segstudio.core.geometry import Rect
from segstudio.core.instance_layer import PLAIN_KEYS, InstanceLayer
from segstudio.core.instance_matching import InstanceMatching, InstanceOverlaps, match_overlaps
from segstudio.core.instances import InstanceMask

USER_SCORE = 1.0


@dataclass(frozen=True)
class InstanceFigure:
    """One working instance: its pixels and, when matched, the ground-truth object and their IoU."""

    instance_id: int
    class_id: int
    pixels: int
    score: float | None
    truth_id: int | None  # the matched ground-truth object (None: unmatched, a false positive at this threshold)
    iou: float  # IoU with the matched object, else the best IoU with any object of its class (0 when none)


@dataclass(frozen=True)
class MissedObject:
    """A ground-truth object no working instance matches (a false negative)."""

    truth_id: int
    class_id: int
    pixels: int
    best_iou: float  # the best IoU any working instance of its class has with it


@dataclass(frozen=True)
class InstanceFigures:
    """Every working instance (ascending id) and the ground-truth objects left unmatched."""

    threshold: float
    instances: tuple[InstanceFigure, ...]
    missed: tuple[MissedObject, ...]
    matching: InstanceMatching

    @property
    def matched(self) -> int:
        return len(self.matching.matches)

    @property
    def unmatched(self) -> int:
        return len(self.matching.unmatched_predictions)

    @property
    def mean_matched_iou(self) -> float | None:
        return self.matching.mean_matched_iou


class LiveInstanceFigures:
    """Running (working instance, ground-truth object) overlaps of ``layer`` against ``truth`` (same shape)."""

    def __init__(self, truth: InstanceMask, layer: InstanceLayer) -> None:
        if truth.shape != layer.keys.shape:
            raise ValueError(f"the ground truth's instances are {truth.shape[1]}x{truth.shape[0]} but the image is "
                             f"{layer.keys.shape[1]}x{layer.keys.shape[0]}")
        self._layer = layer
        present = np.asarray(truth.instance_ids, dtype=np.int64)
        self._truth_ids = present
        self._truth_classes = np.array([truth.class_of(int(i)) for i in present], dtype=np.int64)
        lut = np.zeros(int(truth.ids.max(initial=0)) + 1, dtype=np.int64)
        lut[present] = np.arange(1, len(present) + 1)
        self._truth_index = lut[np.asarray(truth.ids)]  # 0: no object, 1..G: the object's row
        self._truth_index.flags.writeable = False
        self._columns = len(present) + 1
        self._truth_areas = np.bincount(self._truth_index.ravel(), minlength=self._columns)[1:].astype(np.int64)
        self._joint: defaultdict[int, int] = defaultdict(int)
        self._user_made: list[bool] = []  # per row of the last overlaps(): drawn by a person (no model score)
        self._add(np.asarray(layer.keys), self._truth_index, 1)
        layer.add_key_listener(self._on_keys)

    @property
    def truth_ids(self) -> tuple[int, ...]:
        return tuple(int(i) for i in self._truth_ids)

    def truth_pixels(self, truth_id: int) -> np.ndarray:
        """Bool mask of a ground-truth object's pixels."""
        rows = np.flatnonzero(self._truth_ids == int(truth_id))
        if not rows.size:
            raise KeyError(f"the ground truth has no instance {truth_id}")
        return self._truth_index == int(rows[0]) + 1

    def overlaps(self) -> InstanceOverlaps:
        """The working instances against the ground truth, as :func:`instance_overlaps` would count them."""
        keyed = self._layer.keyed_rows()
        rows = [row for _key, row in keyed]
        position = {key: n for n, (key, _row) in enumerate(keyed)}
        intersections = np.zeros((len(rows), len(self._truth_ids)), dtype=np.int64)
        for code, count in self._joint.items():
            key, column = divmod(code, self._columns)
            if count and column and key >= PLAIN_KEYS and key in position:
                intersections[position[key], column - 1] = count
        scores = [USER_SCORE if r.score is None else r.score for r in rows]
        self._user_made = [r.score is None for r in rows]
        return InstanceOverlaps(
            truth_ids=self._truth_ids,
            truth_classes=self._truth_classes,
            truth_areas=self._truth_areas,
            prediction_ids=np.array([r.instance_id for r in rows], dtype=np.int64),
            prediction_classes=np.array([r.class_id for r in rows], dtype=np.int64),
            prediction_scores=np.array(scores, dtype=np.float64),
            prediction_areas=np.array([r.pixels for r in rows], dtype=np.int64),
            intersections=intersections,
        )

    def figures(self, threshold: float = 0.5) -> InstanceFigures:
        """Per-instance IoU and the matching at ``threshold`` (COCO: 0.5)."""
        overlaps = self.overlaps()
        model_scores = {int(i): None if self._user_made[n] else float(overlaps.prediction_scores[n])
                        for n, i in enumerate(overlaps.prediction_ids)}
        matching = match_overlaps(overlaps, threshold=threshold)
        matched = {m.prediction_id: m for m in matching.matches}
        best = dict(zip(matching.unmatched_predictions, matching.unmatched_best_ious, strict=True))
        instances = []
        for index, instance_id in enumerate(overlaps.prediction_ids.tolist()):
            match = matched.get(instance_id)
            instances.append(InstanceFigure(
                instance_id, int(overlaps.prediction_classes[index]), int(overlaps.prediction_areas[index]),
                model_scores.get(instance_id),
                None if match is None else match.truth_id, match.iou if match is not None else best.get(instance_id, 0.0),
            ))
        ious = overlaps.ious()
        missed = []
        for truth_id in matching.missed_truths:
            column = int(np.flatnonzero(overlaps.truth_ids == truth_id)[0])
            class_id = int(overlaps.truth_classes[column])
            same_class = overlaps.prediction_classes == class_id
            best_iou = float(ious[same_class, column].max()) if same_class.any() else 0.0
            missed.append(MissedObject(truth_id, class_id, int(overlaps.truth_areas[column]), best_iou))
        return InstanceFigures(float(threshold), tuple(instances), tuple(missed), matching)

    def _add(self, keys: np.ndarray, truth_index: np.ndarray, sign: int) -> None:
        codes = keys.astype(np.int64) * self._columns + truth_index
        values, counts = np.unique(codes, return_counts=True)
        joint = self._joint
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            joint[value] += sign * count
            if not joint[value]:
                del joint[value]

    def _on_keys(self, rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        truth_index = self._truth_index[rect.slices]
        self._add(before, truth_index, -1)
        self._add(after, truth_index, 1)


__all__ = ["InstanceFigure", "InstanceFigures", "LiveInstanceFigures", "MissedObject", "USER_SCORE"]
