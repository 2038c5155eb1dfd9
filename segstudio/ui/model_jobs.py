"""The model panel's and the dataset scores' worker jobs: load a checkpoint, predict one image or every image,
score the model's masks against the ground truth. Qt-free (they run on worker threads); results are frozen
dataclasses of numpy and plain values.

The loaded model travels back to the GUI inside :class:`ModelHandle` as an opaque predictor: the GUI thread
never calls it, it only hands it to the next prediction job (a model in eval mode under ``inference_mode``
may serve two jobs at once, which happens for a moment when a new "predict" job replaces one still stopping).
Torch is imported inside the jobs, so opening the window never waits for it.

Where predictions go
--------------------
"Predict this image" keeps the mask in memory: the window rebuilds the image's session with it (see
:meth:`ImageSession.prepare_prediction` / ``set_prediction``, which keep the work and its undo history). "Predict all images" writes each mask as a palette PNG (atomically, with
:func:`~segstudio.io.mask_files.write_class_mask`) to :func:`predictions_dir` =
``<project dir>/segstudio-predictions/<model name>/<sample key>.png``. The dataset's own prediction sources are
not changed (no project file is rewritten): the window keeps an in-memory map ``sample key -> written mask``
for this run, which wins over the dataset's prediction folders when an image is loaded and scored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from segstudio.app.prediction import ImageJob, predict_images
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import (
    DatasetEvaluator,
    DatasetScores,
    Scores,
    confusion_matrix,
)
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.mask_files import read_class_mask
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report

PREDICTIONS_FOLDER = "segstudio-predictions"
DEFAULT_TILE_SIZE = 512  # windows of this size: progress and cancel between them, bounded memory on huge images


# -- models -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ModelHandle:
    """A loaded model ready to predict, and what the panel shows about it."""

    path: Path
    name: str  # the file's stem: names the predictions folder
    device: str
    architecture: str  # in words: "unet (encoder classic, base_channels=4)"
    task: str
    labels: LabelSet
    notes: tuple[str, ...]
    predictor: Any  # segstudio.models.predictor.Predictor (opaque to the GUI)

    @property
    def num_classes(self) -> int:
        return self.labels.num_classes


def available_devices() -> list[str]:
    """"cuda" (first) when torch sees a GPU, and always "cpu"."""
    import torch

    return (["cuda"] if torch.cuda.is_available() else []) + ["cpu"]


def load_model(
    path: Path, device: str = "cpu", *, tile_size: int | None = DEFAULT_TILE_SIZE,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
) -> ModelHandle:
    """Load a segstudio checkpoint or a torchvision weights file onto ``device`` (the "model" job)."""
    from segstudio.models.checkpoints import load_weights_file
    from segstudio.models.predictor import Predictor

    report(progress, Progress("load model", 0, 2, Path(path).name))
    loaded = load_weights_file(path, device=device)
    if cancel is not None:
        cancel.raise_if_cancelled()
    meta = loaded.meta
    tile = tile_size if str(meta.task) == "semantic" else None
    predictor = Predictor.from_checkpoint(loaded, device=device, tile_size=tile)
    report(progress, Progress("load model", 2, 2, Path(path).name))
    config = meta.config
    details = [f"encoder {config.encoder}"] if config.encoder else []
    details += [f"{key}={value}" for key, value in sorted(dict(config.options).items())]
    architecture = config.architecture + (f" ({', '.join(details)})" if details else "")
    return ModelHandle(
        path=Path(path), name=_safe_name(Path(path).stem), device=str(device), architecture=architecture,
        task=str(meta.task), labels=meta.labels, notes=tuple(loaded.notes), predictor=predictor,
    )


def label_mismatch(model_labels: LabelSet, dataset_labels: LabelSet) -> str | None:
    """Why the model's masks cannot be used with the dataset's label set (None: they can)."""
    if model_labels.num_classes == dataset_labels.num_classes:
        return None
    return (
        f"the model predicts {model_labels.num_classes} classes ({_names(model_labels)}) but the dataset's label "
        f"set has {dataset_labels.num_classes} ({_names(dataset_labels)}); load a model trained on this label set"
    )


def label_name_warning(model_labels: LabelSet, dataset_labels: LabelSet) -> str | None:
    """Same class count but other names: usable, but say so."""
    if model_labels.num_classes != dataset_labels.num_classes or model_labels.names == dataset_labels.names:
        return None
    return f"class names differ: the model says {_names(model_labels)}, the dataset {_names(dataset_labels)}"


# -- prediction ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictedImage:
    """One image's predicted class mask (``path``: where it was written, if it was)."""

    key: str
    classes: np.ndarray
    model: str
    path: Path | None = None


@dataclass(frozen=True)
class PredictedFolder:
    """What "predict all" did: ``written`` maps sample key -> mask file; ``skipped`` key -> reason."""

    model: str
    folder: Path
    written: Mapping[str, Path] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "written", MappingProxyType(dict(self.written)))
        object.__setattr__(self, "skipped", MappingProxyType(dict(self.skipped)))


def predictions_dir(dataset: Dataset, model_name: str) -> Path:
    return dataset.project_file.parent / PREDICTIONS_FOLDER / _safe_name(model_name)


def prediction_path(dataset: Dataset, model_name: str, sample: Sample) -> Path:
    return predictions_dir(dataset, model_name) / f"{sample.key}.png"


def predict_image(
    model: ModelHandle, image: np.ndarray, key: str, labels: LabelSet, *,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
) -> PredictedImage:
    """Predict one (already read) image; the class mask is checked against ``labels``."""
    mismatch = label_mismatch(model.labels, labels)
    if mismatch is not None:
        raise ValueError(mismatch)
    prediction = model.predictor.predict(image, progress=progress, cancel=cancel)
    return PredictedImage(key, _checked_classes(prediction.classes, labels), model.name)


def predict_all(
    model: ModelHandle, dataset: Dataset, *,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
) -> PredictedFolder:
    """Predict every image of ``dataset`` and write each mask to :func:`prediction_path` (atomically; see
    :func:`segstudio.app.prediction.predict_images`). An image that cannot be used is skipped with the reason."""
    labels = dataset.spec.labels
    mismatch = label_mismatch(model.labels, labels)
    if mismatch is not None:
        raise ValueError(mismatch)
    jobs = [ImageJob(sample.key, sample.image, prediction_path(dataset, model.name, sample)) for sample in dataset.samples]
    done = predict_images(model.predictor, jobs, labels, stage="predict all", progress=progress, cancel=cancel)
    skipped = {key: image.reason for key, image in done.skipped.items()}
    return PredictedFolder(model.name, predictions_dir(dataset, model.name), dict(done.written), skipped)


def app_predictions(dataset: Dataset) -> dict[str, Path]:
    """Predictions segstudio wrote in earlier runs: sample key -> ``segstudio-predictions/<model>/<key>.png``.

    Every model folder is listed once (no mask is opened). When several models predicted the same image, the
    **newest model folder wins**: folders are ranked by their most recently written mask (the model the user
    ran last), and each image takes its mask from the highest-ranked folder that has one. Keys that are not in
    the dataset are ignored. The project file is not touched: these are found again on every open.
    """
    root = dataset.project_file.parent / PREDICTIONS_FOLDER
    try:
        folders = [entry for entry in os.scandir(root) if entry.is_dir()]
    except OSError:
        return {}
    keys = {sample.key for sample in dataset.samples}
    ranked: list[tuple[float, dict[str, Path]]] = []
    for folder in folders:
        found: dict[str, Path] = {}
        newest = 0.0
        pending = [(folder.path, "")]
        while pending:
            path, prefix = pending.pop()
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir():
                        pending.append((entry.path, f"{prefix}{entry.name}/"))
                    elif entry.name.endswith(".png") and not entry.name.startswith(".") and entry.is_file():
                        key = f"{prefix}{entry.name[:-4]}"
                        if key in keys:
                            found[key] = Path(entry.path)
                            newest = max(newest, entry.stat().st_mtime)
                except OSError:
                    continue
        if found:
            ranked.append((newest, found))
    chosen: dict[str, Path] = {}
    for _newest, found in sorted(ranked, key=lambda item: item[0]):
        chosen.update(found)  # newer folders overwrite older ones
    return chosen


def read_prediction(dataset: Dataset, key: str, path: Path, model: str | None = None) -> PredictedImage:
    """A written prediction mask read back (for the image on screen after "predict all")."""
    classes = read_class_mask(path, dataset.spec.labels)
    return PredictedImage(key, np.asarray(classes), model or path.parent.name, path)


# -- dataset scores -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageScore:
    """One image's model-vs-truth scores (all None when it lacks ground truth or a prediction)."""

    key: str
    confusion: np.ndarray | None
    mean_iou: float | None
    mean_dice: float | None


@dataclass(frozen=True)
class DatasetScoresResult:
    """Model vs truth for the images that have both: per image and the dataset (``scores`` None if none)."""

    per_image: Mapping[str, ImageScore]
    scores: DatasetScores | None
    total: int  # images in the dataset

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_image", MappingProxyType(dict(self.per_image)))


def score_image(
    dataset: Dataset, sample: Sample, prediction: Path | np.ndarray | None,
    truth: np.ndarray | None = None,
) -> ImageScore:
    """Model vs truth for one image: ``prediction`` is an array, a mask file, or None (the dataset's first
    prediction source). ``truth``: the ground truth if already read."""
    labels = dataset.spec.labels
    if truth is None:
        truth_path = dataset.ground_truth(sample)
        if truth_path is None:
            return ImageScore(sample.key, None, None, None)
        source = dataset.ground_truth_source(sample)
        truth = read_class_mask(truth_path, labels, value_map=source.value_map if source else None)
    if prediction is None:
        for name, path in dataset.predictions(sample).items():
            prediction = read_class_mask(path, labels, value_map=dataset.source(name).value_map)
            break
    elif isinstance(prediction, Path):
        prediction = read_class_mask(prediction, labels)
    if prediction is None:
        return ImageScore(sample.key, None, None, None)
    truth, prediction = _scorable(np.asarray(truth), np.asarray(prediction), labels)
    confusion = confusion_matrix(truth, prediction, labels.num_classes, labels.ignore_index)
    scores = Scores.from_confusion(confusion, labels.names)
    return ImageScore(sample.key, confusion, scores.mean_iou, scores.mean_dice)


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
        except (ValueError, OSError):
            score = ImageScore(sample.key, None, None, None)
        per_image[sample.key] = score
        figures = {k: v for k, v in (("mean_iou", score.mean_iou), ("mean_dice", score.mean_dice)) if v is not None}
        report(progress, Progress("dataset metrics", index + 1, total, sample.key, figures))
    return dataset_scores(dataset, known=per_image)


# -- helpers ------------------------------------------------------------------------------------------------------


def _scorable(truth: np.ndarray, prediction: np.ndarray, labels: LabelSet) -> tuple[np.ndarray, np.ndarray]:
    """Pixels a prediction marks with the ignore id ("unlabelled") are not scored, as in the session's rule
    (either side's ignore id leaves a pixel out): the metrics module would refuse them otherwise."""
    ignore = labels.ignore_index
    if ignore is None:
        return truth, prediction
    holes = prediction == ignore
    if not holes.any():
        return truth, prediction
    return np.where(holes, ignore, truth).astype(truth.dtype, copy=False), prediction


def _checked_classes(classes: np.ndarray, labels: LabelSet) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.size and int(classes.max()) >= labels.num_classes:
        raise ValueError(
            f"the model predicted class {int(classes.max())} but the label set has {labels.num_classes} classes"
        )
    return classes


def _names(labels: LabelSet, limit: int = 6) -> str:
    names = list(labels.names)
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"
