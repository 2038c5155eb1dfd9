"""The epoch loop shared by semantic and instance training: steps, validation on whole images, best checkpoint."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from segstudio.core.labels import LabelSet
from segstudio.core.progress import Cancelled, CancelToken, Progress, ProgressCallback, report
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.predictor import Predictor, semantic_logits
from segstudio.models.registry import ModelConfig, Task
from segstudio.models.training.config import (
    MASK_AP50,
    MEAN_IOU,
    EpochRecord,
    Optimiser,
    StopReason,
    TrainingConfig,
    epoch_score,
    json_ready,
    keeps_best,
    plain,
)
from segstudio.models.training.distributed import SINGLE, Agreement, Ranks, StepBatches, parallel_model
from segstudio.models.training.losses import learning_rate_factor, segmentation_loss
from segstudio.models.training.resume import RESUME_FORMAT, RESUME_VERSION, write_resume_state
from segstudio.models.training.samples import InstanceImages, SemanticCrops, collate_instances
from segstudio.models.training.setup import RunSetup
from segstudio.models.training.validation import Validation, validate


@dataclass
class _RunState:
    step: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    best_metrics: dict[str, float | None] = field(default_factory=dict)


class Runner:
    """The epoch loop shared by semantic and instance training, in one process or as one rank of several
    (:mod:`segstudio.models.training.distributed`)."""

    def __init__(
        self,
        model: nn.Module,
        setup: RunSetup,
        config: TrainingConfig,
        device: torch.device,
        out: Path,
        resume_path: Path,
        ranks: Ranks = SINGLE,
    ) -> None:
        self.model = model
        self.ranks = ranks
        self.agree = Agreement(ranks, device)
        self.setup = setup
        self.config = config
        self.device = device
        self.out = out
        self.resume_path = resume_path
        self.instance = setup.task is Task.INSTANCE
        self.score_key = MASK_AP50 if self.instance else MEAN_IOU  # what chooses the best epoch
        self.state = _RunState()
        self.resume_state_written = False  # by this run (an older run's file at the same place is not ours)
        self.samples_per_epoch = config.samples_per_epoch or len(setup.train)
        self.steps_per_epoch = math.ceil(self.samples_per_epoch / config.batch_size)
        self.base_lr = config.learning_rate or (5e-3 if self.instance else 1e-3)
        if config.warmup_steps is not None:
            self.warmup = config.warmup_steps
        else:
            self.warmup = min(100, self.steps_per_epoch * config.epochs // 10) if self.instance else 0
        self.optimiser = _make_optimiser(model, config.optimiser or (Optimiser.SGD if self.instance else Optimiser.ADAMW), self.base_lr, config.weight_decay)
        # what the training steps call: the model itself, or DistributedDataParallel around it (PSPNet's auxiliary
        # head takes no part in the loss when its weight is 0, which DDP must be told)
        self.trained = parallel_model(model, ranks, device, unused_parameters=config.aux_weight == 0)
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
        # A state saved before instance runs ranked epochs by mask AP holds a best class IoU: not comparable with
        # an AP, so the resumed run's next epoch replaces that checkpoint and AP ranks the epochs from there.
        if best.get("score_key", MEAN_IOU) != self.score_key and best["epoch"] is not None:
            self.state.best_score = None
            self.setup.notes.append(
                f"the resume state's best epoch ({best['epoch']}) was chosen by {best.get('score_key', MEAN_IOU)}; "
                f"from the resumed epochs on the best is chosen by {self.score_key}"
            )
        rank_states = saved.get("rank_rng") or []
        same_world = int(saved.get("world_size", 1)) == self.ranks.world_size
        torch.set_rng_state(rank_states[self.ranks.rank] if same_world and rank_states else saved["torch_rng"])
        if self.device.type == "cuda" and saved.get("cuda_rng"):
            with contextlib.suppress(RuntimeError, IndexError):
                torch.cuda.set_rng_state(saved["cuda_rng"], self.device)
        previous = TrainingConfig.from_mapping(saved["config"])
        saved_world = int(saved.get("world_size", 1))
        if saved_world != self.ranks.world_size:
            self.setup.notes.append(
                f"resumed a run of {saved_world} process(es) with {self.ranks.world_size}: the steps take the same "
                "crops; batch norm on the CPU normalises each process's share of a step"
            )
        if previous.epochs != self.config.epochs:
            self.setup.notes.append(
                f"resumed a {previous.epochs}-epoch run as a {self.config.epochs}-epoch run: the learning-rate "
                "schedule follows the new length from here"
            )

    def save_resume_state(self) -> None:
        rank_states = self.agree.gather([torch.get_rng_state()]) if self.ranks.distributed else []
        if not self.ranks.main:
            return
        state = self.state
        data = {
            "format": RESUME_FORMAT,
            "version": RESUME_VERSION,
            "config": plain(self.config.to_mapping()),
            "model_config": plain(self.setup.model_config.to_mapping()),
            "normalisation": self.setup.normalisation.to_mapping(),
            "labels": self.setup.labels.to_mapping(),
            "train_keys": [s.key for s in self.setup.train],
            "val_keys": [s.key for s in self.setup.val],
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimiser": self.optimiser.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "step": state.step,
            "history": [r.to_mapping() for r in state.history],
            "best": {
                "epoch": state.best_epoch, "score": state.best_score, "score_key": self.score_key,
                "metrics": dict(state.best_metrics),
            },
            "torch_rng": torch.get_rng_state(),
            "world_size": self.ranks.world_size,
            "rank_rng": rank_states,  # each process's torch stream (dropout, proposal sampling), in rank order
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }
        write_resume_state(data, self.resume_path)
        self.resume_state_written = True

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self, progress: ProgressCallback | None, cancel: CancelToken | None, started: float) -> StopReason:
        config = self.config
        total_steps = self.steps_per_epoch * config.epochs
        while self.state.step < total_steps:
            epoch, position = divmod(self.state.step, self.steps_per_epoch)
            epoch_started = time.monotonic()
            self.data.set_epoch(epoch, position * config.batch_size)
            steps = StepBatches(len(self.data), config.batch_size, self.ranks)
            loader = DataLoader(
                self.data,
                batch_sampler=steps,
                num_workers=config.num_workers,
                collate_fn=collate_instances if self.instance else None,
                pin_memory=self.device.type == "cuda",
            )
            self.trained.train()
            losses: list[float] = []
            lr = self._learning_rate(self.state.step, total_steps)
            out_of_time = False
            for shard, batch in zip(steps.shards(), loader, strict=True):
                # every process stops at the same step, or the others would wait for it in a gradient reduction
                cancelled, out_of_time = self.agree.any_of(
                    cancel is not None and cancel.cancelled,
                    config.max_seconds is not None and time.monotonic() - started > config.max_seconds,
                )
                if cancelled:
                    raise Cancelled("cancelled")
                if out_of_time:
                    break
                lr = self._learning_rate(self.state.step, total_steps)
                for group in self.optimiser.param_groups:
                    group["lr"] = lr
                losses.append(self._step(batch, shard.weight))
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
            validation = self._validate(cancel)
            scores, detection_ap = validation.scores, validation.detection_ap
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
                mask_ap50=None if detection_ap is None else detection_ap.ap50,
                mask_ap=None if detection_ap is None else detection_ap.ap,
                score_key=self.score_key,
            )
            self.state.history.append(record)
            score = epoch_score(record)
            if keeps_best(score, self.state.best_score):
                self.state.best_score = score
                self.state.best_epoch = record.epoch
                self.state.best_metrics = record.metrics
                self._save_best(record)
            self.save_resume_state()
            report(
                progress,
                Progress(
                    "validate", epoch + 1, config.epochs,
                    f"epoch {epoch + 1} of {config.epochs}: {_validation_text(record)}", record.metrics,  # type: ignore[arg-type]
                ),
            )  # fmt: skip
            if out_of_time:
                return StopReason.TIME_BUDGET
        return StopReason.COMPLETED

    def _step(self, batch: Any, weight: float) -> float:
        """One optimiser step; the loss over the step's crops (all processes'). ``weight``: this process's share
        of the step (:func:`~segstudio.models.training.distributed.step_shard`), 1 for a single process."""
        self.optimiser.zero_grad(set_to_none=True)
        with self._autocast():
            # an empty share still joins every reduction: a semantic model runs on no crops, Mask R-CNN (which
            # cannot) on one crop whose loss counts 0
            loss = self._instance_loss(batch) if self.instance else self._semantic_loss(batch, empty=not weight)
        if weight != 1.0:
            loss = loss * weight
        step_loss = self.agree.step_loss(float(loss.detach()) if weight else 0.0)
        if not math.isfinite(step_loss):  # every process sees the reduced loss, so all of them stop here
            raise FloatingPointError(
                f"the training loss became {step_loss} at step {self.state.step + 1}; lower the learning rate"
            )
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimiser)
        self.scaler.update()
        return step_loss

    def _semantic_loss(self, batch: tuple[torch.Tensor, torch.Tensor], *, empty: bool = False) -> torch.Tensor:
        images, targets = batch
        if empty:
            images, targets = images[:0], targets[:0]
        images = images.to(self.device, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        output = self.trained(images)
        loss = segmentation_loss(semantic_logits(output), targets, dice_weight=self.config.dice_weight)
        if isinstance(output, Mapping) and isinstance(output.get("aux"), torch.Tensor) and self.config.aux_weight:
            loss = loss + self.config.aux_weight * segmentation_loss(output["aux"], targets, dice_weight=self.config.dice_weight)
        return loss

    def _instance_loss(self, batch: tuple[list[torch.Tensor], list[Any]]) -> torch.Tensor:
        targets_from_instances = _targets_from_instances()
        images, masks = batch
        images = [image.to(self.device, non_blocking=True) for image in images]
        targets = [{k: v.to(self.device) for k, v in targets_from_instances(m).items()} for m in masks]
        losses = self.trained(images, targets)
        if not isinstance(losses, Mapping):
            raise ValueError("an instance model in train mode must return a dict of losses (torchvision's detection API)")
        return sum(losses.values(), torch.zeros((), device=self.device))

    def _validate(self, cancel: CancelToken | None) -> Validation:
        """Whole validation images. Semantic: the confusion of class masks. Instance: the class mask of the
        instances at ``score_threshold`` (for the class IoU figures) and, from every detection the model returns
        (no score cut of ours, see :mod:`segstudio.models.training.instance_validation`), the COCO mask AP."""
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
        try:
            return validate(predictor, self.setup, self.agree, cancel)
        finally:
            self.trained.train()

    def _save_best(self, record: EpochRecord) -> None:
        if not self.ranks.main:
            return
        summary = {
            "training": self.config.to_mapping(),
            "epoch": record.epoch,
            "selected_by": record.score_key,
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
        training=json_ready(summary),
        metrics=json_ready(summary.get("metrics", {})),
    )
    save_checkpoint(path, model, meta)


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


def _per_class(values: np.ndarray) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(v) else float(v) for v in values)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _validation_text(record: EpochRecord) -> str:
    if record.score_key == MASK_AP50:
        return (f"mask AP@0.5 {_fmt(record.mask_ap50)}, mask AP@[.5:.95] {_fmt(record.mask_ap)} "
                f"(class mean IoU {_fmt(record.mean_iou)})")
    return f"mean IoU {_fmt(record.mean_iou)}"
