"""The resume state: ``<out>.resume.pt`` beside the best checkpoint, holding everything to continue a run exactly.

Model, optimiser and AMP scaler state, the step, the history, the best score and the torch RNG state, as plain
tensors and dicts, so it loads with ``weights_only=True``. It is written after every epoch and is about three
times the checkpoint's size (the optimiser keeps two values per weight), so it lives only while it is needed: a
run that completes all its epochs removes it (:func:`finish_resume_state`), one stopped early keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from segstudio.core.atomic import atomic_write
from segstudio.models.checkpoints import RESUME_FORMAT, RESUME_SUFFIX
from segstudio.models.training.config import TrainingConfig, plain

RESUME_VERSION = 1
# Settings that may change between a run and its resumption without breaking it.
_RESUMABLE_CHANGES = frozenset(
    {"epochs", "max_seconds", "num_workers", "device", "amp", "validation_tile_size", "keep_resume_state"}
)


def resume_state_path(out: str | Path) -> Path:
    """Where the resume state of a run writing ``out`` lives: ``best.safetensors`` -> ``best.resume.pt``."""
    out = Path(out)
    if out.suffix.lower() in (".pt", ".pth", ".safetensors"):
        return out.with_suffix(RESUME_SUFFIX)
    return out.with_name(out.name + RESUME_SUFFIX)


def read_resume_state(path: Path, config: TrainingConfig) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(
            f"cannot resume: no resume state at {path} (a run that completed all its epochs removes it; to train "
            "further, start a new run from its checkpoint as the initial weights: segstudio train --init)"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise ValueError(f"cannot resume from {path}: {exc}") from exc
    if not isinstance(data, Mapping) or data.get("format") != RESUME_FORMAT:
        raise ValueError(f"{path} is not a segstudio resume state")
    if data.get("version") != RESUME_VERSION:
        raise ValueError(f"{path} is a version {data.get('version')} resume state; this version reads {RESUME_VERSION}")
    before, now = dict(data["config"]), config.to_mapping()
    changed = sorted(k for k in now if k not in _RESUMABLE_CHANGES and plain(before.get(k)) != plain(now[k]))
    if changed:
        raise ValueError(
            f"cannot resume: the run in {path.name} had other settings for {', '.join(changed)} "
            f"(only {', '.join(sorted(_RESUMABLE_CHANGES))} may change)"
        )
    return dict(data)


def write_resume_state(data: Mapping[str, Any], path: Path) -> None:
    """Write atomically: a crash mid-write leaves the previous epoch's state, never a torn file."""
    with atomic_write(path) as stream:
        torch.save(dict(data), stream)


def finish_resume_state(path: Path, *, completed: bool, keep: bool, written: bool) -> bool:
    """Remove the resume state of a run that ``completed`` all its epochs (unless ``keep``); whether one is kept.

    ``written``: this run wrote or read ``path``; a file this run never touched (an older run's, left behind) is
    neither removed nor claimed as this run's.
    """
    if not written or not path.is_file():
        return False
    if completed and not keep:
        path.unlink(missing_ok=True)
        return False
    return True
