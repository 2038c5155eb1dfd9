"""Scoring a model's masks against the ground truth in a project: one image, or every image of the dataset.

The ignore rule is the session's (:mod:`segstudio.core.mask_comparison`): a pixel that either side marks with the
label set's ignore id is not scored. Predictions are read as the window shows them
(:func:`~segstudio.app.prediction_masks.read_prediction`: another size resized to the image, nearest neighbour; a
probability map thresholded), and a score computed on such a prediction says so (:attr:`ImageScore.notes`,
:attr:`DatasetScoresResult.notes`). Ground truth of another size is never resized: that image is not scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from segstudio.app.prediction_masks import read_prediction, read_truth_classes, truth_value_map
from segstudio.core.mask_comparison import compare_masks
from segstudio.core.metrics import DatasetEvaluator, DatasetScores, Scores
from segstudio.core.value_map import ValueMap
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.io.corrections import instance_classes
from segstudio.io.dataset_spec import MaskKind
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.mask_files import read_instance_mask
from segstudio.io.images import image_size


@dataclass(frozen=True)
class ImageScore:
    """One image's model-vs-truth scores (all None when it lacks ground truth or a prediction)."""

    key: str
    confusion: np.ndarray | None
    mean_iou: float | None
    mean_dice: float | None
    notes: tuple[str, ...] = ()  # what was done to the prediction before scoring ("prediction resized from ...")
    resized: bool = False  # scored on a prediction resized to its image
    problem: str | None = None  # why it has both masks but no score (a file that cannot be read as classes)


@dataclass(frozen=True)
class DatasetScoresResult:
    """Model vs truth for the images that have both: per image and the dataset (``scores`` None if none)."""

    per_image: Mapping[str, ImageScore]
    scores: DatasetScores | None
    total: int  # images in the dataset

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_image", MappingProxyType(dict(self.per_image)))

    @property
    def resized_keys(self) -> tuple[str, ...]:
        """The images whose score was computed on a prediction resized to the image."""
        return tuple(key for key, score in self.per_image.items() if score.confusion is not None and score.resized)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the dataset's figures rest on besides the files as stored (empty when nothing was changed)."""
        scored = sum(1 for score in self.per_image.values() if score.confusion is not None)
        resized = len(self.resized_keys)
        notes: list[str] = []
        if resized:
            notes.append(f"{resized} of {scored} scored images were scored on a prediction resized to the image "
                         "(nearest neighbour)")
        failed = [(key, score.problem) for key, score in self.per_image.items() if score.problem is not None]
        if failed:
            key, problem = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            notes.append(f"{len(failed)} image(s) could not be scored, e.g. {key}: {problem}{more}")
        return tuple(notes)


def score_image(
    dataset: Dataset, sample: Sample, prediction: Path | np.ndarray | None,
    truth: np.ndarray | None = None,
) -> ImageScore:
    """Model vs truth for one image: ``prediction`` is an array, a mask file, or None (the dataset's first
    prediction source). ``truth``: the ground truth if already read. A prediction file of another size is scored
    resized to the image, and the score's notes say so."""
    labels = dataset.spec.labels
    notes: tuple[str, ...] = ()
    resized = False
    if truth is None:
        truth_path = dataset.ground_truth(sample)
        if truth_path is None:
            return ImageScore(sample.key, None, None, None)
        source = dataset.ground_truth_source(sample)
        size = image_size(sample.image)
        if source is not None and source.kind is MaskKind.INSTANCE:  # ids per object: its objects' classes
            truth = instance_classes(truth_path, read_instance_mask(truth_path), labels, size)
        else:
            truth = read_truth_classes(truth_path, labels, source.value_map if source else None, size)
    if not isinstance(prediction, np.ndarray):
        path, value_map = _prediction_file(dataset, sample, prediction)
        if path is None:
            return ImageScore(sample.key, None, None, None)
        size = (int(truth.shape[1]), int(truth.shape[0]))
        read = read_prediction(path, labels, size, value_map=value_map, truth_map=truth_value_map(dataset, sample))
        prediction, notes, resized = read.classes, read.notes, read.resized_from is not None
    confusion = compare_masks(truth, prediction, labels)
    scores = Scores.from_confusion(confusion, labels.names)
    return ImageScore(sample.key, confusion, scores.mean_iou, scores.mean_dice, notes, resized)


def _prediction_file(dataset: Dataset, sample: Sample, path: Path | None) -> tuple[Path | None, ValueMap | None]:
    """The prediction file to score and its value map: ``path`` (written by segstudio: class ids), else the
    dataset's first prediction source."""
    if path is not None:
        return path, None
    for name, found in dataset.predictions(sample).items():
        return found, dataset.source(name).value_map
    return None, None


def dataset_scores(dataset: Dataset, known: Mapping[str, ImageScore]) -> DatasetScoresResult:
    """Sum up per-image scores (``known``) into the dataset's accumulated and mean-of-images scores."""
    labels = dataset.spec.labels
    evaluator = DatasetEvaluator(labels.num_classes, labels.ignore_index, labels.names)
    per_image = dict(known)
    for key, score in per_image.items():
        if score.confusion is not None:
            evaluator.add_confusion(key, score.confusion)
    result = evaluator.result() if len(evaluator) else None
    return DatasetScoresResult(per_image, result, len(dataset.samples))


def score_dataset(
    dataset: Dataset, overrides: Mapping[str, Path] | None = None, *,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
) -> DatasetScoresResult:
    """The "dataset metrics" job: model (``overrides`` key -> mask file, else the dataset's first prediction
    source) vs ground truth for every image. Each image's result goes out as a progress report (``message`` =
    key, ``metrics`` = mean_iou/mean_dice) so the file list fills as it goes; unreadable images are n/a."""
    overrides = dict(overrides or {})
    per_image: dict[str, ImageScore] = {}
    total = len(dataset.samples)
    for index, sample in enumerate(dataset.samples):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            score = score_image(dataset, sample, overrides.get(sample.key))
        except (ValueError, OSError) as error:  # said in the figures' notes, never a silent n/a
            score = ImageScore(sample.key, None, None, None, problem=str(error))
        per_image[sample.key] = score
        figures = {k: v for k, v in (("mean_iou", score.mean_iou), ("mean_dice", score.mean_dice)) if v is not None}
        report(progress, Progress("dataset metrics", index + 1, total, sample.key, figures))
    return dataset_scores(dataset, known=per_image)
