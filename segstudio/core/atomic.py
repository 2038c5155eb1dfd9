"""Atomic file writes: a file is either its old self or completely new, never half-written.

The bytes go to a temporary file in the destination's folder (same file system, so the final rename is
atomic), are flushed and fsynced, and the temporary file is then ``os.replace``d over the destination.
On any failure, including an exception raised by the caller while writing, the temporary file is removed
and the destination is left exactly as it was.

A killed process cannot remove its temporary file, so each one is named for its writer:
``.<name>.segstudio-<pid>-<random>.tmp``. The first write into a folder in a process removes the ones left there
by writers that are gone (:func:`remove_stale_temp_files`): never a file a live writer may still be using.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from segstudio.core.errors import FileProblem

TEMP_SUFFIX = ".tmp"
TEMP_MARK = ".segstudio-"  # .<name>.segstudio-<pid>-<random>.tmp
# A write takes seconds (minutes for a big checkpoint on a slow disk) and touches its file as it goes. A temporary
# file untouched this long whose writer's process is gone is left over from a kill; one untouched for
# ABANDONED_AFTER_S is left over whatever its pid says (the pid may have been reused, or be another machine's or
# container's on a shared folder, or unknowable, as on Windows).
STALE_AFTER_S = 60 * 60
ABANDONED_AFTER_S = 24 * 60 * 60
_OURS = re.compile(r"^\..*\.segstudio-(?P<pid>\d+)-[a-z0-9_]+\.tmp$")
# Before temporary files named their writer: .<name>.<8 random characters>.tmp (tempfile.mkstemp's).
_OURS_UNNAMED = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
_LONGEST_NAME_IN_TEMP = 180  # bytes of the destination's name kept in the temporary one: the whole stays < 255


def _current_umask() -> int:
    # os.umask can only be read by setting it; do it once, at import, before any threads write files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_write(path: str | Path, *, text: bool = False, encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Yield a file object; on a clean exit the file replaces ``path`` atomically.

    >>> with atomic_write("mask.png") as f:      # doctest: +SKIP
    ...     image.save(f, format="PNG")

    Binary by default; ``text=True`` gives a text stream in ``encoding``. The destination's folder must
    exist (:class:`FileProblem` otherwise). A new file gets the usual permissions (``0o666`` less the
    umask); an existing file keeps its permission bits.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileProblem(path, f"cannot write: folder {folder} does not exist")
    if path.is_dir():
        raise FileProblem(path, "cannot write: a folder of that name exists")
    name = path.name if len(os.fsencode(path.name)) <= _LONGEST_NAME_IN_TEMP else path.name[:40]
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{name}{TEMP_MARK}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise FileProblem(path, f"cannot write in folder {folder}: {exc.strerror or exc}") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w" if text else "wb", encoding=encoding if text else None) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        _copy_permissions(path, temp)
        try:
            os.replace(temp, path)
        except OSError as exc:
            raise FileProblem(path, f"cannot replace the file: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_folder(folder)
    _clean_once(folder)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as stream:
        stream.write(data)


def write_text_atomic(path: str | Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`); newlines are written as ``\\n``."""
    write_bytes_atomic(path, text.encode(encoding))


def _copy_permissions(destination: Path, temp: Path) -> None:
    try:
        mode = stat.S_IMODE(destination.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_UMASK
    with contextlib.suppress(OSError):
        os.chmod(temp, mode)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


# -- leftovers of killed writes ----------------------------------------------------------------------------------

_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


def remove_stale_temp_files(folder: str | Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files of writes into ``folder`` that were killed; return what was removed.

    Only atomic_write's own names are touched. One is stale when untouched for :data:`STALE_AFTER_S` and its
    writer's process is gone (its pid is in the name), or untouched for :data:`ABANDONED_AFTER_S` whatever the
    pid; a file named in the older way (no pid) only after :data:`ABANDONED_AFTER_S`. A file a live writer is
    using is never either. Errors (a read-only folder, a file removed meanwhile) are ignored: this is tidying."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or not name.endswith(TEMP_SUFFIX):
            continue
        ours = _OURS.match(name)
        if ours is None and _OURS_UNNAMED.match(name) is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if age >= ABANDONED_AFTER_S or (ours is not None and age >= STALE_AFTER_S and not _alive(int(ours["pid"]))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _clean_once(folder: Path) -> None:
    """Tidy ``folder`` on this process's first write into it: one listing, however many writes follow."""
    key = os.path.normcase(os.path.abspath(folder))
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    remove_stale_temp_files(folder)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running; True when it cannot be told (then only age decides)."""
    if pid == os.getpid():
        return True
    if os.name != "posix" or pid <= 0:
        return True  # Windows' os.kill would end the process, not test it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process, alive
        return True
    return True
