"""Exclusive, non-blocking operating-system locks on an open file: ``flock`` on POSIX, ``msvcrt.locking`` on Windows
(one byte at ``offset``). Both raise BlockingIOError when another open file description holds the lock; the OS drops
a lock when its process ends, however it ends."""

from __future__ import annotations

import os
from typing import IO

if os.name == "nt":  # pragma: no cover - not exercised on the Linux CI
    import msvcrt

    def lock(stream: IO[bytes], offset: int = 0) -> None:
        stream.seek(offset)
        try:
            msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            raise BlockingIOError(str(exc)) from exc

    def unlock(stream: IO[bytes], offset: int = 0) -> None:
        stream.seek(offset)
        msvcrt.locking(stream.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def lock(stream: IO[bytes], offset: int = 0) -> None:  # noqa: ARG001 (flock locks the whole file)
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def unlock(stream: IO[bytes], offset: int = 0) -> None:  # noqa: ARG001
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)


__all__ = ["lock", "unlock"]
