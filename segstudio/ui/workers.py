"""Background work for the window: run slow functions on a thread pool, hear about them on the GUI thread.

Everything slow (inference, training, folder scans, thumbnails, full-image metrics) goes through a
:class:`WorkerPool`::

    handle = pool.submit("predict", lambda progress, cancel: predictor.predict(image, progress=progress, cancel=cancel))
    handle.signals.finished.connect(show_prediction)        # or, once for every job: pool.signals("predict")

This module owns the pool: channels, generations, and delivery on the GUI thread. A job's handle, signals and
failure are :mod:`segstudio.ui.worker_jobs`; what runs on the pool thread is :mod:`segstudio.ui.worker_runner`.
Every name other modules use (``WorkerPool``, ``WorkerFailure``, ``JobHandle``...) is importable from here.

How it fits together
--------------------
* **A job** is a function ``fn(progress, cancel) -> result`` (:data:`JobFunction`), the same shape the models'
  long work already has (:class:`~segstudio.core.progress.Progress` reports, a
  :class:`~segstudio.core.progress.CancelToken` checked between steps). The result should be plain numpy or a
  frozen dataclass: never a tensor, and never a ``QPixmap``/``QWidget`` (those may only be made on the GUI
  thread); a result from torch or a Qt GUI object is refused with a clear ``failed``.
* **Channels and generations.** Every job belongs to a channel ("predict", "thumbnails", "scan", "metrics"...).
  Submitting to a channel bumps that channel's generation and, unless asked not to, cancels the job it replaces.
  Anything a job sends (started, progress, result, failure, cancelled) reaches the GUI only while the job's
  generation is still its channel's current one; otherwise it is dropped. So the answer for an image the user
  has already left never lands on the image they are looking at. ``cancel(channel, drop=True)`` drops the current
  job too (the user moved to an image with nothing to compute).
* **Threads.** Public signals (:class:`WorkerSignals`) are only ever emitted on the GUI thread, so any slot, a
  lambda included, runs there. The worker thread talks to the GUI through one private relay ``QObject`` whose
  signals are connected to ``@Slot`` methods of the pool with explicit queued connections (never a lambda across
  threads: PySide would run it on the emitting thread). The pool must be made, and used, on the GUI thread.
* **Progress is throttled on the worker**: at most one report per ``progress_interval_s`` (50 ms) per job is
  posted; a completed report (``done >= total``) always goes through, and the last report a job made is always
  delivered before its outcome. A loop that reports 10,000 times posts a handful of events.
* **Outcomes.** Exactly one of ``finished(result)``, ``failed(WorkerFailure)`` or ``cancelled()`` follows
  ``started()`` for a current job. An exception never escapes the worker: it becomes a :class:`WorkerFailure`
  with a readable message and the traceback text. :class:`~segstudio.core.progress.Cancelled`, or any ending
  after the job's token was cancelled, is ``cancelled``, not ``failed``.
* **Shutdown**: ``pool.shutdown(timeout_ms)`` = ``cancel_all()`` then ``wait_for_done(timeout_ms)``; cancel is
  cooperative, so a job that never checks its token runs to its end.

The GIL
-------
The GUI thread needs the GIL to run any Python slot or paint handler. numpy and torch release it inside their
kernels, so a worker doing numpy/torch work leaves the GUI thread free. A worker spinning in pure Python holds
it and CPython hands it over only when a waiting thread has asked for ``sys.getswitchinterval()`` (5 ms). A
trivial slot barely notices (a 10 ms timer ticked with a 14 ms longest gap against a pure-Python job, 13 ms
against a numpy one), but PySide releases the GIL around many Qt calls, and every time the GUI thread wants it
back it may wait up to 5 ms: a paint handler making dozens of Qt calls would crawl. Keep workers' hot loops in
numpy/torch, or vectorise them.

Torch's CPU threads
-------------------
Torch's intra-op pool uses every core by default, so a CPU prediction competes with the GUI thread for cores.
``bench/bench_event_loop.py`` measured it on 2 shared cores (load ~3.5): the longest gap between 5 ms timer
ticks while a U-Net-ResNet50 predicted 25 tiles stayed 9-17 ms with torch's 2 threads (once 44 ms, in a run
whose idle baseline was itself 22 ms) and 10-13 ms with 1 thread, against 5-9 ms idle. The GUI thread sleeps
between turns, so the scheduler runs it as soon as it wakes, and torch drops the GIL inside every op. So the
pool leaves torch's thread count alone (``torch.set_num_threads`` is process-wide anyway); if a machine ever
shows starvation, lower it for the duration of a prediction job, not here.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, QThreadPool, Signal, Slot

from segstudio.core.progress import Progress
from segstudio.ui.worker_jobs import (
    Job,
    JobFunction,
    JobHandle,
    WorkerFailure,
    WorkerSignals,
    failure_from_exception,
)
from segstudio.ui.worker_runner import DEFAULT_PROGRESS_INTERVAL_S, JobRunner, Relay

__all__ = [
    "DEFAULT_PROGRESS_INTERVAL_S",
    "Job",
    "JobFunction",
    "JobHandle",
    "WorkerFailure",
    "WorkerPool",
    "WorkerSignals",
    "failure_from_exception",
]


class WorkerPool(QObject):
    """Runs jobs on its own ``QThreadPool`` (``max_threads``, default 2) and delivers what matters on the GUI thread.

    Signals: ``busy_changed(bool)`` when the first job starts or the last one's outcome has been handled.
    """

    busy_changed = Signal(bool)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        max_threads: int = 2,
        progress_interval_s: float = DEFAULT_PROGRESS_INTERVAL_S,
    ) -> None:
        super().__init__(parent)
        if isinstance(max_threads, bool) or int(max_threads) != max_threads or max_threads < 1:
            raise ValueError(f"max_threads must be a positive integer, got {max_threads!r}")
        if not progress_interval_s >= 0:
            raise ValueError(f"progress_interval_s must be 0 or more seconds, got {progress_interval_s!r}")
        self._progress_interval_s = float(progress_interval_s)
        self._threads = QThreadPool(self)
        self._threads.setMaxThreadCount(int(max_threads))
        self._relay = Relay(self)
        queued = Qt.ConnectionType.QueuedConnection
        self._relay.started.connect(self._on_started, queued)
        self._relay.progress.connect(self._on_progress, queued)
        self._relay.finished.connect(self._on_finished, queued)
        self._relay.failed.connect(self._on_failed, queued)
        self._relay.cancelled.connect(self._on_cancelled, queued)
        self._generations: dict[str, int] = {}
        self._current: dict[str, JobHandle] = {}
        self._channel_signals: dict[str, WorkerSignals] = {}
        # Submitted, outcome not yet handled on the GUI thread -> its runner's "released" (set once the worker
        # thread holds nothing of the job).
        self._running: dict[JobHandle, threading.Event] = {}
        # Handled jobs whose runner may still hold the handle for a moment: kept until it lets go, so the last
        # reference (and the handle's QObject) goes on this thread. A few at most: runners let go microseconds
        # after posting their outcome; dropped at the next submit or outcome.
        self._retiring: list[tuple[JobHandle, threading.Event]] = []

    # -- submitting -------------------------------------------------------------------------------------------

    @property
    def max_threads(self) -> int:
        return self._threads.maxThreadCount()

    def submit(self, channel: str, fn: JobFunction, *, cancel_previous: bool = True) -> JobHandle:
        """Run ``fn(progress, cancel)`` on a worker as the new current job of ``channel``.

        The channel's previous job, if still running, is made stale (nothing more from it reaches the GUI) and,
        with ``cancel_previous`` (the default), asked to stop. Connect to ``handle.signals`` right away: nothing
        is delivered before control returns to the event loop.
        """
        self._require_gui_thread("submit")
        if not isinstance(channel, str) or not channel:
            raise ValueError(f"a job's channel is a non-empty string, got {channel!r}")
        if not callable(fn):
            raise ValueError(f"a job's function must be callable as fn(progress, cancel), got {type(fn).__name__}")
        previous = self._current.get(channel)
        generation = self._generations.get(channel, 0) + 1
        self._generations[channel] = generation
        if previous is not None:
            previous._superseded.set()
            if cancel_previous:
                previous.cancel()
        handle = JobHandle(self, Job(channel, generation, fn))
        runner = JobRunner(handle, self._relay, self._progress_interval_s)
        self._current[channel] = handle
        was_busy = bool(self._running)
        self._running[handle] = runner.released
        self._retire()
        self._threads.start(runner.run)  # a callable, not a QRunnable: see JobRunner
        if not was_busy:
            self.busy_changed.emit(True)
        return handle

    def signals(self, channel: str) -> WorkerSignals:
        """One set of signals for every current job of ``channel``: connect a panel once."""
        self._require_gui_thread("signals")
        if channel not in self._channel_signals:
            self._channel_signals[channel] = WorkerSignals(self)
        return self._channel_signals[channel]

    def generation(self, channel: str) -> int:
        """``channel``'s current generation (0 before its first job)."""
        return self._generations.get(channel, 0)

    def current(self, channel: str) -> JobHandle | None:
        """``channel``'s current job while it runs (or while its outcome is on its way), else ``None``."""
        handle = self._current.get(channel)
        return handle if handle is not None and handle.is_current else None

    # -- cancelling -------------------------------------------------------------------------------------------

    def cancel(self, channel: str, *, drop: bool = False) -> bool:
        """Ask ``channel``'s current job to stop; it then ends with ``cancelled``.

        ``drop=True`` also makes it stale, so not even ``cancelled`` arrives (the user left the image). Returns
        whether there was a running job to cancel.
        """
        self._require_gui_thread("cancel")
        handle = self._current.get(channel)
        if handle is None:
            return False
        if drop:
            handle._superseded.set()
            self._current.pop(channel, None)
        was_running = not handle.done
        handle.cancel()
        return was_running

    def cancel_all(self, *, drop: bool = False) -> None:
        """Ask every job (stale ones too) to stop; ``drop=True`` silences them all."""
        self._require_gui_thread("cancel_all")
        for handle in list(self._running):
            if drop:
                handle._superseded.set()
            handle.cancel()
        if drop:
            self._current.clear()

    @property
    def active_jobs(self) -> tuple[JobHandle, ...]:
        """Jobs whose function has not returned yet, current and stale."""
        return tuple(handle for handle in self._running if not handle.done)

    @property
    def busy(self) -> bool:
        """Some job is running, or its outcome has not been handled on the GUI thread yet."""
        return bool(self._running)

    def wait_for_done(self, timeout_ms: int = -1) -> bool:
        """Block until every job's function has returned (``-1``: no limit); then handle what they sent.

        Returns whether all finished in time. For shutdown (after :meth:`cancel_all`) and tests, never for
        ordinary GUI code: it blocks the event loop.
        """
        self._require_gui_thread("wait_for_done")
        finished = self._threads.waitForDone(int(timeout_ms))
        # the outcomes they posted are queued calls to this object: deliver them now, so nothing is left dangling
        QCoreApplication.sendPostedEvents(self, int(QEvent.Type.MetaCall.value))
        self._retire()
        return finished

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything (silently) and wait up to ``timeout_ms`` for the threads; for the window's close."""
        self.cancel_all(drop=True)
        return self.wait_for_done(timeout_ms)

    # -- the GUI side of the relay ----------------------------------------------------------------------------

    @Slot(object)
    def _on_started(self, handle: JobHandle) -> None:
        for signals in self._targets(handle):
            signals.started.emit()

    @Slot(object, object)
    def _on_progress(self, handle: JobHandle, progress: Progress) -> None:
        for signals in self._targets(handle):
            signals.progress.emit(progress)

    @Slot(object, object)
    def _on_finished(self, handle: JobHandle, result: Any) -> None:
        targets = self._settle(handle)
        for signals in targets:
            signals.finished.emit(result)
        self._after_settle()

    @Slot(object, object)
    def _on_failed(self, handle: JobHandle, failure: WorkerFailure) -> None:
        targets = self._settle(handle)
        for signals in targets:
            signals.failed.emit(failure)
        self._after_settle()

    @Slot(object)
    def _on_cancelled(self, handle: JobHandle) -> None:
        targets = self._settle(handle)
        for signals in targets:
            signals.cancelled.emit()
        self._after_settle()

    def _targets(self, handle: JobHandle) -> tuple[WorkerSignals, ...]:
        """Where a job's news goes: nowhere once stale; else its own signals and its channel's."""
        if not handle.is_current:
            return ()
        channel = self._channel_signals.get(handle.channel)
        return (handle.signals,) if channel is None else (handle.signals, channel)

    def _settle(self, handle: JobHandle) -> tuple[WorkerSignals, ...]:
        targets = self._targets(handle)
        released = self._running.pop(handle, None)
        if released is not None:
            self._retiring.append((handle, released))
        self._retire()
        if self._current.get(handle.channel) is handle:
            del self._current[handle.channel]
        return targets

    def _retire(self) -> None:
        """Let go of the handled jobs whose runners have let go of them (see ``_retiring``)."""
        self._retiring = [(handle, released) for handle, released in self._retiring if not released.is_set()]

    def _after_settle(self) -> None:
        if not self._running:
            self.busy_changed.emit(False)

    def _require_gui_thread(self, what: str) -> None:
        if QThread.currentThread() is not self.thread():
            raise RuntimeError(f"WorkerPool.{what} must be called on the thread that owns the pool (the GUI thread)")
