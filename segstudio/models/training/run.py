"""One training run: :func:`train` from handed-in samples to the best checkpoint and its result."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from segstudio.core.progress import CancelToken, ProgressCallback
from segstudio.models.registry import build_model, get_architecture
from segstudio.models.training.config import StopReason, TrainingConfig, TrainingResult
from segstudio.models.training.distributed import SINGLE, Agreement, Ranks, process_group, rank_device, rank_seed
from segstudio.models.training.resume import finish_resume_state, read_resume_state, resume_state_path
from segstudio.models.training.runner import Runner
from segstudio.models.training.setup import TrainingData, copy_matching_weights, prepare


def train(
    data: TrainingData,
    config: TrainingConfig,
    out: str | Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    resume: bool = False,
    ranks: Ranks = SINGLE,
) -> TrainingResult:
    """Train ``config.architecture`` on ``data``; the best model -> ``out`` (by validation mean IoU for a semantic
    model, by validation mask AP@0.5 for an instance model: :attr:`EpochRecord.score`).

    ``resume=True`` continues from ``<out>.resume.pt`` (``ValueError`` when it is missing or was written for
    other settings; ``epochs``, ``max_seconds``, ``num_workers``, ``device``, ``amp`` may change). The resume state,
    written after every epoch, is removed when the run completes all its epochs (``config.keep_resume_state``
    keeps it) and stays when it stops early: a time budget (``result.resume_state_kept``), a cancel or a failure.

    ``ranks``: this process's place in a run of several (torchrun; :mod:`segstudio.models.training.distributed`).
    Every process calls :func:`train` with the same arguments and reads the same data, resume state included
    (a shared folder when the processes are on several machines); the main process (rank 0) alone reports
    ``progress`` and writes ``out`` and the resume state. Each process trains on its own GPU
    (``cuda:LOCAL_RANK``) when CUDA is used, else on the CPU through gloo.
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
    device = rank_device(ranks, config.device, torch.cuda.is_available())
    if not ranks.main:
        progress = None
    with process_group(ranks, device), deterministic(config.deterministic, device):
        torch.manual_seed(config.seed)
        model = build_model(setup.model_config)
        if setup.initial is not None:
            setup.notes.extend(copy_matching_weights(model, setup.initial.model))
            setup.initial = None
        model.to(device)
        if ranks.distributed:  # the same initial weights everywhere, then each process its own dropout
            torch.manual_seed(rank_seed(config.seed, ranks))
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        runner = Runner(model, setup, config, device, out, resume_path, ranks)
        if saved is not None:
            runner.restore(saved)
        stop = runner.run(progress, cancel, started)
        agree = Agreement(ranks, device)
        agree.barrier()  # the main process has written the checkpoint and resume state
        state = runner.state
        kept = agree.from_main(
            finish_resume_state(
                resume_path, completed=stop is StopReason.COMPLETED, keep=config.keep_resume_state,
                written=saved is not None or runner.resume_state_written,
            ) if ranks.main else None
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


@contextlib.contextmanager
def deterministic(enabled: bool, device: torch.device) -> Iterator[None]:
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
