"""What a training run is told and what it reports: settings, per-epoch records, the result."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.registry import ModelConfig
from segstudio.models.training.samples import Augmentation


class Optimiser(StrEnum):
    ADAMW = "adamw"
    ADAM = "adam"
    SGD = "sgd"  # momentum 0.9


class Schedule(StrEnum):
    COSINE = "cosine"  # cosine decay to 1% of the learning rate over the whole run
    POLY = "poly"  # (1 - t/T) ** 0.9, as DeepLab/PSPNet
    CONSTANT = "constant"


class StopReason(StrEnum):
    COMPLETED = "completed"
    TIME_BUDGET = "time budget"


@dataclass(frozen=True)
class TrainingConfig:
    """Everything a training run depends on (stored in the resume state and the checkpoint's summary).

    ``crop_size``: training crops are ``crop_size`` square (images smaller than that are padded with the ignore
    id). ``samples_per_epoch``: crops per epoch (default: one per training image; more repeats images with new
    augmentation). ``learning_rate``, ``optimiser`` and ``warmup_steps`` default by task (semantic: 1e-3,
    AdamW, no warm-up; instance: 5e-3, SGD, a warm-up of up to 100 steps). ``val_split``/``train_split`` name
    dataset splits; by default a ``val`` (or ``validation``, ``test``) split with ground truth is used for
    validation, else a seeded random ``val_fraction`` of the images. ``in_channels`` defaults to 1 when every
    inspected training image is grey, else 3. ``normalisation`` defaults to the training images' own mean/std
    (``[0, 1]`` only for instance models, which normalise internally). ``initial_weights``: a segstudio
    checkpoint or a foreign weights file (see :func:`segstudio.models.checkpoints.load_weights_file`) to
    fine-tune from; layers sized for another class count start afresh, and the file's input normalisation is
    kept (pretrained features expect it) unless ``normalisation`` is given.
    ``validation_tile_size``: validate large images in tiles. ``max_seconds``: a time budget for this call.
    ``keep_resume_state``: keep ``<out>.resume.pt`` after a run that completed all its epochs (to continue it
    later with more epochs); by default only a run stopped early (time budget, cancel, failure) keeps it.
    """

    architecture: str = "unet"
    encoder: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 50
    batch_size: int = 4
    crop_size: int = 256
    samples_per_epoch: int | None = None
    learning_rate: float | None = None
    weight_decay: float = 1e-4
    optimiser: Optimiser | None = None
    schedule: Schedule = Schedule.COSINE
    warmup_steps: int | None = None
    dice_weight: float = 1.0
    aux_weight: float = 0.4
    augmentation: Augmentation = field(default_factory=Augmentation)
    val_fraction: float = 0.2
    train_split: str | None = None
    val_split: str | None = None
    seed: int = 0
    in_channels: int | None = None
    normalisation: InputNormalisation | None = None
    initial_weights: str | None = None
    validation_tile_size: int | None = None
    score_threshold: float = 0.5
    num_workers: int = 0
    device: str | None = None
    amp: bool | None = None
    max_seconds: float | None = None
    deterministic: bool = True
    keep_resume_state: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "crop_size"):
            _check_positive_int(name, getattr(self, name))
        for name in ("samples_per_epoch", "in_channels", "validation_tile_size"):
            if getattr(self, name) is not None:
                _check_positive_int(name, getattr(self, name))
        if self.warmup_steps is not None and (int(self.warmup_steps) != self.warmup_steps or self.warmup_steps < 0):
            raise ValueError(f"warmup_steps must be 0 or more, got {self.warmup_steps!r}")
        if int(self.num_workers) != self.num_workers or self.num_workers < 0:
            raise ValueError(f"num_workers must be 0 or more, got {self.num_workers!r}")
        if self.learning_rate is not None and not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        for name in ("weight_decay", "dice_weight", "aux_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be 0 or a positive number, got {value!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if not 0 <= self.score_threshold <= 1:
            raise ValueError(f"score_threshold must be in [0, 1], got {self.score_threshold!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be positive, got {self.max_seconds!r}")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        object.__setattr__(self, "optimiser", None if self.optimiser is None else _enum(Optimiser, self.optimiser, "optimiser"))
        object.__setattr__(self, "schedule", _enum(Schedule, self.schedule, "schedule"))
        object.__setattr__(self, "options", dict(self.options))
        if not isinstance(self.augmentation, Augmentation):
            raise ValueError(f"augmentation must be an Augmentation, got {type(self.augmentation).__name__}")
        if self.normalisation is not None and not isinstance(self.normalisation, InputNormalisation):
            raise ValueError(f"normalisation must be an InputNormalisation, got {type(self.normalisation).__name__}")

    def to_mapping(self) -> dict[str, Any]:
        """Plain data (no enums or dataclasses): what the resume state and checkpoint summary store."""
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, (Augmentation, InputNormalisation)):
                value = value.to_mapping()
            elif isinstance(value, Mapping):
                value = dict(value)
            data[name] = value
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrainingConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("augmentation"), Mapping):
            known["augmentation"] = Augmentation.from_mapping(dict(known["augmentation"]))
        if isinstance(known.get("normalisation"), Mapping):
            known["normalisation"] = InputNormalisation.from_mapping(known["normalisation"])
        return cls(**known)


MEAN_IOU = "mean_iou"  # what chooses a semantic model's best epoch
MASK_AP50 = "mask_ap50"  # what chooses an instance model's best epoch: COCO mask AP at IoU 0.5
SCORE_NAMES = {MEAN_IOU: "mean IoU", MASK_AP50: "mask AP@0.5"}


@dataclass(frozen=True)
class EpochRecord:
    """One epoch (or the validated part of one, when a time budget cut it short).

    ``mean_iou``, ``mean_dice``, ``pixel_accuracy`` and the per-class figures score class masks; for an instance
    model that is the class mask of its instances at the run's score threshold, reported for information.
    ``mask_ap50`` / ``mask_ap``: an instance model's COCO mask AP at IoU 0.5 / averaged over IoU 0.5:0.95 on the
    validation images (``None`` for semantic models, and when no validation image has a ground-truth object).
    ``score_key`` names the figure that chose the best epoch (:data:`MEAN_IOU` or :data:`MASK_AP50`); records of
    runs older than it read as :data:`MEAN_IOU`, which is what chose those runs' best epoch.
    """

    epoch: int  # 1-based
    steps: int  # optimiser steps done by the end of it, in all
    train_loss: float
    learning_rate: float
    mean_iou: float | None
    mean_dice: float | None
    pixel_accuracy: float | None
    class_iou: tuple[float | None, ...] = ()
    class_dice: tuple[float | None, ...] = ()
    seconds: float = 0.0
    partial: bool = False
    mask_ap50: float | None = None
    mask_ap: float | None = None
    score_key: str = MEAN_IOU

    def __post_init__(self) -> None:
        if self.score_key not in SCORE_NAMES:
            raise ValueError(f"unknown score_key {self.score_key!r}; choose one of {', '.join(SCORE_NAMES)}")

    @property
    def score(self) -> float | None:
        """The figure that ranks this epoch for the best checkpoint (``None``: n/a)."""
        return self.mask_ap50 if self.score_key == MASK_AP50 else self.mean_iou

    @property
    def score_name(self) -> str:
        """How messages name :attr:`score`: "mean IoU" or "mask AP@0.5"."""
        return SCORE_NAMES[self.score_key]

    @property
    def metrics(self) -> dict[str, float | None]:
        figures: dict[str, float | None] = {"loss": self.train_loss}
        if self.score_key == MASK_AP50:
            figures.update({MASK_AP50: self.mask_ap50, "mask_ap": self.mask_ap})
        figures.update({"mean_iou": self.mean_iou, "mean_dice": self.mean_dice, "pixel_accuracy": self.pixel_accuracy})
        return figures

    def to_mapping(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "steps": self.steps,
            "train_loss": self.train_loss,
            "learning_rate": self.learning_rate,
            "mean_iou": self.mean_iou,
            "mean_dice": self.mean_dice,
            "pixel_accuracy": self.pixel_accuracy,
            "class_iou": list(self.class_iou),
            "class_dice": list(self.class_dice),
            "seconds": self.seconds,
            "partial": self.partial,
            "mask_ap50": self.mask_ap50,
            "mask_ap": self.mask_ap,
            "score_key": self.score_key,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EpochRecord:
        """Also reads records written before the mask AP fields existed (they default to ``None`` / mean IoU)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "class_iou": tuple(data.get("class_iou", ())), "class_dice": tuple(data.get("class_dice", ()))})


def epoch_score(record: EpochRecord) -> float:
    """What ranks an epoch for the best checkpoint (:func:`keeps_best`): its :attr:`EpochRecord.score`, mean IoU
    for a semantic model and mask AP@0.5 for an instance model; n/a ranks as -1, below any real figure."""
    return -1.0 if record.score is None else float(record.score)


def keeps_best(score: float, best: float | None) -> bool:
    """Whether an epoch scoring ``score`` (:func:`epoch_score`) replaces the best checkpoint so far. A tie keeps the
    later, longer-trained epoch: a young instance model without a good detection scores the same (mask AP 0, or
    all background when it was ranked by class IoU) every epoch, and the first epoch must not win that tie (it did:
    training Mask R-CNN on Penn-Fudan kept epoch 1)."""
    return best is None or score >= best


@dataclass(frozen=True)
class TrainingResult:
    """What a run produced: the best checkpoint, its epoch and scores, and every epoch's record.

    The best epoch is the one of highest :attr:`EpochRecord.score` (mean IoU for semantic models, mask AP@0.5 for
    instance models; a tie keeps the later epoch); ``best_metrics`` is its :attr:`EpochRecord.metrics`."""

    checkpoint: Path
    resume_state: Path
    best_epoch: int | None
    best_metrics: Mapping[str, float | None]
    history: tuple[EpochRecord, ...]
    stop_reason: StopReason
    seconds: float
    model_config: ModelConfig
    normalisation: InputNormalisation
    labels: LabelSet
    train_keys: tuple[str, ...]
    val_keys: tuple[str, ...]
    notes: tuple[str, ...] = ()
    # Whether ``resume_state`` is on disk for this run: a run stopped early keeps it, a completed one removes it
    # (unless ``keep_resume_state``).
    resume_state_kept: bool = False

    @property
    def best_record(self) -> EpochRecord | None:
        """The record of :attr:`best_epoch` (``None`` when no epoch was validated)."""
        return next((r for r in reversed(self.history) if r.epoch == self.best_epoch), None)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _enum(kind: type[StrEnum], value: object, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(v.value for v in kind)}") from None


def plain(value: Any) -> Any:
    """Plain data (str keys, lists, enum values, Python numbers) to compare settings and store them."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def json_ready(value: Any) -> Any:
    """Plain JSON data: NaN and infinities become None."""
    data = plain(value)
    if isinstance(data, dict):
        return {k: json_ready(v) for k, v in data.items()}
    if isinstance(data, list):
        return [json_ready(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data
