"""A model loaded for the window: its checkpoint read onto a device, described for the model panel, and predicting
one image for the image's session.

The loaded model travels back to the GUI inside :class:`ModelHandle` as an opaque predictor: the GUI thread
never calls it, it only hands it to the next prediction job (a model in eval mode under ``inference_mode``
may serve two jobs at once, which happens for a moment when a new "predict" job replaces one still stopping).
Torch is imported inside the functions, so opening the window never waits for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segstudio.core.confidence import Confidence
from segstudio.core.instance_candidates import InstanceCandidates
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report

DEFAULT_TILE_SIZE = 512  # windows of this size: progress and cancel between them, bounded memory on huge images
CONFIDENCE_MAX_BYTES = 256 * 1024 * 1024  # a semantic prediction keeps its certainty when its probabilities fit in this


def keeps_confidence(task: object, num_classes: int, shape: tuple[int, ...]) -> bool:
    """Whether a prediction of an image of ``shape`` asks for its probabilities to keep its certainty: a semantic
    model's, when they fit in :data:`CONFIDENCE_MAX_BYTES` (float16, one plane per class)."""
    return str(task) != "instance" and max(2, num_classes) * shape[0] * shape[1] * 2 <= CONFIDENCE_MAX_BYTES


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
    """Load a segstudio checkpoint or a torchvision weights file onto ``device`` (the "model" job).

    A file that cannot be loaded is refused with :class:`ModelFileRefused`: words for a user, the technical detail
    kept on it (and as its cause)."""
    from segstudio.models.checkpoints import CheckpointProblem, load_weights_file
    from segstudio.models.predictor import Predictor

    report(progress, Progress("load model", 0, 2, Path(path).name))
    try:
        loaded = load_weights_file(path, device=device)
    except CheckpointProblem as problem:  # the technical text travels on as the cause, for the log
        raise ModelFileRefused(Path(path), refusal_words(Path(path), problem.kind), str(problem)) from problem
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
        path=Path(path), name=safe_name(Path(path).stem), device=str(device), architecture=architecture,
        task=str(meta.task), labels=meta.labels, notes=tuple(loaded.notes), predictor=predictor,
    )


class ModelFileRefused(ValueError):
    """A model file the window cannot load, said for a user (``str()``); ``detail`` is the technical reason."""

    def __init__(self, path: Path, words: str, detail: str) -> None:
        super().__init__(f"{path.name}: {words}")
        self.path = path
        self.words = words
        self.detail = detail


def refusal_words(path: Path, kind: str) -> str:
    """Why ``path`` cannot be loaded as a model (``kind``: its CheckpointProblem's), for a user: what it is and
    what to load instead."""
    from segstudio.models.checkpoints import ProblemKind as Kind
    from segstudio.models.checkpoints import model_beside

    if kind == Kind.RESUME_STATE:
        model = model_beside(path)
        where = "beside it" if model.is_file() else "that its run wrote (it is not beside it)"
        return f"this is a training resume state, not a model: load {model.name} {where}"
    reasons = {
        Kind.MISSING: "the file does not exist or cannot be read",
        Kind.EMPTY: "the file is empty",
        Kind.TRUNCATED: "the file is truncated or damaged",
        Kind.NOT_WEIGHTS: "it holds no model weights",
        Kind.UNSAFE: "loading it could run code, so it was refused unread",
        Kind.NOT_A_CHECKPOINT: "it has no segstudio description",
        Kind.BAD_METADATA: "its segstudio description is damaged",
        Kind.NEWER_FORMAT: "a newer segstudio wrote it; update segstudio to load it",
        Kind.UNKNOWN_ARCHITECTURE: "it is for an architecture this segstudio does not have",
        Kind.WRONG_ARCHITECTURE: "its weights do not fit the model it describes",
        Kind.INCOMPATIBLE: "its weights do not fit the model it describes",
        Kind.CLASS_MISMATCH: "its class count does not fit",
        Kind.ENCODER_ONLY: "it holds an encoder's ImageNet weights, not a segmentation model (they can start a "
        "training: segstudio train --init)",
        Kind.UNRECOGNISED: "its weights are of a network segstudio does not recognise; load a segstudio checkpoint "
        "(.safetensors) or torchvision's Mask R-CNN or FCN-ResNet50 weights",
        Kind.NON_FINITE: "its weights hold NaN or infinite values (did its training diverge?)",
    }
    return f"not a model checkpoint segstudio can read: {reasons.get(Kind(kind), str(kind))}"


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


@dataclass(frozen=True)
class PredictedImage:
    """One image's predicted class mask (``path``: where it was written, if it was). An instance model's also
    carry its ``instances`` (one id per pixel) and ``candidates``, every detection, kept so other thresholds can be
    applied without running the model again."""

    key: str
    classes: np.ndarray
    model: str
    path: Path | None = None
    candidates: InstanceCandidates | None = None
    instances: InstanceMask | None = None
    confidence: Confidence | None = None  # a semantic model's certainty per pixel (see predict_image)


@dataclass(frozen=True)
class InstanceThresholds:
    """An instance model's thresholds: a detection is kept from ``score`` up, its mask where its probability
    exceeds ``mask``. The defaults are the predictor's."""

    score: float = 0.5
    mask: float = 0.5

    def __post_init__(self) -> None:
        for name, value in (("score", self.score), ("mask", self.mask)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"the {name} threshold must be between 0 and 1, got {value}")


def predict_image(
    model: ModelHandle, image: np.ndarray, key: str, labels: LabelSet, *,
    thresholds: InstanceThresholds | None = None,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
) -> PredictedImage:
    """Predict one (already read) image; the class mask is checked against ``labels``. ``thresholds``: for an
    instance model, the score and mask thresholds to read its detections with (None: the predictor's own). A
    semantic model's certainty per pixel comes with it (:class:`~segstudio.core.confidence.Confidence`) when its
    probabilities fit in :data:`CONFIDENCE_MAX_BYTES` (float16, one plane per class) while they are reduced."""
    mismatch = label_mismatch(model.labels, labels)
    if mismatch is not None:
        raise ValueError(mismatch)
    keep_confidence = keeps_confidence(model.task, model.labels.num_classes, image.shape)
    prediction = model.predictor.predict(image, probabilities=keep_confidence, progress=progress, cancel=cancel)
    candidates = getattr(prediction, "candidates", None)
    if candidates is not None and thresholds is not None:
        return rethresholded(PredictedImage(key, prediction.classes, model.name, None, candidates), thresholds,
                             labels)
    probabilities = getattr(prediction, "probabilities", None)
    confidence = None if probabilities is None else Confidence.from_probabilities(prediction.classes, probabilities)
    return PredictedImage(key, checked_classes(prediction.classes, labels), model.name, None, candidates,
                          getattr(prediction, "instances", None), confidence)


def rethresholded(result: PredictedImage, thresholds: InstanceThresholds, labels: LabelSet) -> PredictedImage:
    """``result``'s image read again from its kept detections under ``thresholds`` (no model run); the class mask
    keeps ``result``'s dtype and is checked against ``labels``. ``path`` is dropped: the file holds the old one."""
    if result.candidates is None:
        raise ValueError(f"{result.key} has no kept detections to threshold again")
    instances = result.candidates.resolve(thresholds.score, thresholds.mask)
    classes = instances.to_class_mask(np.asarray(result.classes).dtype)
    return PredictedImage(result.key, checked_classes(classes, labels), result.model, None, result.candidates,
                          instances)


def checked_classes(classes: np.ndarray, labels: LabelSet) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.size and int(classes.max()) >= labels.num_classes:
        raise ValueError(
            f"the model predicted class {int(classes.max())} but the label set has {labels.num_classes} classes"
        )
    return classes


def _names(labels: LabelSet, limit: int = 6) -> str:
    names = list(labels.names)
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"
