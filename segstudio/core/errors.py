"""Errors that name the file at fault and say what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class FileProblem(ValueError):
    """A file that cannot be used as asked: unreadable, corrupt, the wrong size, values outside the label set...

    ``str(error)`` reads ``"<path>: <problem>"`` so it can be shown to a user as it is.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
