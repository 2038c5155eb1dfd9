"""Unexpected errors leave a log file in the user's log folder and a sentence saying where it is.

An error the user can fix (a :class:`~segstudio.core.errors.FileProblem`, a ``ValueError``) is a message, never a
traceback. Anything else is a bug: its traceback, the version, the platform and the command go to
``<user log folder>/crash-<time>.log`` (``~/.local/state/segstudio/log`` on Linux, ``%LOCALAPPDATA%`` on Windows,
``~/Library/Logs`` on macOS; ``$SEGSTUDIO_DATA_DIR/logs`` when that is set), never next to the program: a packaged
app's own folder may be read-only and is replaced on update.
"""

from __future__ import annotations

import os
import platform
import sys
import traceback
from datetime import datetime
from pathlib import Path
from types import TracebackType

from segstudio import __version__

DATA_DIR_VARIABLE = "SEGSTUDIO_DATA_DIR"  # the same override as segstudio.io.project_file.user_data_dir


def log_dir() -> Path:
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override:
        return Path(override) / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir("segstudio", appauthor=False))


def write_crash_log(error: BaseException, traceback_: TracebackType | None = None) -> Path | None:
    """Write the log of an unexpected ``error``; its path, or None when even that failed (said on stderr)."""
    folder = log_dir()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(type(error), error, traceback_ or error.__traceback__))
    body = (
        f"segstudio {__version__} crashed at {datetime.now().astimezone().isoformat(timespec='seconds')}\n"
        f"python {platform.python_version()} on {platform.platform()}\n"
        f"frozen: {bool(getattr(sys, 'frozen', False))}, executable: {sys.executable}\n"
        f"command: {' '.join(sys.argv)}\n\n{text}"
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{stamp}-{os.getpid()}.log"
        path.write_text(body, encoding="utf-8")
        return path
    except OSError as problem:
        print(f"segstudio: could not write a crash log in {folder}: {problem}", file=sys.stderr)
        print(body, file=sys.stderr)
        return None


def report_crash(error: BaseException, traceback_: TracebackType | None = None) -> str:
    """Log ``error`` and return the sentence to show the user."""
    path = write_crash_log(error, traceback_)
    where = f"the details are in {path}" if path is not None else "the details are printed above"
    return (f"segstudio hit an unexpected error ({type(error).__name__}: {error}); {where}. "
            "Please attach that file to a bug report.")


__all__ = ["log_dir", "report_crash", "write_crash_log"]
