"""Has a file changed since we read it? The check a save makes before replacing a file somebody else may have written.

A :class:`FileState` is what ``stat`` says about a file (inode, size, modification time in nanoseconds): an atomic
replace by any program gives the file a new inode, and an in-place rewrite a new time or size, so two states that
compare equal mean nobody wrote the file in between (to the file system's time resolution). It is the check
version-control tools use for their work trees; reading the whole file back would cost a decode per save.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from segstudio.core.errors import FileProblem


@dataclass(frozen=True)
class FileState:
    """A file's identity and version as ``stat`` reports it."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> FileState | None:
        """The state of ``path`` now; None when there is no such file."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(int(info.st_ino), int(info.st_size), int(info.st_mtime_ns))

    @property
    def modified_text(self) -> str:
        """Local time of the last change, for a message."""
        return datetime.fromtimestamp(self.mtime_ns / 1e9).astimezone().strftime("%Y-%m-%d %H:%M:%S")


class Unchecked(Enum):
    """Replace the file whatever its state (a save the user confirmed over a conflict, or tools without a
    window): the explicit way to skip the check."""

    UNCHECKED = "unchecked"


UNCHECKED = Unchecked.UNCHECKED
#: What a save expects to find: the state it read, None for "no file yet", or UNCHECKED.
Expected = FileState | None | Unchecked


class SaveConflict(FileProblem):
    """The file was written by somebody else since it was read: replacing it would lose their save."""

    def __init__(self, path: str | Path, expected: FileState | None, current: FileState) -> None:
        if expected is None:
            problem = (
                f"was created by another window or program at {current.modified_text}, after this image was opened; "
                "your work was not written over it"
            )
        else:
            problem = (
                f"was changed by another window or program at {current.modified_text}, after this image was opened; "
                "your work was not written over it"
            )
        super().__init__(path, problem)
        self.expected = expected
        self.current = current


def check_unchanged(path: str | Path, expected: Expected) -> None:
    """Raise :class:`SaveConflict` when ``path`` was written since it was in the ``expected`` state. A file deleted
    meanwhile is no conflict: writing it again loses nobody's save."""
    if expected is UNCHECKED:
        return
    current = FileState.of(path)
    if current is not None and current != expected:
        raise SaveConflict(path, expected, current)


__all__ = ["UNCHECKED", "Expected", "FileState", "SaveConflict", "Unchecked", "check_unchanged"]
