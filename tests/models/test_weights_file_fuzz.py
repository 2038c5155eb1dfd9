"""Every loader of a weights file against broken files (issue 14): a real checkpoint (ours, safetensors) and a real
torch state dict cut through their headers (every length where a header opens and closes, every 16th between) and
at points beyond, and every possible first byte in front of noise and of a real file's rest. Each loader either loads or raises CheckpointProblem naming the file;
never another exception, and never a model from a file that was cut."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from segstudio.models.checkpoints import (
    CheckpointProblem,
    load_checkpoint,
    load_weights_file,
    read_checkpoint_meta,
)
from segstudio.models.promptable import load_promptable
from tests.models import test_checkpoints as shared

saved, tiny_meta, tiny_unet = shared.saved, shared.tiny_meta, shared.tiny_unet  # the fixtures, under their names

LOADERS: tuple[Callable[[Path], object], ...] = (load_weights_file, load_checkpoint, read_checkpoint_meta,
                                                   load_promptable)


def _refused_or_loaded(path: Path, *, whole: bool) -> int:
    """Run every loader on ``path``; the number that loaded (only a whole file may load)."""
    loaded = 0
    for load in LOADERS:
        try:
            load(path)
        except CheckpointProblem as problem:
            assert problem.path == path, (load.__name__, problem)
        else:
            loaded += 1
            assert whole, f"{load.__name__} loaded {path.stat().st_size} bytes of a cut file"
    return loaded


def _cut_points(size: int, header_end: int, rng: np.random.Generator) -> list[int]:
    """Every length through the first 64 bytes (the length field, the format's opening) and the last 128 of the
    header with 64 past it (where it closes), every 16th between, and 40 random lengths in the tensors."""
    ends = {*range(0, min(size, 64)), *range(max(0, header_end - 128), min(size, header_end + 64))}
    between = range(64, max(64, header_end - 128), 16)
    beyond = rng.integers(header_end + 64, size, 40) if size > header_end + 64 else []
    return sorted({*ends, *between, *map(int, beyond)})


def test_a_checkpoint_cut_anywhere_is_refused_by_name(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    cut = tmp_path / "cut.safetensors"
    rng = np.random.default_rng(0)
    points = _cut_points(len(data), header_end, rng)
    for length in points:
        cut.write_bytes(data[:length])
        _refused_or_loaded(cut, whole=False)
    cut.write_bytes(data)
    assert _refused_or_loaded(cut, whole=True) >= 2  # ours: load_weights_file, load_checkpoint and its metadata


def test_a_torch_state_dict_cut_anywhere_is_refused_by_name(tiny_unet: torch.nn.Module, tmp_path: Path) -> None:
    whole = tmp_path / "state.pth"
    torch.save(tiny_unet.state_dict(), whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pth"
    rng = np.random.default_rng(1)
    for length in _cut_points(len(data), 512, rng)[::4]:  # a zip's directory is at its end: cuts anywhere break it
        cut.write_bytes(data[:length])
        _refused_or_loaded(cut, whole=False)


@pytest.mark.parametrize("tail", ["noise", "checkpoint"])
def test_every_first_byte_is_refused_or_read_never_a_traceback(saved: Path, tmp_path: Path, tail: str) -> None:
    rest = saved.read_bytes()[1:] if tail == "checkpoint" else np.random.default_rng(2).bytes(256)
    path = tmp_path / "first.bin"
    original = saved.read_bytes()[0]
    for first in range(256):
        path.write_bytes(bytes([first]) + rest)
        _refused_or_loaded(path, whole=tail == "checkpoint" and first == original)
