"""One window writes to a project at a time: a lock file beside the project file, held by the operating system.

``segstudio.lock`` sits next to ``segstudio.toml``. The window that opens a folder takes an exclusive OS lock on
it (``flock`` on POSIX, ``msvcrt.locking`` on Windows) and keeps the file open until it leaves the folder; the
file's text says who holds it (program, process id, host, user, since when) so a second window can tell its user.

Stale locks: the operating system drops the lock when its process ends, however it ends (a crash, a SIGKILL, a
power cut), so a lock file left behind by a dead window is simply taken over: there is no age rule to tune and no
way for a living window to lose its lock. On network file systems the lock is only as good as the file system's
own locking (NFSv4 and SMB lock across machines; some older NFS set-ups lock per machine): the check every save
makes before replacing a file (:mod:`segstudio.io.file_state`) still refuses to overwrite a newer save there.

Two windows in one process are told apart as well: each lock is its own open file description, and ``flock``
locks conflict between descriptions, not only between processes.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from segstudio import __version__
from segstudio.core.errors import FileProblem
from segstudio.io.os_locks import lock, unlock

LOCK_FILE_NAME = "segstudio.lock"
_WINDOWS_LOCK_OFFSET = 1 << 30  # msvcrt locks a byte range; one far past the text keeps the text readable


@dataclass(frozen=True)
class LockHolder:
    """Who holds a project, as its lock file says (fields may be missing from a damaged or foreign file)."""

    program: str = "segstudio"
    pid: int | None = None
    host: str | None = None
    user: str | None = None
    since: float | None = None

    @property
    def since_text(self) -> str:
        if self.since is None:
            return "an unknown time"
        return datetime.fromtimestamp(self.since).astimezone().strftime("%Y-%m-%d %H:%M")

    def describe(self) -> str:
        """``"another segstudio window (process 1234 of alice on host lab-3, since 2026-12-03 10:22)"``."""
        who = [f"process {self.pid}" if self.pid is not None else "a process"]
        if self.user:
            who.append(f"of {self.user}")
        if self.host:
            who.append(f"on {'this computer' if self.host == socket.gethostname() else 'host ' + self.host}")
        return f"another {self.program} ({' '.join(who)}, since {self.since_text})"


class ProjectLocked(FileProblem):
    """The project is held by another window: open it read-only, or wait until that window closes."""

    def __init__(self, path: Path, holder: LockHolder) -> None:
        super().__init__(path, f"this folder is open in {holder.describe()}")
        self.holder = holder


class ProjectLock:
    """An exclusive lock on one project folder, held until :meth:`release` (or the process ends)."""

    def __init__(self, path: Path, stream: IO[bytes]) -> None:
        self._path = path
        self._stream: IO[bytes] | None = stream

    @classmethod
    def acquire(cls, project_folder: str | Path, *, program: str = "segstudio window") -> ProjectLock:
        """Take the lock of ``project_folder`` (the folder of its ``segstudio.toml``).

        :class:`ProjectLocked` (with the holder) when another window holds it; :class:`FileProblem` when the
        lock file cannot be created (e.g. a read-only folder: such a folder's project lives in the user data
        folder, so this means something else is wrong)."""
        path = Path(project_folder) / LOCK_FILE_NAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = open(path, "a+b")  # never truncates: the holder's text stays until we own the lock
        except OSError as exc:
            raise FileProblem(path, f"cannot create the lock file: {exc.strerror or exc}") from exc
        try:
            _lock(stream)
        except BlockingIOError:
            holder = _read_holder(stream)
            stream.close()
            raise ProjectLocked(path, holder) from None
        except OSError as exc:
            stream.close()
            raise FileProblem(path, f"cannot lock the project: {exc.strerror or exc}") from exc
        holder = {
            "program": program,
            "version": __version__,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": _user(),
            "since": time.time(),
        }
        stream.seek(0)
        stream.truncate()
        stream.write(json.dumps(holder, indent=1).encode("utf-8"))
        stream.flush()
        return cls(path, stream)

    @classmethod
    def holder_of(cls, project_folder: str | Path) -> LockHolder | None:
        """Who holds ``project_folder`` now, without taking it; None when nobody does."""
        try:
            lock = cls.acquire(project_folder, program="segstudio check")
        except ProjectLocked as locked:
            return locked.holder
        lock.release()
        return None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def held(self) -> bool:
        return self._stream is not None

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: removing it would race with a window taking it."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(OSError):
            stream.seek(0)
            stream.truncate()
            stream.flush()
        with contextlib.suppress(OSError):
            _unlock(stream)
        stream.close()

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _read_holder(stream: IO[bytes]) -> LockHolder:
    try:
        stream.seek(0)
        data = json.loads(stream.read(65536).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return LockHolder()
    if not isinstance(data, dict):
        return LockHolder()

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    pid, since = data.get("pid"), data.get("since")
    return LockHolder(
        program=text("program") or "segstudio",
        pid=pid if isinstance(pid, int) else None,
        host=text("host"),
        user=text("user"),
        since=float(since) if isinstance(since, (int, float)) else None,
    )


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return None


def _lock(stream: IO[bytes]) -> None:
    lock(stream, _WINDOWS_LOCK_OFFSET)


def _unlock(stream: IO[bytes]) -> None:
    unlock(stream, _WINDOWS_LOCK_OFFSET)


__all__ = ["LOCK_FILE_NAME", "LockHolder", "ProjectLock", "ProjectLocked"]
