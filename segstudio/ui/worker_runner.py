"""What runs on a pool thread: :class:`JobRunner` calls a job's function, throttles its progress reports, refuses
results the GUI must not receive (torch objects, Qt GUI objects), turns every ending into exactly one outcome, and
posts it all through the :class:`Relay` to the pool on the GUI thread.

Progress is throttled here, on the worker, to one report per ``progress_interval_s``
(:data:`DEFAULT_PROGRESS_INTERVAL_S`); the rules, and how it all fits together, are in :mod:`segstudio.ui.workers`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from segstudio.core.progress import Cancelled, Progress
from segstudio.ui.worker_jobs import JobHandle, failure_from_exception

DEFAULT_PROGRESS_INTERVAL_S = 0.05


class Relay(QObject):
    """Emitted on worker threads, received (queued) by the pool on the GUI thread; only the pool connects to it."""

    started = Signal(object)  # handle
    progress = Signal(object, object)  # handle, Progress
    finished = Signal(object, object)  # handle, result
    failed = Signal(object, object)  # handle, WorkerFailure
    cancelled = Signal(object)  # handle


class JobRunner:
    """Runs one job on a pool thread; posts everything through the relay.

    The pool starts its bound :meth:`run` (``QThreadPool.start(callable)``), not a ``QRunnable``: PySide keeps every
    ``QRunnable`` handed to ``QThreadPool.start`` referenced from the pool's wrapper for the pool's whole life (all of
    them with autoDelete off, some even with it on), and with it the job's handle and the data its closure holds (a
    mask copy per autosave, a session per image read): the window grew with every job (issue 14). A callable is let
    go once it has run.
    """

    def __init__(self, handle: JobHandle, relay: Relay, progress_interval_s: float) -> None:
        # Set once run() holds nothing of the job: the pool lets go of the handle only then, so that its signals
        # (a QObject of the GUI thread) and the job's data are released on the GUI thread, never on this one.
        self.released = threading.Event()
        self._handle: JobHandle | None = handle
        self._relay = relay
        self._interval = progress_interval_s
        self._last_post = float("-inf")
        self._unsent: Progress | None = None

    def run(self) -> None:  # worker thread
        try:
            assert self._handle is not None
            self._run(self._handle, self._relay)  # its locals (the handle, the result) are gone once it returns
        finally:
            self._handle, self._unsent = None, None
            self.released.set()

    def _run(self, handle: JobHandle, relay: Relay) -> None:  # worker thread
        outcome: tuple[str, Any] = ("cancelled", None)
        try:
            if not handle.token.cancelled:
                relay.started.emit(handle)
                try:
                    result = handle.job.fn(self._report, handle.token)
                    outcome = ("cancelled", None) if handle.token.cancelled else ("finished", check_result(result))
                except Cancelled:
                    outcome = ("cancelled", None)
                except Exception as error:  # noqa: BLE001 - a job's error must never take the app down
                    if handle.token.cancelled:
                        outcome = ("cancelled", None)
                    else:
                        outcome = ("failed", failure_from_exception(error, handle.channel, handle.generation))
        except BaseException as error:  # noqa: BLE001 - not even SystemExit may escape a worker thread
            outcome = ("failed", failure_from_exception(error, handle.channel, handle.generation))
        finally:
            handle._done.set()
            try:
                self._flush_progress()
                kind, value = outcome
                if kind == "finished":
                    relay.finished.emit(handle, value)
                elif kind == "failed":
                    relay.failed.emit(handle, value)
                else:
                    relay.cancelled.emit(handle)
            except RuntimeError:  # the pool's C++ side was deleted under a running job: nobody is left to tell
                pass

    def _report(self, progress: Progress) -> None:  # worker thread, called by the job
        if not isinstance(progress, Progress):
            raise ValueError(f"a job reports Progress objects, got {type(progress).__name__}")
        if self._handle is None or self._handle._superseded.is_set():  # None: a report after the job ended
            self._unsent = None
            return
        now = time.monotonic()
        complete = progress.total > 0 and progress.done >= progress.total
        if complete or now - self._last_post >= self._interval:
            self._last_post = now
            self._unsent = None
            self._relay.progress.emit(self._handle, progress)
        else:
            self._unsent = progress

    def _flush_progress(self) -> None:
        if self._unsent is not None and self._handle is not None and not self._handle._superseded.is_set():
            self._relay.progress.emit(self._handle, self._unsent)
        self._unsent = None


def check_result(result: Any) -> Any:
    """Refuse results the GUI must not receive from a worker: torch objects, Qt GUI objects."""
    module = type(result).__module__ or ""
    if module == "torch" or module.startswith("torch."):
        raise ValueError(
            f"a worker returned a torch {type(result).__name__}; hand the GUI numpy arrays or frozen dataclasses"
        )
    if module.startswith(("PySide6.QtGui", "PySide6.QtWidgets")):
        raise ValueError(
            f"a worker returned a {type(result).__name__}; Qt GUI objects may only be made on the GUI thread, "
            "so return numpy and build it there"
        )
    return result


__all__ = ["DEFAULT_PROGRESS_INTERVAL_S", "JobRunner", "Relay", "check_result"]
