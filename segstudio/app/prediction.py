"""Predicting image files: each image read, predicted by a :class:`~segstudio.models.predictor.Predictor` (arrays in,
a prediction out, no files), and its class mask written. One loop for ``segstudio predict`` and the window's
"Predict all images"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from segstudio.app.loaded_model import InstanceThresholds, keeps_confidence
from segstudio.core.confidence import Confidence
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.core.errors import FileProblem
from segstudio.io.certainty_files import certainty_path, write_certainty
from segstudio.io.images import read_image
from segstudio.io.mask_files import write_class_mask, write_instance_mask
from segstudio.io.memory_budget import WORK_BYTES_PER_PIXEL


@dataclass(frozen=True)
class ImageJob:
    """Predict ``image`` and write its mask to ``target``; ``key`` names it in the results."""

    key: str
    image: Path
    target: Path


@dataclass(frozen=True)
class SkippedImage:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class PredictedImages:
    """The masks written (key -> path) and the images that could not be used (key -> why)."""

    written: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    skipped: Mapping[str, SkippedImage] = field(default_factory=lambda: MappingProxyType({}))
    uncertain: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # key -> share, see certainty


def predict_images(
    predictor: Any,
    jobs: Sequence[ImageJob],
    labels: LabelSet,
    *,
    stage: str = "predict",
    thresholds: InstanceThresholds | None = None,
    certainty: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PredictedImages:
    """Run ``predictor`` on every job's image and write the class mask (palette PNG in ``labels``' colours,
    atomically, folders created); an instance model's objects are written as an instance PNG with their classes and
    scores (:func:`~segstudio.io.mask_files.write_instance_mask`), which reads back as classes too; ``thresholds``: the
    score and mask thresholds to read an instance model's detections with (None: the predictor's own, as the
    Model panel's are applied to the shown image); ``certainty``: also measure, for a semantic model, the share of
    each image whose class it gave a probability below this (``uncertain``; the mask written is the plain
    prediction) and keep its certainty beside the mask (:mod:`segstudio.io.certainty_files`). An image that cannot be read, or whose mask has a class ``labels`` lacks, is
    skipped with the reason; cancel is checked between images (and by the predictor between windows). Reports
    ``Progress(stage, images done, images, key)`` after each image."""
    written: dict[str, Path] = {}
    skipped: dict[str, SkippedImage] = {}
    uncertain: dict[str, float] = {}
    work = _work_bytes_per_pixel(predictor, labels, certainty)
    for index, job in enumerate(jobs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            image = read_image(job.image, work_bytes_per_pixel=work)  # refused unread when it cannot fit
            measure = certainty is not None and keeps_confidence(getattr(predictor, "task", ""), labels.num_classes,
                                                                 image.shape)
            predicted = predictor.predict(image, probabilities=measure, cancel=cancel)
            classes = np.asarray(predicted.classes)
            probabilities = getattr(predicted, "probabilities", None)
            confidence = None
            if measure and probabilities is not None:
                confidence = Confidence.from_probabilities(classes, probabilities)
            instances = getattr(predicted, "instances", None)
            candidates = getattr(predicted, "candidates", None)
            if candidates is not None and thresholds is not None:
                instances = candidates.resolve(thresholds.score, thresholds.mask)
                classes = instances.to_class_mask(classes.dtype)
            if classes.size and int(classes.max()) >= labels.num_classes:
                raise ValueError(f"the model predicted class {int(classes.max())} but the label set has "
                                 f"{labels.num_classes} classes")
            job.target.parent.mkdir(parents=True, exist_ok=True)
            if instances is not None:  # objects, classes and scores kept: instance AP and per-object review need them
                write_instance_mask(job.target, instances)
            else:
                write_class_mask(job.target, classes, labels)
            if confidence is not None:  # kept beside the mask: later runs re-derive and review without the model
                write_certainty(certainty_path(job.target), confidence.certainty)
                uncertain[job.key] = confidence.uncertain_share(certainty)
            written[job.key] = job.target
        except FileProblem as problem:
            skipped[job.key] = SkippedImage(job.image, problem.problem)
        except (ValueError, OSError) as problem:
            skipped[job.key] = SkippedImage(job.image, str(problem))
        report(progress, Progress(stage, index + 1, len(jobs), job.key))
    return PredictedImages(MappingProxyType(written), MappingProxyType(skipped), MappingProxyType(uncertain))


def _work_bytes_per_pixel(predictor: Any, labels: LabelSet, certainty: float | None) -> int:
    """What predicting holds per image pixel besides the decoded image, for the readers' memory rule
    (:mod:`segstudio.io.memory_budget`), so an image that cannot be predicted is refused before it is decoded.

    Untiled, a semantic model takes the whole image at once: float32 copies of its 3 channels (the input and
    its normalised copy) and of its K class scores (logits and probabilities). A lower bound: the network's own
    activations come on top (measured: about 170 bytes per pixel for a 4-channel UNet), which ``--tile`` bounds.
    Tiled, only the class mask grows with the image. An instance model resizes its input, so holds float32
    copies of the image only. Measuring certainty keeps the probabilities of the whole image too."""
    classes = max(int(getattr(predictor, "num_classes", labels.num_classes)), 2)
    probability_bytes = np.dtype(getattr(predictor, "probability_dtype", np.float16)).itemsize
    kept = classes * probability_bytes if certainty is not None else 0
    task = str(getattr(getattr(predictor, "task", ""), "value", getattr(predictor, "task", "")))
    if task == "instance":
        return 4 * 2 * 3 + WORK_BYTES_PER_PIXEL
    if getattr(predictor, "tile_size", None) is None:
        return 4 * (2 * 3 + 2 * classes) + 1 + kept
    return WORK_BYTES_PER_PIXEL + kept


def predict_folder(
    predictor: Any,
    paths: Iterable[str | Path],
    out_dir: str | Path,
    labels: LabelSet,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PredictedImages:
    """Predict every image in ``paths`` into ``out_dir/<image stem>.png`` (see :func:`predict_images`).

    Refused up front (``ValueError``): two images with one stem (their masks would overwrite each other), an
    ``out_dir`` that is a file, and a semantic model that predicts more classes than ``labels`` has."""
    jobs = folder_jobs(predictor, paths, out_dir, labels)
    return predict_images(predictor, jobs, labels, stage=PREDICT_FOLDER, progress=progress, cancel=cancel)


PREDICT_FOLDER = "predict folder"  # the progress stage of predicting a folder, wherever it runs


def folder_jobs(predictor: Any, paths: Iterable[str | Path], out_dir: str | Path, labels: LabelSet) -> list[ImageJob]:
    """The jobs of :func:`predict_folder` (``<image name>`` -> ``out_dir/<image stem>.png``), after its checks;
    ``out_dir`` is created. Shared with the Ray engine (:mod:`segstudio.app.ray_prediction`), so both refuse the
    same things and write the same files."""
    files = [Path(p) for p in paths]
    out = Path(out_dir)
    if not isinstance(labels, LabelSet):
        raise ValueError(f"labels must be a LabelSet, got {type(labels).__name__}")
    predicted = max(int(predictor.num_classes), 2)  # a single-logit model predicts classes 0 and 1
    if str(getattr(predictor.task, "value", predictor.task)) == "semantic" and labels.num_classes < predicted:
        raise ValueError(f"the model predicts {predicted} classes but the label set has only {labels.num_classes}")
    seen: dict[str, Path] = {}
    for path in files:
        if path.stem in seen:
            raise ValueError(f"{seen[path.stem].name} and {path.name} would both be written as {path.stem}.png")
        seen[path.stem] = path
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    return [ImageJob(path.name, path, out / f"{path.stem}.png") for path in files]


__all__ = ["ImageJob", "PREDICT_FOLDER", "PredictedImages", "SkippedImage", "folder_jobs", "predict_folder",
           "predict_images"]
