"""One training run: :func:`train` from handed-in samples to the best checkpoint and its result."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from segstudio.core.progress import CancelToken, ProgressCallback
from segstudio.models.predictor import default_device
from segstudio.models.registry import build_model, get_architecture
from segstudio.models.training.config import StopReason, TrainingConfig, TrainingResult
from segstudio.models.training.resume import finish_resume_state, read_resume_state, resume_state_path
from segstudio.models.training.runner import Runner, deterministic
from segstudio.models.training.setup import TrainingData, copy_matching_weights, prepare


def train(
    data: TrainingData,
    config: TrainingConfig,
    out: str | Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    resume: bool = False,
) -> TrainingResult:
    """Train ``config.architecture`` on ``data``; the best model -> ``out`` (by validation mean IoU for a semantic
    model, by validation mask AP@0.5 for an instance model: :attr:`EpochRecord.score`).

    ``resume=True`` continues from ``<out>.resume.pt`` (``ValueError`` when it is missing or was written for
    other settings; ``epochs``, ``max_seconds``, ``num_workers``, ``device``, ``amp`` may change). The resume state,
    written after every epoch, is removed when the run completes all its epochs (``config.keep_resume_state``
    keeps it) and stays when it stops early: a time budget (``result.resume_state_kept``), a cancel or a failure.
    """
    started = time.monotonic()
    if not isinstance(config, TrainingConfig):
        raise ValueError(f"config must be a TrainingConfig, got {type(config).__name__}")
    if not isinstance(data, TrainingData):
        raise ValueError(f"data must be TrainingData, got {type(data).__name__}")
    out = Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"cannot write the checkpoint {out}: folder {out.parent} does not exist")
    architecture = get_architecture(config.architecture)
    resume_path = resume_state_path(out)
    saved = read_resume_state(resume_path, config) if resume else None
    setup = prepare(data, config, architecture.task, saved)
    device = torch.device(config.device) if config.device else default_device()
    with deterministic(config.deterministic, device):
        torch.manual_seed(config.seed)
        model = build_model(setup.model_config)
        if setup.initial is not None:
            setup.notes.extend(copy_matching_weights(model, setup.initial.model))
            setup.initial = None
        model.to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        runner = Runner(model, setup, config, device, out, resume_path)
        if saved is not None:
            runner.restore(saved)
        stop = runner.run(progress, cancel, started)
    state = runner.state
    kept = finish_resume_state(
        resume_path, completed=stop is StopReason.COMPLETED, keep=config.keep_resume_state,
        written=saved is not None or runner.resume_state_written,
    )
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
        resume_state_kept=kept,
    )
