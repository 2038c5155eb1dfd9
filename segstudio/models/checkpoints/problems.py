"""The one error of checkpoint loading and saving: :class:`CheckpointProblem`, with a :class:`ProblemKind`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from segstudio.core.errors import FileProblem


class ProblemKind(StrEnum):
    MISSING = "missing"  # no such file, a folder, unreadable
    EMPTY = "empty"
    TRUNCATED = "truncated or corrupt"
    NOT_WEIGHTS = "not a weights file"  # random bytes, another kind of file, a pickle of no tensors
    UNSAFE = "not plain weights"  # a pickle that would import or run code: refused unread
    NOT_A_CHECKPOINT = "no segstudio metadata"
    BAD_METADATA = "bad metadata"
    NEWER_FORMAT = "newer format"
    UNKNOWN_ARCHITECTURE = "unknown architecture"
    WRONG_ARCHITECTURE = "wrong architecture"
    CLASS_MISMATCH = "class count mismatch"
    ENCODER_ONLY = "encoder weights only"  # ImageNet weights: say which model they go into
    UNRECOGNISED = "unrecognised network"
    INCOMPATIBLE = "incompatible weights"  # names/shapes do not fit the model
    NON_FINITE = "non-finite weights"  # NaN or infinite values: the model would predict nothing meaningful
    RESUME_STATE = "training resume state"  # segstudio's own <out>.resume.pt: its model is the checkpoint beside it


class CheckpointProblem(FileProblem):
    """A weights file that cannot be loaded as asked; ``kind`` says which problem, ``str()`` says it in words."""

    def __init__(self, path: str | Path, kind: ProblemKind, problem: str) -> None:
        super().__init__(path, problem)
        self.kind = kind
