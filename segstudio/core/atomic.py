"""Atomic file writes: a file is either its old self or completely new, never half-written.

The bytes go to a temporary file in the destination's folder (same file system, so the final rename is
atomic), are flushed and fsynced, and the temporary file is then ``os.replace``d over the destination.
On any failure, including an exception raised by the caller while writing, the temporary file is removed
and the destination is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from segstudio.core.errors import FileProblem

TEMP_SUFFIX = ".tmp"


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
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=folder)
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
