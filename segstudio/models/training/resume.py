"""The resume state: ``<out>.resume.pt`` beside the best checkpoint, holding everything to continue a run exactly.

Model, optimiser and AMP scaler state, the step, the history, the best score and the torch RNG state, as plain
tensors and dicts, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from segstudio.core.atomic import atomic_write
from segstudio.models.training.config import TrainingConfig, plain

RESUME_FORMAT = "segstudio-resume"
RESUME_VERSION = 1
# Settings that may change between a run and its resumption without breaking it.
_RESUMABLE_CHANGES = frozenset({"epochs", "max_seconds", "num_workers", "device", "amp", "validation_tile_size"})


def resume_state_path(out: str | Path) -> Path:
    """Where the resume state of a run writing ``out`` lives: ``best.safetensors`` -> ``best.resume.pt``."""
    out = Path(out)
    if out.suffix.lower() in (".pt", ".pth", ".safetensors"):
        return out.with_suffix(".resume.pt")
    return out.with_name(out.name + ".resume.pt")


def read_resume_state(path: Path, config: TrainingConfig) -> dict[str, Any]:
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
