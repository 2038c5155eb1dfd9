"""Which kind of weights file a path is, and reading one safely.

Nothing in a file is ever executed: PyTorch files are read with ``torch.load(..., weights_only=True)``
(tensors and plain containers only), safetensors files with safetensors. Every failure is a
:class:`~segstudio.models.checkpoints.problems.CheckpointProblem` naming the file; weights with NaN or
infinite values are refused too (:func:`_check_finite`).
"""

from __future__ import annotations

import pickle
import re
import struct
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

import safetensors
import safetensors.torch
import torch
from torch import Tensor

from segstudio.models.checkpoints.problems import CheckpointProblem, ProblemKind

# segstudio's training resume state (``<out>.resume.pt``, :mod:`segstudio.models.training.resume`): a PyTorch
# file holding a model's weights among much else, recognised by this marker so that it is never taken for a model.
RESUME_FORMAT = "segstudio-resume"
RESUME_SUFFIX = ".resume.pt"
_SAFETENSORS_HEADER_LIMIT = 100_000_000  # safetensors' own limit on its JSON header
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")  # training scripts' dicts


class _Format(Enum):
    SAFETENSORS = "safetensors"
    TORCH_ZIP = "torch zip"
    PICKLE = "pickle"


def _sniff(path: Path) -> _Format:
    """Which kind of weights file ``path`` is, from its first bytes; :class:`CheckpointProblem` when none.

    safetensors comes first: its file starts with the header's length (a little-endian u64), so its first byte
    is anything, 0x80 (a pickle's PROTO opcode) included for one header length in 256. A length within the
    limit has bytes 4..7 zero, where the pickles of ``pickle`` and ``torch.save`` have opcodes and arguments,
    so the two hardly ever look alike; when they do (0x80, then 2..5), the header's closing ``}`` decides.
    """
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise CheckpointProblem(path, ProblemKind.MISSING, "is a folder, not a weights file")
        with path.open("rb") as stream:
            head = stream.read(16)
            header_size = _safetensors_header_size(head)
            # Pickle protocols 2..5 start PROTO (0x80) then the protocol: PyTorch's legacy format, a plain pickle.
            looks_like_pickle = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
            if header_size is not None and looks_like_pickle:  # both at once: the header's end decides
                if header_size + 8 > size or not _header_closes(stream, header_size):
                    header_size = None
    except FileNotFoundError:
        raise CheckpointProblem(path, ProblemKind.MISSING, "does not exist") from None
    except OSError as exc:
        raise CheckpointProblem(path, ProblemKind.MISSING, f"cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise CheckpointProblem(path, ProblemKind.EMPTY, "is empty (0 bytes): not a weights file")
    if head.startswith(b"PK\x03\x04"):
        return _Format.TORCH_ZIP
    if header_size is not None:
        if header_size + 8 > size:
            raise CheckpointProblem(
                path, ProblemKind.TRUNCATED, f"is truncated or corrupt: a safetensors file cut short ({size} bytes)"
            )
        return _Format.SAFETENSORS
    if looks_like_pickle:
        return _Format.PICKLE
    raise CheckpointProblem(
        path,
        ProblemKind.NOT_WEIGHTS,
        f"is not a weights file: neither safetensors nor PyTorch (it starts with {head[:8]!r})",
    )


def _safetensors_header_size(head: bytes) -> int | None:
    """The JSON header length a safetensors file starting with ``head`` declares, or ``None`` when ``head`` is
    not the start of one: an 8-byte little-endian length within safetensors' limit, then ``{``."""
    if len(head) < 9 or head[8:9] != b"{":
        return None
    (header_size,) = struct.unpack("<Q", head[:8])
    return header_size if 2 <= header_size <= _SAFETENSORS_HEADER_LIMIT else None


def _header_closes(stream: BinaryIO, header_size: int) -> bool:
    """Whether the header's last byte before its space padding is the JSON object's closing ``}``: read
    backwards from the header's end, a block at a time, past the padding only."""
    end = 8 + header_size
    while end > 8:
        start = max(8, end - 4096)
        stream.seek(start)
        block = stream.read(end - start).rstrip(b" ")
        if block:
            return block.endswith(b"}")
        end = start
    return False


def _safetensors_metadata(path: Path) -> dict[str, str]:
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as handle:
            return dict(handle.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise CheckpointProblem(
            path, ProblemKind.TRUNCATED, f"is truncated or corrupt: not a readable safetensors file ({exc})"
        ) from None


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    try:
        state = safetensors.torch.load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointProblem(
            path, ProblemKind.TRUNCATED, f"is truncated or corrupt: its tensors cannot be read ({exc})"
        ) from None
    _check_finite(path, state)
    return state


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _read_torch(path: Path) -> dict[str, Tensor]:
    """A state dict from a PyTorch file, never running code from it (``weights_only=True``)."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" not in text:
            raise CheckpointProblem(path, ProblemKind.TRUNCATED, f"is truncated or corrupt: {text}") from None
        found = _GLOBAL.search(text)
        asks = f"it asks for {found.group(1)}" if found else "it holds pickle instructions beyond plain data"
        raise CheckpointProblem(
            path,
            ProblemKind.UNSAFE,
            f"is not a plain weights file: {asks}, and loading it could run code, so it was refused without "
            "running anything. Only tensors and plain containers are read; save weights with "
            "torch.save(model.state_dict(), ...) or as safetensors",
        ) from None
    except Exception as exc:  # zip/pickle damage surfaces as RuntimeError, EOFError, struct.error...
        raise CheckpointProblem(
            path, ProblemKind.TRUNCATED, f"is truncated or corrupt: it cannot be read as a PyTorch file ({exc})"
        ) from None
    return _state_dict_from(path, loaded)


def _state_dict_from(path: Path, loaded: object) -> dict[str, Tensor]:
    if isinstance(loaded, Mapping) and loaded.get("format") == RESUME_FORMAT:
        raise CheckpointProblem(path, ProblemKind.RESUME_STATE, f"is a training resume state, not a model: {_model_beside(path)}")
    if isinstance(loaded, Mapping) and not _all_tensors(loaded):
        for key in _WRAPPER_KEYS:  # {"model": state_dict, "optimizer": ..., "epoch": ...}
            inner = loaded.get(key)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                loaded = inner
                break
    if not isinstance(loaded, Mapping) or not loaded or not _all_tensors(loaded):
        what = type(loaded).__name__ if not isinstance(loaded, Mapping) else "a dict that is not a state dict"
        raise CheckpointProblem(
            path, ProblemKind.NOT_WEIGHTS, f"is not a weights file: it holds {what}, not tensors by name"
        )
    state = {str(k): v for k, v in loaded.items()}
    if all(k.startswith("module.") for k in state):  # saved from DataParallel / DistributedDataParallel
        state = {k[len("module.") :]: v for k, v in state.items()}
    _check_finite(path, state)
    return state


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a weights file of either kind (safetensors or PyTorch), read without running anything from
    it; :class:`CheckpointProblem` naming the file when it cannot be."""
    path = Path(path)
    if _sniff(path) is _Format.SAFETENSORS:
        return _read_safetensors(path)
    return _read_torch(path)


def model_beside(resume_state: Path) -> Path:
    """The checkpoint a run wrote beside its resume state: ``best.resume.pt`` -> ``best.safetensors``."""
    name = resume_state.name
    stem = name[: -len(RESUME_SUFFIX)] if name.endswith(RESUME_SUFFIX) else resume_state.stem
    return resume_state.with_name(stem + ".safetensors")


def _model_beside(path: Path) -> str:
    model = model_beside(path)
    if model.is_file():
        return f"load {model.name} beside it"
    return f"load the checkpoint its run wrote ({model.name}, which is not beside it)"


def _check_finite(path: Path, state: Mapping[str, Tensor], *, action: str = "it was not loaded") -> None:
    """Refuse NaN or infinite values in any floating tensor (weights, BatchNorm statistics...).

    A diverged training saves such weights without complaint, and the model they make predicts all
    background (NaN logits argmax to class 0) as if it worked. One ``isfinite().all()`` per tensor: about
    0.1 s for ResNet-50's 25M values on one CPU thread, less than building the model takes; the values are
    counted only for a file that fails.
    """
    bad = [
        (key, tensor)
        for key, tensor in state.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if not bad:
        return
    floating = sum(1 for tensor in state.values() if tensor.is_floating_point())
    nan = sum(int(torch.isnan(tensor).sum()) for _, tensor in bad)
    infinite = sum(int(torch.isinf(tensor).sum()) for _, tensor in bad)
    names = ", ".join(key for key, _ in bad[:3]) + (", ..." if len(bad) > 3 else "")
    raise CheckpointProblem(
        path,
        ProblemKind.NON_FINITE,
        f"holds broken weights: {len(bad)} of its {floating} floating-point tensors have non-finite values "
        f"({nan} NaN, {infinite} infinite), in {names}. A model with them predicts nothing meaningful (did its "
        f"training diverge?), so {action}",
    )


def _all_tensors(mapping: Mapping[Any, Any]) -> bool:
    return all(isinstance(k, str) and isinstance(v, Tensor) for k, v in mapping.items())

