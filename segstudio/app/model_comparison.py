"""Comparing the predictions the window shows with another set: an older model's, or a prediction folder of the
dataset. Per image: each set's mean IoU against the ground truth, their difference, and how many pixels the two
predictions disagree on; for the image on screen, where they disagree (:func:`disagreement`).

A :class:`PredictionSet` is a name and its files: each model folder segstudio wrote under ``segstudio-predictions/``
and each prediction source of the dataset (with its value map) is one (:func:`prediction_sets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from segstudio.app.prediction_masks import read_prediction, read_truth_classes, truth_value_map
from segstudio.app.project_predictions import model_prediction_folders
from segstudio.core.errors import FileProblem
from segstudio.core.mask_comparison import compare_masks
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.core.scores import Scores
from segstudio.core.value_map import ValueMap
from segstudio.io.dataset_spec import MaskRole
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.images import image_size

COMPARE_STAGE = "compare"


@dataclass(frozen=True)
class PredictionSet:
    """Predictions for some of a dataset's images: ``files`` sample key -> mask, read with ``value_map``."""

    name: str  # what the window calls it: "model demo-unet", "prediction folder preds"
    files: Mapping[str, Path] = field(default_factory=dict)
    value_map: ValueMap | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))


@dataclass(frozen=True)
class ImageComparison:
    """One image: the shown predictions' and the other set's mean IoU against the truth (None: n/a), and the pixels
    where the two predictions differ (``None`` when either is missing)."""

    key: str
    shown_iou: float | None
    other_iou: float | None
    disagreeing: int | None
    pixels: int

    @property
    def iou_gain(self) -> float | None:
        """Shown minus other: positive where the shown predictions score better."""
        if self.shown_iou is None or self.other_iou is None:
            return None
        return self.shown_iou - self.other_iou

    @property
    def disagreement_share(self) -> float | None:
        return None if self.disagreeing is None or not self.pixels else self.disagreeing / self.pixels


@dataclass(frozen=True)
class ComparisonResult:
    other: str
    per_image: Mapping[str, ImageComparison]


def prediction_sets(dataset: Dataset) -> list[PredictionSet]:
    """Every set of predictions the folder holds: the models segstudio predicted with (newest first), then the
    dataset's own prediction folders."""
    sets = [PredictionSet(f"model {folder.model}", folder.written)
            for folder in reversed(model_prediction_folders(dataset))]
    for source in dataset.spec.mask_sources:
        if source.role is not MaskRole.PREDICTION:
            continue
        files = {sample.key: sample.masks[source.name] for sample in dataset.samples if source.name in sample.masks}
        if files:
            sets.append(PredictionSet(f"prediction folder {source.folder}", files, source.value_map))
    return sets


def read_set_prediction(dataset: Dataset, sample: Sample, chosen: PredictionSet, size: tuple[int, int]
                        ) -> np.ndarray | None:
    """``chosen``'s prediction for ``sample`` at the image's ``size`` (width, height); None when it has none."""
    path = chosen.files.get(sample.key)
    if path is None:
        return None
    return read_prediction(path, dataset.spec.labels, size, value_map=chosen.value_map,
                           truth_map=truth_value_map(dataset, sample)).classes


def disagreement(shown: np.ndarray | None, other: np.ndarray | None) -> np.ndarray | None:
    """Where the two predictions give different classes (bool), None when either is missing or they differ in shape."""
    if shown is None or other is None or shown.shape != other.shape:
        return None
    return np.asarray(shown) != np.asarray(other)


def compare_sets(dataset: Dataset, shown: Mapping[str, Path], other: PredictionSet, *,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> ComparisonResult:
    """Every image of ``dataset``: the shown predictions (``shown``: the masks segstudio wrote, else the dataset's
    first prediction folder) against ``other``, each scored against the ground truth (worker side). An image whose
    files cannot be read is compared as far as it can be (its figures n/a), never a silent zero."""
    labels = dataset.spec.labels
    per_image: dict[str, ImageComparison] = {}
    samples = list(dataset.samples)
    for done, sample in enumerate(samples, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        per_image[sample.key] = _compare_image(dataset, sample, shown.get(sample.key), other, labels)
        report(progress, Progress(COMPARE_STAGE, done, len(samples), sample.key))
    return ComparisonResult(other.name, per_image)


def _compare_image(dataset: Dataset, sample: Sample, shown_path: Path | None, other: PredictionSet, labels
                   ) -> ImageComparison:  # noqa: ANN001
    size = image_size(sample.image)
    pixels = size[0] * size[1]
    try:
        shown = _shown_prediction(dataset, sample, shown_path, size)
        theirs = read_set_prediction(dataset, sample, other, size)
    except FileProblem:
        return ImageComparison(sample.key, None, None, None, pixels)
    differ = disagreement(shown, theirs)
    truth = None
    truth_path = dataset.ground_truth(sample)
    if truth_path is not None:
        source = dataset.ground_truth_source(sample)
        try:
            truth = read_truth_classes(truth_path, labels, source.value_map if source else None, size)
        except FileProblem:
            truth = None
    return ImageComparison(sample.key, _mean_iou(truth, shown, labels), _mean_iou(truth, theirs, labels),
                           None if differ is None else int(differ.sum()), pixels)


def _shown_prediction(dataset: Dataset, sample: Sample, path: Path | None, size: tuple[int, int]) -> np.ndarray | None:
    if path is not None:
        return read_prediction(path, dataset.spec.labels, size).classes
    for name, found in dataset.predictions(sample).items():
        return read_prediction(found, dataset.spec.labels, size, value_map=dataset.source(name).value_map,
                               truth_map=truth_value_map(dataset, sample)).classes
    return None


def _mean_iou(truth: np.ndarray | None, prediction: np.ndarray | None, labels) -> float | None:  # noqa: ANN001
    if truth is None or prediction is None:
        return None
    return Scores.from_confusion(compare_masks(truth, prediction, labels), labels.names).mean_iou


__all__ = ["COMPARE_STAGE", "ComparisonResult", "ImageComparison", "PredictionSet", "compare_sets", "disagreement",
           "prediction_sets", "read_set_prediction"]
