"""Training and fine-tuning on a dataset folder, as :func:`segstudio.io.datasets.open_dataset` opens it.

:func:`train` builds any registered architecture for the dataset's label set (or fine-tunes one from a
checkpoint), trains it, validates after every epoch on whole images, keeps the best checkpoint (by validation
mean IoU) and writes a resume state after every epoch. It runs on CUDA with mixed precision when present, else
on the CPU.

Semantic models: loss = cross-entropy + ``dice_weight`` x soft Dice (over the classes present in the batch),
both leaving out pixels whose ground truth is the ignore id and pixels a crop padded; PSPNet's auxiliary head
adds ``aux_weight`` x the same loss. Instance models (Mask R-CNN): torchvision's detection losses summed, SGD
with a linear warm-up by default; validation then scores the class mask of the predicted instances.

Determinism: one ``seed`` fixes the split, the initial weights, the sample order, every augmentation (a pure
function of seed, epoch and position, see :mod:`segstudio.models.training_data`) and, on the CPU, the
arithmetic (``torch.use_deterministic_algorithms`` for the duration of the run): two runs with one seed give
identical weights. The best model is written with :func:`segstudio.models.checkpoints.save_checkpoint` (a ``.safetensors``
segstudio checkpoint with labels, normalisation, the training settings, history and metrics). Resume:
``<out>.resume.pt`` (``best.safetensors`` -> ``best.resume.pt``) holds model, optimiser and
AMP scaler state, the step, the history, the best score and the torch RNG state, as plain tensors and dicts
(loaded with ``weights_only=True``); ``train(..., resume=True)`` continues exactly where it was saved.

Progress: ``Progress("train", batch, batches per epoch, "epoch e of E", {"loss", "lr", "epoch"})`` after every
batch and ``Progress("validate", epoch, epochs, ..., {"mean_iou", "mean_dice", "pixel_accuracy", "loss"})``
after every epoch. Cancel is checked between batches and between validation images and raises
:class:`~segstudio.core.progress.Cancelled`; the last epoch's resume state and the best checkpoint stay on
disk. ``max_seconds`` stops a run gracefully instead: the epoch in progress is validated, and the result says
:attr:`StopReason.TIME_BUDGET`.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from segstudio.core.labels import LabelSet
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.io.dataset_spec import MaskKind
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.models.normalisation import InputNormalisation, image_channels
from segstudio.models.predictor import Predictor, default_device, semantic_logits
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.models.registry import ModelConfig, Task, build_model, get_architecture
from segstudio.models.training_data import (
    IGNORE,
    Augmentation,
    InstanceImages,
    SampleReader,
    SemanticCrops,
    TrainingSample,
    collate_instances,
)

RESUME_FORMAT = "segstudio-resume"
RESUME_VERSION = 1
_STATISTICS_IMAGES = 32  # training images read to estimate the input mean/std
_VALIDATION_SPLITS = ("val", "validation", "valid", "test")
# Settings that may change between a run and its resumption without breaking it.
_RESUMABLE_CHANGES = frozenset({"epochs", "max_seconds", "num_workers", "device", "amp", "validation_tile_size"})


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


@dataclass(frozen=True)
class EpochRecord:
    """One epoch (or the validated part of one, when a time budget cut it short)."""

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

    @property
    def metrics(self) -> dict[str, float | None]:
        return {
            "loss": self.train_loss,
            "mean_iou": self.mean_iou,
            "mean_dice": self.mean_dice,
            "pixel_accuracy": self.pixel_accuracy,
        }

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
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EpochRecord:
        return cls(**{**data, "class_iou": tuple(data.get("class_iou", ())), "class_dice": tuple(data.get("class_dice", ()))})


@dataclass(frozen=True)
class TrainingResult:
    """What a run produced: the best checkpoint, its epoch and scores, and every epoch's record."""

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


def resume_state_path(out: str | Path) -> Path:
    """Where the resume state of a run writing ``out`` lives: ``best.safetensors`` -> ``best.resume.pt``."""
    out = Path(out)
    if out.suffix.lower() in (".pt", ".pth", ".safetensors"):
        return out.with_suffix(".resume.pt")
    return out.with_name(out.name + ".resume.pt")


# -- losses ---------------------------------------------------------------------------------------------------


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, *, smooth: float = 1.0) -> torch.Tensor:
    """``1 - mean soft Dice`` over the classes present in ``target``; pixels equal to :data:`IGNORE` are left out."""
    valid = target != IGNORE
    probabilities = torch.softmax(logits.float(), dim=1) * valid.unsqueeze(1)
    safe = torch.where(valid, target, torch.zeros_like(target))
    one_hot = F.one_hot(safe, logits.shape[1]).permute(0, 3, 1, 2).to(probabilities.dtype) * valid.unsqueeze(1)
    dims = (0, 2, 3)
    overlap = (probabilities * one_hot).sum(dims)
    truth = one_hot.sum(dims)
    dice = (2.0 * overlap + smooth) / (probabilities.sum(dims) + truth + smooth)
    present = truth > 0
    if not bool(present.any()):
        return logits.sum() * 0.0
    return 1.0 - dice[present].mean()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, *, dice_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy + ``dice_weight`` x soft Dice; pixels whose target is :data:`IGNORE` get no gradient."""
    if not bool((target != IGNORE).any()):
        return logits.sum() * 0.0  # nothing to learn from: a zero that keeps the graph
    loss = F.cross_entropy(logits.float(), target, ignore_index=IGNORE)
    if dice_weight:
        loss = loss + dice_weight * soft_dice_loss(logits, target)
    return loss


# -- the run --------------------------------------------------------------------------------------------------


@dataclass
class _RunState:
    step: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    best_metrics: dict[str, float | None] = field(default_factory=dict)


@dataclass
class _Setup:
    task: Task
    labels: LabelSet
    model_config: ModelConfig
    normalisation: InputNormalisation
    train: tuple[TrainingSample, ...]
    val: tuple[TrainingSample, ...]
    reader: SampleReader
    notes: list[str]
    initial: Any = None  # the LoadedModel to fine-tune from


def train(
    dataset: Dataset | str | Path,
    config: TrainingConfig,
    out: str | Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    resume: bool = False,
) -> TrainingResult:
    """Train ``config.architecture`` on ``dataset`` (a folder or an opened :class:`Dataset`); best model -> ``out``.

    ``resume=True`` continues from ``<out>.resume.pt`` (``ValueError`` when it is missing or was written for
    other settings; ``epochs``, ``max_seconds``, ``num_workers``, ``device``, ``amp`` may change).
    """
    started = time.monotonic()
    if not isinstance(config, TrainingConfig):
        raise ValueError(f"config must be a TrainingConfig, got {type(config).__name__}")
    out = Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"cannot write the checkpoint {out}: folder {out.parent} does not exist")
    opened = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    architecture = get_architecture(config.architecture)
    resume_path = resume_state_path(out)
    saved = _read_resume_state(resume_path, config) if resume else None
    setup = _prepare(opened, config, architecture.task, saved)
    device = torch.device(config.device) if config.device else default_device()
    with _deterministic(config.deterministic, device):
        torch.manual_seed(config.seed)
        model = build_model(setup.model_config)
        if setup.initial is not None:
            setup.notes.extend(_copy_matching_weights(model, setup.initial.model))
            setup.initial = None
        model.to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        runner = _Runner(model, setup, config, device, out, resume_path)
        if saved is not None:
            runner.restore(saved)
        stop = runner.run(progress, cancel, started)
    state = runner.state
    return TrainingResult(
        checkpoint=out,
        resume_state=resume_path,
        best_epoch=state.best_epoch,
        best_metrics=dict(state.best_metrics),
        history=tuple(state.history),
        stop_reason=stop,
        seconds=time.monotonic() - started,
        model_config=setup.model_config,
        normalisation=setup.normalisation,
        labels=setup.labels,
        train_keys=tuple(s.key for s in setup.train),
        val_keys=tuple(s.key for s in setup.val),
        notes=tuple(setup.notes),
    )


class _Runner:
    """The epoch loop shared by semantic and instance training."""

    def __init__(
        self, model: nn.Module, setup: _Setup, config: TrainingConfig, device: torch.device, out: Path, resume_path: Path
    ) -> None:
        self.model = model
        self.setup = setup
        self.config = config
        self.device = device
        self.out = out
        self.resume_path = resume_path
        self.instance = setup.task is Task.INSTANCE
        self.state = _RunState()
        self.samples_per_epoch = config.samples_per_epoch or len(setup.train)
        self.steps_per_epoch = math.ceil(self.samples_per_epoch / config.batch_size)
        self.base_lr = config.learning_rate or (5e-3 if self.instance else 1e-3)
        if config.warmup_steps is not None:
            self.warmup = config.warmup_steps
        else:
            self.warmup = min(100, self.steps_per_epoch * config.epochs // 10) if self.instance else 0
        self.optimiser = _make_optimiser(model, config.optimiser or (Optimiser.SGD if self.instance else Optimiser.ADAMW), self.base_lr, config.weight_decay)
        use_amp = device.type == "cuda" and config.amp is not False
        self.amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if use_amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)
        if self.instance:
            self.data: SemanticCrops | InstanceImages = InstanceImages(
                setup.train, setup.reader, setup.normalisation, augmentation=config.augmentation,
                seed=config.seed, samples_per_epoch=self.samples_per_epoch,
            )  # fmt: skip
        else:
            self.data = SemanticCrops(
                setup.train, setup.reader, setup.normalisation, crop_size=config.crop_size,
                augmentation=config.augmentation, seed=config.seed, samples_per_epoch=self.samples_per_epoch,
            )  # fmt: skip

    # -- resume -----------------------------------------------------------------------------------------------

    def restore(self, saved: Mapping[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimiser.load_state_dict(saved["optimiser"])
        if saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        best = saved["best"]
        self.state = _RunState(
            step=int(saved["step"]),
            history=[EpochRecord.from_mapping(r) for r in saved["history"]],
            best_epoch=best["epoch"],
            best_score=best["score"],
            best_metrics=dict(best["metrics"]),
        )
        torch.set_rng_state(saved["torch_rng"])
        if self.device.type == "cuda" and saved.get("cuda_rng"):
            with contextlib.suppress(RuntimeError, IndexError):
                torch.cuda.set_rng_state(saved["cuda_rng"], self.device)
        previous = TrainingConfig.from_mapping(saved["config"])
        if previous.epochs != self.config.epochs:
            self.setup.notes.append(
                f"resumed a {previous.epochs}-epoch run as a {self.config.epochs}-epoch run: the learning-rate "
                "schedule follows the new length from here"
            )

    def save_resume_state(self) -> None:
        state = self.state
        data = {
            "format": RESUME_FORMAT,
            "version": RESUME_VERSION,
            "config": _plain(self.config.to_mapping()),
            "model_config": _plain(self.setup.model_config.to_mapping()),
            "normalisation": self.setup.normalisation.to_mapping(),
            "labels": self.setup.labels.to_mapping(),
            "train_keys": [s.key for s in self.setup.train],
            "val_keys": [s.key for s in self.setup.val],
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimiser": self.optimiser.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "step": state.step,
            "history": [r.to_mapping() for r in state.history],
            "best": {"epoch": state.best_epoch, "score": state.best_score, "metrics": dict(state.best_metrics)},
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }
        _atomic_torch_save(data, self.resume_path)

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self, progress: ProgressCallback | None, cancel: CancelToken | None, started: float) -> StopReason:
        config = self.config
        total_steps = self.steps_per_epoch * config.epochs
        while self.state.step < total_steps:
            epoch, position = divmod(self.state.step, self.steps_per_epoch)
            epoch_started = time.monotonic()
            self.data.set_epoch(epoch, position * config.batch_size)
            loader = DataLoader(
                self.data,
                batch_size=config.batch_size,
                shuffle=False,
                num_workers=config.num_workers,
                collate_fn=collate_instances if self.instance else None,
                pin_memory=self.device.type == "cuda",
            )
            self.model.train()
            losses: list[float] = []
            lr = self._learning_rate(self.state.step, total_steps)
            out_of_time = False
            for batch in loader:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                if config.max_seconds is not None and time.monotonic() - started > config.max_seconds:
                    out_of_time = True
                    break
                lr = self._learning_rate(self.state.step, total_steps)
                for group in self.optimiser.param_groups:
                    group["lr"] = lr
                losses.append(self._step(batch))
                self.state.step += 1
                done = self.state.step - epoch * self.steps_per_epoch
                report(
                    progress,
                    Progress(
                        "train", done, self.steps_per_epoch, f"epoch {epoch + 1} of {config.epochs}",
                        {"loss": float(np.mean(losses)), "lr": lr, "epoch": float(epoch + 1)},
                    ),
                )  # fmt: skip
            if not losses:  # out of time before the first batch of this epoch
                return StopReason.TIME_BUDGET
            scores = self._validate(cancel)
            record = EpochRecord(
                epoch=epoch + 1,
                steps=self.state.step,
                train_loss=float(np.mean(losses)),
                learning_rate=lr,
                mean_iou=scores.mean_iou,
                mean_dice=scores.mean_dice,
                pixel_accuracy=scores.pixel_accuracy,
                class_iou=_per_class(scores.iou_array),
                class_dice=_per_class(scores.dice_array),
                seconds=time.monotonic() - epoch_started,
                partial=out_of_time or self.state.step % self.steps_per_epoch != 0,
            )
            self.state.history.append(record)
            score = -1.0 if record.mean_iou is None else record.mean_iou
            if self.state.best_score is None or score > self.state.best_score:
                self.state.best_score = score
                self.state.best_epoch = record.epoch
                self.state.best_metrics = record.metrics
                self._save_best(record)
            self.save_resume_state()
            report(
                progress,
                Progress(
                    "validate", epoch + 1, config.epochs,
                    f"epoch {epoch + 1} of {config.epochs}: mean IoU {_fmt(record.mean_iou)}", record.metrics,  # type: ignore[arg-type]
                ),
            )  # fmt: skip
            if out_of_time:
                return StopReason.TIME_BUDGET
        return StopReason.COMPLETED

    def _step(self, batch: Any) -> float:
        self.optimiser.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self._instance_loss(batch) if self.instance else self._semantic_loss(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss.item()} at step {self.state.step + 1}; lower the learning rate"
            )
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimiser)
        self.scaler.update()
        return float(loss.detach())

    def _semantic_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, targets = batch
        images = images.to(self.device, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        output = self.model(images)
        loss = segmentation_loss(semantic_logits(output), targets, dice_weight=self.config.dice_weight)
        if isinstance(output, Mapping) and isinstance(output.get("aux"), torch.Tensor) and self.config.aux_weight:
            loss = loss + self.config.aux_weight * segmentation_loss(output["aux"], targets, dice_weight=self.config.dice_weight)
        return loss

    def _instance_loss(self, batch: tuple[list[torch.Tensor], list[Any]]) -> torch.Tensor:
        targets_from_instances = _targets_from_instances()
        images, masks = batch
        images = [image.to(self.device, non_blocking=True) for image in images]
        targets = [{k: v.to(self.device) for k, v in targets_from_instances(m).items()} for m in masks]
        losses = self.model(images, targets)
        if not isinstance(losses, Mapping):
            raise ValueError("an instance model in train mode must return a dict of losses (torchvision's detection API)")
        return sum(losses.values(), torch.zeros((), device=self.device))

    def _validate(self, cancel: CancelToken | None) -> Scores:
        labels = self.setup.labels
        predictor = Predictor(
            self.model,
            task=self.setup.task,
            normalisation=self.setup.normalisation,
            num_classes=self.setup.model_config.num_classes,
            device=self.device,
            tile_size=None if self.instance else self.config.validation_tile_size,
            amp=self.amp_dtype is not None,
            score_threshold=self.config.score_threshold,
        )
        matrix = np.zeros((labels.num_classes, labels.num_classes), dtype=np.int64)
        for sample in self.setup.val:
            if cancel is not None:
                cancel.raise_if_cancelled()
            image = self.setup.reader.image(sample)
            predicted = predictor.predict(image, cancel=cancel).classes
            if self.instance:
                truth = self.setup.reader.instance_mask(sample).to_class_mask(predicted.dtype)
                ignore = None
            else:
                truth, ignore = self.setup.reader.class_mask(sample), labels.ignore_index
            matrix += confusion_matrix(truth, predicted, labels.num_classes, ignore)
        self.model.train()
        return Scores.from_confusion(matrix, labels.names)

    def _save_best(self, record: EpochRecord) -> None:
        summary = {
            "training": self.config.to_mapping(),
            "epoch": record.epoch,
            "metrics": record.metrics,
            "class_iou": list(record.class_iou),
            "class_dice": list(record.class_dice),
            "history": [r.to_mapping() for r in self.state.history],
            "train_keys": [s.key for s in self.setup.train],
            "val_keys": [s.key for s in self.setup.val],
        }
        save_trained_model(self.out, self.model, self.setup.model_config, self.setup.labels, self.setup.normalisation, summary)

    def _learning_rate(self, step: int, total: int) -> float:
        return self.base_lr * learning_rate_factor(step, total, self.config.schedule, self.warmup)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)


def learning_rate_factor(step: int, total: int, schedule: Schedule, warmup: int = 0) -> float:
    """The multiplier of the base learning rate at optimiser step ``step`` of ``total``."""
    warm = (step + 1) / warmup if step < warmup else 1.0
    progress = min(1.0, step / max(1, total))
    if schedule is Schedule.COSINE:
        factor = 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))
    elif schedule is Schedule.POLY:
        factor = max(0.0, 1.0 - progress) ** 0.9
    else:
        factor = 1.0
    return warm * factor


# -- saving and loading -----------------------------------------------------------------------------------------


def save_trained_model(
    path: Path,
    model: nn.Module,
    model_config: ModelConfig,
    labels: LabelSet,
    normalisation: InputNormalisation,
    summary: Mapping[str, Any],
) -> None:
    """Write a trained model as a segstudio checkpoint (:func:`segstudio.models.checkpoints.save_checkpoint`)."""
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint

    meta = CheckpointMeta(
        config=model_config,
        labels=labels,
        normalisation=normalisation,
        training=_json_ready(summary),
        metrics=_json_ready(summary.get("metrics", {})),
    )
    save_checkpoint(path, model, meta)


def _load_initial_weights(path: Path, model_config: ModelConfig, labels: LabelSet) -> tuple[Any, list[str]]:
    """The checkpoint (or foreign weights file) to fine-tune from, fitted to ``model_config``; and notes."""
    from segstudio.models.checkpoints import load_weights_file

    loaded = load_weights_file(path, config=model_config, labels=labels, replace_heads=True)
    notes = [f"fine-tuning from {path.name}", *loaded.notes]
    return loaded, notes


def _copy_matching_weights(model: nn.Module, source: nn.Module) -> list[str]:
    own = model.state_dict()
    weights = source.state_dict()
    matching = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matching, strict=False)
    fresh = sorted(k for k in set(own) - set(matching) if not k.endswith("num_batches_tracked"))
    if not fresh:
        return []
    shown = ", ".join(fresh[:6]) + (f" and {len(fresh) - 6} more" if len(fresh) > 6 else "")
    return [f"left at random initialisation: {shown}"]


def _read_resume_state(path: Path, config: TrainingConfig) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"cannot resume: no resume state at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise ValueError(f"cannot resume from {path}: {exc}") from exc
    if not isinstance(data, Mapping) or data.get("format") != RESUME_FORMAT:
        raise ValueError(f"{path} is not a segstudio resume state")
    if data.get("version") != RESUME_VERSION:
        raise ValueError(f"{path} is a version {data.get('version')} resume state; this version reads {RESUME_VERSION}")
    before, now = dict(data["config"]), config.to_mapping()
    changed = sorted(k for k in now if k not in _RESUMABLE_CHANGES and _plain(before.get(k)) != _plain(now[k]))
    if changed:
        raise ValueError(
            f"cannot resume: the run in {path.name} had other settings for {', '.join(changed)} "
            f"(only {', '.join(sorted(_RESUMABLE_CHANGES))} may change)"
        )
    return dict(data)


def _atomic_torch_save(data: Any, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(data, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# -- preparing the data -----------------------------------------------------------------------------------------


def _prepare(dataset: Dataset, config: TrainingConfig, task: Task, saved: Mapping[str, Any] | None) -> _Setup:
    labels = dataset.spec.labels
    kind = MaskKind.INSTANCE if task is Task.INSTANCE else MaskKind.SEMANTIC
    if task is Task.SEMANTIC and labels.num_classes < 2:
        raise ValueError("the dataset's label set has a single class: there is nothing to tell apart")
    usable = _usable_samples(dataset, kind)
    if not usable:
        raise ValueError(
            f"no image in {dataset.root} has {kind.value} ground truth; "
            + ("instance masks train Mask R-CNN, not a semantic model" if kind is MaskKind.SEMANTIC else "Mask R-CNN needs instance masks")
        )
    notes: list[str] = []
    if saved is not None:
        by_key = {s.key: s for s in usable}
        missing = [k for k in (*saved["train_keys"], *saved["val_keys"]) if k not in by_key]
        if missing:
            raise ValueError(f"cannot resume: {len(missing)} image(s) of the run are gone from the dataset, e.g. {missing[0]}")
        train_samples = tuple(by_key[k] for k in saved["train_keys"])
        val_samples = tuple(by_key[k] for k in saved["val_keys"])
    else:
        train_samples, val_samples = _split(usable, config, notes)
    reader = SampleReader(labels)
    initial = None
    if saved is not None:
        model_config = ModelConfig.from_mapping(saved["model_config"])
        normalisation = InputNormalisation.from_mapping(saved["normalisation"])
    else:
        channels = config.in_channels or _infer_channels(train_samples, reader)
        model_config = ModelConfig(config.architecture, labels.num_classes, channels, config.encoder, dict(config.options))
        if config.initial_weights:
            initial, loaded_notes = _load_initial_weights(Path(config.initial_weights), model_config, labels)
            notes.extend(loaded_notes)
        if config.normalisation is not None:
            normalisation = config.normalisation
        elif initial is not None:  # pretrained features expect the input they were trained on
            normalisation = initial.meta.normalisation
        elif task is Task.INSTANCE:
            normalisation = InputNormalisation.unit(channels)
        else:
            normalisation = _statistics(train_samples, reader, channels)
        if normalisation.channels != channels:
            raise ValueError(f"the input normalisation is for {normalisation.channels} channels but the model takes {channels}")
    return _Setup(task, labels, model_config, normalisation, train_samples, val_samples, reader, notes, initial)


def _usable_samples(dataset: Dataset, kind: MaskKind) -> tuple[TrainingSample, ...]:
    found = []
    for sample in dataset.samples:
        source = dataset.ground_truth_source(sample)
        mask = dataset.ground_truth(sample)
        if source is None or mask is None or source.kind is not kind:
            continue
        found.append(TrainingSample(sample.key, sample.image, mask, source.value_map, sample.split))
    return tuple(found)


def _split(
    usable: tuple[TrainingSample, ...], config: TrainingConfig, notes: list[str]
) -> tuple[tuple[TrainingSample, ...], tuple[TrainingSample, ...]]:
    splits = {s.key: s.split for s in usable}
    if config.val_split is not None:
        val = tuple(s for s in usable if splits[s.key] == config.val_split)
        if not val:
            raise ValueError(f"no image with ground truth in split {config.val_split!r}")
    else:
        val = ()
        for name in _VALIDATION_SPLITS:
            candidate = tuple(s for s in usable if splits[s.key] == name)
            if candidate and len(candidate) < len(usable):
                val = candidate
                notes.append(f"validation: the dataset's {name!r} split ({len(val)} images)")
                break
    if val:
        val_keys = {s.key for s in val}
        rest = tuple(s for s in usable if s.key not in val_keys)
        train = tuple(s for s in rest if splits[s.key] == config.train_split) if config.train_split else rest
        if not train:
            raise ValueError(f"no training images with ground truth left (train split {config.train_split!r})")
        return train, val
    pool = tuple(s for s in usable if splits[s.key] == config.train_split) if config.train_split else usable
    if not pool:
        raise ValueError(f"no image with ground truth in split {config.train_split!r}")
    count = round(len(pool) * config.val_fraction)
    if count == 0 and config.val_fraction > 0 and len(pool) >= 2:
        count = 1
    if count == 0:
        notes.append("validation uses the training images themselves (too few images, or val_fraction 0)")
        return pool, pool
    order = np.random.default_rng(config.seed).permutation(len(pool))
    val = tuple(pool[i] for i in sorted(order[:count]))
    train = tuple(pool[i] for i in sorted(order[count:]))
    notes.append(f"validation: a random {len(val)} of {len(pool)} images (seed {config.seed})")
    return train, val


def _infer_channels(samples: Sequence[TrainingSample], reader: SampleReader) -> int:
    """1 when every one of the first few training images is grey, else 3."""
    return 3 if any(image_channels(reader.image(s)) == 3 for s in samples[:8]) else 1


def _statistics(samples: Sequence[TrainingSample], reader: SampleReader, channels: int) -> InputNormalisation:
    step = max(1, len(samples) // _STATISTICS_IMAGES)
    chosen = samples[::step][:_STATISTICS_IMAGES]
    return InputNormalisation.from_images((reader.image(s) for s in chosen), channels)


# -- small helpers ----------------------------------------------------------------------------------------------


def _targets_from_instances() -> Callable[[Any], dict[str, torch.Tensor]]:
    try:
        from segstudio.models.architectures.mask_rcnn import targets_from_instances
    except ImportError as exc:
        raise ValueError(f"instance training needs segstudio.models.architectures.mask_rcnn ({exc})") from exc
    return targets_from_instances


def _make_optimiser(model: nn.Module, kind: Optimiser, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if kind is Optimiser.SGD:
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if kind is Optimiser.ADAM:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@contextlib.contextmanager
def _deterministic(enabled: bool, device: torch.device) -> Iterator[None]:
    """Deterministic arithmetic for the run, restoring the process-wide settings afterwards."""
    was_enabled = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    was_benchmark = torch.backends.cudnn.benchmark
    was_cudnn_deterministic = torch.backends.cudnn.deterministic
    try:
        if device.type == "cuda":
            # Exact CUDA determinism would need CUBLAS_WORKSPACE_CONFIG set before CUDA starts and slower kernels;
            # seeds plus deterministic cuDNN make GPU runs repeatable in practice, benchmark mode when not asked.
            torch.backends.cudnn.deterministic = enabled
            torch.backends.cudnn.benchmark = not enabled
        elif enabled:
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.use_deterministic_algorithms(was_enabled, warn_only=was_warn_only)
        torch.backends.cudnn.benchmark = was_benchmark
        torch.backends.cudnn.deterministic = was_cudnn_deterministic


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _enum(kind: type[StrEnum], value: object, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(v.value for v in kind)}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _json_ready(value: Any) -> Any:
    """Plain JSON data: NaN and infinities become None."""
    plain = _plain(value)
    if isinstance(plain, dict):
        return {k: _json_ready(v) for k, v in plain.items()}
    if isinstance(plain, list):
        return [_json_ready(v) for v in plain]
    if isinstance(plain, float) and not math.isfinite(plain):
        return None
    return plain


def _per_class(values: np.ndarray) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(v) else float(v) for v in values)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


__all__ = [
    "Augmentation",
    "EpochRecord",
    "Optimiser",
    "Schedule",
    "StopReason",
    "TrainingConfig",
    "TrainingResult",
    "learning_rate_factor",
    "resume_state_path",
    "save_trained_model",
    "segmentation_loss",
    "soft_dice_loss",
    "train",
]
