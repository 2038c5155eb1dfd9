"""A job as the window holds it: what it runs (:class:`Job`, :data:`JobFunction`), its :class:`JobHandle` (cancel,
signals, whether it is still current), the :class:`WorkerSignals` the GUI hears it through, and the
:class:`WorkerFailure` an exception becomes.

:class:`~segstudio.ui.workers.WorkerPool` makes the handles and delivers on the GUI thread; what runs on the pool
thread is :mod:`segstudio.ui.worker_runner`.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from segstudio.core.errors import FileProblem
from segstudio.core.progress import CancelToken, ProgressCallback

JobFunction = Callable[[ProgressCallback, CancelToken], Any]
"""``fn(progress, cancel) -> result``: runs on a worker thread; reports through ``progress``, checks ``cancel``."""


class ChannelGenerations(Protocol):
    """What a handle asks its pool (:class:`~segstudio.ui.workers.WorkerPool`): a channel's current generation."""

    def generation(self, channel: str) -> int: ...


@dataclass(frozen=True)
class Job:
    """What to run: ``fn`` on a worker, as generation ``generation`` of ``channel``."""

    channel: str
    generation: int
    fn: JobFunction


@dataclass(frozen=True)
class WorkerFailure:
    """A job that raised. ``message`` is for the window; ``details`` (the traceback) for a details view."""

    channel: str
    generation: int
    error_type: str
    message: str
    details: str

    def __str__(self) -> str:
        return self.message


def failure_from_exception(error: BaseException, channel: str, generation: int) -> WorkerFailure:
    """Text only: the exception (and the frames, arrays and tensors its traceback holds) is not kept.

    A :class:`~segstudio.core.errors.FileProblem` or ``ValueError`` is written for the user already, so its text
    is the message as it is; anything else reads ``"<ExceptionType>: <text>"``.
    """
    text = str(error).strip()
    if isinstance(error, (FileProblem, ValueError)) and text:
        message = text
    else:
        message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return WorkerFailure(channel, generation, type(error).__name__, message, details)


class WorkerSignals(QObject):
    """What the GUI hears about a job (or, from :meth:`WorkerPool.signals`, about every current job of a channel).

    Always emitted on the GUI thread. ``progress`` carries a :class:`~segstudio.core.progress.Progress`,
    ``finished`` the job's result, ``failed`` a :class:`WorkerFailure`.
    """

    started = Signal()
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()


class JobHandle:
    """A submitted job: its signals, its cancel, and whether it still matters.

    ``done`` turns true on the worker once the function has returned or raised (its outcome may still be on its
    way to the GUI); ``is_current`` is false once a newer job was submitted to the channel (or it was dropped).
    """

    def __init__(self, pool: ChannelGenerations, job: Job) -> None:
        self._pool = pool
        self.job = job
        self.token = CancelToken()
        self.signals = WorkerSignals()
        self._superseded = threading.Event()  # set on the GUI thread, read by the worker: stop posting progress
        self._done = threading.Event()

    @property
    def channel(self) -> str:
        return self.job.channel

    @property
    def generation(self) -> int:
        return self.job.generation

    @property
    def is_current(self) -> bool:
        return not self._superseded.is_set() and self._pool.generation(self.channel) == self.generation

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancel_requested(self) -> bool:
        return self.token.cancelled

    def cancel(self) -> None:
        """Ask the job to stop (cooperative). A current job then ends with ``cancelled``."""
        self.token.cancel()

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return f"<JobHandle {self.channel}#{self.generation} {state}{'' if self.is_current else ' stale'}>"


__all__ = [
    "ChannelGenerations",
    "Job",
    "JobFunction",
    "JobHandle",
    "WorkerFailure",
    "WorkerSignals",
    "failure_from_exception",
]
