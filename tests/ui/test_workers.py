"""WorkerPool: results on the GUI thread, stale results dropped, cancel, failures, throttled progress, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from segstudio.core.errors import FileProblem
from segstudio.core.progress import CancelToken, Progress, ProgressCallback
from segstudio.ui.workers import Job, JobHandle, WorkerFailure, WorkerPool, WorkerSignals

TIMEOUT_MS = 5000
MAIN = threading.main_thread().ident


@pytest.fixture
def pool(qtbot: Any) -> Iterator[WorkerPool]:
    workers = WorkerPool(max_threads=2)
    yield workers
    assert workers.shutdown(TIMEOUT_MS), "a test left a job that ignores its cancel token"


class Recorder:
    """Everything a WorkerSignals emitted, in order, with the thread each slot ran on."""

    def __init__(self, signals: WorkerSignals) -> None:
        self.events: list[tuple[str, Any]] = []
        self.threads: set[int | None] = set()
        # plain lambdas on purpose: they must still run on the GUI thread
        signals.started.connect(lambda: self._add("started", None))
        signals.progress.connect(lambda progress: self._add("progress", progress))
        signals.finished.connect(lambda result: self._add("finished", result))
        signals.failed.connect(lambda failure: self._add("failed", failure))
        signals.cancelled.connect(lambda: self._add("cancelled", None))

    def _add(self, kind: str, value: Any) -> None:
        self.threads.add(threading.get_ident())
        self.events.append((kind, value))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]


def wait_until_idle(qtbot: Any, pool: WorkerPool) -> None:
    qtbot.waitUntil(lambda: not pool.busy, timeout=TIMEOUT_MS)


def wait_for_cancel(cancel: CancelToken, limit_s: float = 5.0) -> None:
    """Spin (sleeping) until cancelled; a safety limit so a broken pool cannot hang the test run."""
    end = time.monotonic() + limit_s
    while not cancel.cancelled and time.monotonic() < end:
        time.sleep(0.002)


# -- delivery ---------------------------------------------------------------------------------------------------


def test_results_arrive_on_the_gui_thread(qtbot: Any, pool: WorkerPool) -> None:
    ran_on: list[int | None] = []

    def work(progress: ProgressCallback, cancel: CancelToken) -> np.ndarray:
        ran_on.append(threading.get_ident())
        progress(Progress("sum", 1, 1))
        return np.arange(6).reshape(2, 3)

    channel = Recorder(pool.signals("metrics"))
    handle = pool.submit("metrics", work)
    own = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.finished, timeout=TIMEOUT_MS):
        pass

    assert ran_on and ran_on[0] != MAIN
    assert own.kinds() == ["started", "progress", "finished"] == channel.kinds()
    np.testing.assert_array_equal(own.of("finished")[0], np.arange(6).reshape(2, 3))
    assert own.threads == {MAIN} and channel.threads == {MAIN}
    assert handle.done and handle.job == Job("metrics", 1, work)
    assert (handle.channel, handle.generation, handle.is_current) == ("metrics", 1, True)
    wait_until_idle(qtbot, pool)
    assert pool.active_jobs == ()


def test_a_newer_job_drops_the_older_jobs_late_result(qtbot: Any, pool: WorkerPool) -> None:
    release = threading.Event()

    def slow(progress: ProgressCallback, cancel: CancelToken) -> str:
        assert release.wait(TIMEOUT_MS / 1000)
        progress(Progress("predict", 1, 1))
        return "image A"

    channel = Recorder(pool.signals("predict"))
    first = pool.submit("predict", slow)
    first_events = Recorder(first.signals)
    with qtbot.waitSignal(first.signals.started, timeout=TIMEOUT_MS):
        pass

    # the user moved on to image B; the first job is left to run (it ignores cancel anyway), only unheard
    second = pool.submit("predict", lambda progress, cancel: "image B", cancel_previous=False)
    assert (first.generation, second.generation) == (1, 2)
    assert not first.is_current and second.is_current
    assert not first.token.cancelled  # cancel_previous=False: it runs on, but nobody listens
    with qtbot.waitSignal(second.signals.finished, timeout=TIMEOUT_MS):
        pass

    release.set()  # now the first job's result turns up, late
    qtbot.waitUntil(lambda: first.done, timeout=TIMEOUT_MS)
    wait_until_idle(qtbot, pool)

    assert first_events.kinds() == ["started"]
    assert channel.kinds() == ["started", "started", "finished"]
    assert channel.of("finished") == ["image B"]


def test_submitting_again_cancels_the_previous_job_silently(qtbot: Any, pool: WorkerPool) -> None:
    saw_cancel = threading.Event()

    def until_cancelled(progress: ProgressCallback, cancel: CancelToken) -> str:
        wait_for_cancel(cancel)
        if cancel.cancelled:
            saw_cancel.set()
        cancel.raise_if_cancelled()
        return "never"

    first = pool.submit("thumbnails", until_cancelled)
    first_events = Recorder(first.signals)
    with qtbot.waitSignal(first.signals.started, timeout=TIMEOUT_MS):
        pass
    second = pool.submit("thumbnails", lambda progress, cancel: 2)
    with qtbot.waitSignal(second.signals.finished, timeout=TIMEOUT_MS):
        pass
    wait_until_idle(qtbot, pool)

    assert saw_cancel.is_set() and first.token.cancelled
    assert first_events.kinds() == ["started"]  # stale: not even its `cancelled` reaches the GUI


# -- cancel -----------------------------------------------------------------------------------------------------


def test_cancel_ends_with_cancelled_and_the_job_sees_it(qtbot: Any, pool: WorkerPool) -> None:
    seen: list[bool] = []

    def until_cancelled(progress: ProgressCallback, cancel: CancelToken) -> str:
        wait_for_cancel(cancel)
        seen.append(cancel.cancelled)
        cancel.raise_if_cancelled()
        return "never"

    handle = pool.submit("predict", until_cancelled)
    events = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.started, timeout=TIMEOUT_MS):
        pass
    with qtbot.waitSignal(handle.signals.cancelled, timeout=TIMEOUT_MS):
        assert pool.cancel("predict")

    assert seen == [True]
    assert events.kinds() == ["started", "cancelled"]
    assert handle.cancel_requested and handle.done


def test_a_job_that_returns_after_cancel_is_still_cancelled(qtbot: Any, pool: WorkerPool) -> None:
    def ignores_the_exception(progress: ProgressCallback, cancel: CancelToken) -> str:
        wait_for_cancel(cancel)
        return "partial"

    handle = pool.submit("scan", ignores_the_exception)
    events = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.cancelled, timeout=TIMEOUT_MS):
        handle.cancel()
    assert "finished" not in events.kinds()


def test_cancel_with_drop_silences_the_job(qtbot: Any, pool: WorkerPool) -> None:
    handle = pool.submit("predict", lambda progress, cancel: wait_for_cancel(cancel))
    events = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.started, timeout=TIMEOUT_MS):
        pass
    pool.cancel("predict", drop=True)
    qtbot.waitUntil(lambda: handle.done, timeout=TIMEOUT_MS)
    wait_until_idle(qtbot, pool)
    assert events.kinds() == ["started"] and not handle.is_current
    assert pool.current("predict") is None and not pool.cancel("predict")


# -- failures ---------------------------------------------------------------------------------------------------


def test_a_file_problem_reaches_the_window_as_it_is(qtbot: Any, pool: WorkerPool, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"

    def read_broken(progress: ProgressCallback, cancel: CancelToken) -> None:
        raise FileProblem(bad, "not a PNG file (it starts with b'GIF8')")

    handle = pool.submit("scan", read_broken)
    with qtbot.waitSignal(handle.signals.failed, timeout=TIMEOUT_MS) as blocker:
        pass
    failure = blocker.args[0]
    assert isinstance(failure, WorkerFailure)
    assert failure.message == f"{bad}: not a PNG file (it starts with b'GIF8')" == str(failure)
    assert (failure.error_type, failure.channel, failure.generation) == ("FileProblem", "scan", 1)
    assert "Traceback" in failure.details and "read_broken" in failure.details


def test_any_other_exception_is_named_and_the_pool_goes_on(qtbot: Any, pool: WorkerPool) -> None:
    def crash(progress: ProgressCallback, cancel: CancelToken) -> None:
        raise RuntimeError("CUDA out of memory")

    handle = pool.submit("predict", crash)
    events = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.failed, timeout=TIMEOUT_MS) as blocker:
        pass
    assert blocker.args[0].message == "RuntimeError: CUDA out of memory"
    assert events.kinds() == ["started", "failed"]

    again = pool.submit("predict", lambda progress, cancel: "fine")
    with qtbot.waitSignal(again.signals.finished, timeout=TIMEOUT_MS) as blocker:
        pass
    assert blocker.args == ["fine"]


def test_a_tensor_result_is_refused(qtbot: Any, pool: WorkerPool) -> None:
    torch = pytest.importorskip("torch")
    handle = pool.submit("predict", lambda progress, cancel: torch.zeros(2))
    with qtbot.waitSignal(handle.signals.failed, timeout=TIMEOUT_MS) as blocker:
        pass
    assert "numpy" in blocker.args[0].message


def test_bad_submissions_are_refused_clearly(qtbot: Any, pool: WorkerPool) -> None:
    with pytest.raises(ValueError, match="channel"):
        pool.submit("", lambda progress, cancel: None)
    with pytest.raises(ValueError, match="callable"):
        pool.submit("scan", "not a function")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_threads"):
        WorkerPool(max_threads=0)

    errors: list[BaseException] = []

    def from_another_thread() -> None:
        try:
            pool.submit("scan", lambda progress, cancel: None)
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=from_another_thread)
    thread.start()
    thread.join()
    assert errors and "GUI thread" in str(errors[0])


# -- progress ---------------------------------------------------------------------------------------------------


def test_progress_is_throttled_and_the_last_report_arrives(qtbot: Any, pool: WorkerPool) -> None:
    reports = 10_000

    def chatty(progress: ProgressCallback, cancel: CancelToken) -> float:
        start = time.monotonic()
        for i in range(reports):
            progress(Progress("scan", i + 1, reports, f"file {i + 1}"))
        return time.monotonic() - start

    handle = pool.submit("scan", chatty)
    events = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.finished, timeout=TIMEOUT_MS):
        pass
    elapsed = events.of("finished")[0]
    received = events.of("progress")
    assert 1 <= len(received) <= 2 + elapsed / 0.05 < 100
    assert received[-1] == Progress("scan", reports, reports, f"file {reports}")
    assert events.kinds()[-2:] == ["progress", "finished"]


def test_an_unfinished_last_report_is_flushed_before_the_outcome(qtbot: Any, pool: WorkerPool) -> None:
    def stops_early(progress: ProgressCallback, cancel: CancelToken) -> str:
        for i in range(500):
            progress(Progress("train", i + 1, 1000))
        return "stopped at 500"

    handle = pool.submit("train", stops_early)
    events = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.finished, timeout=TIMEOUT_MS):
        pass
    assert events.of("progress")[-1] == Progress("train", 500, 1000)
    assert events.kinds()[-2:] == ["progress", "finished"]


# -- the event loop keeps turning -------------------------------------------------------------------------------


def test_the_event_loop_turns_while_a_cpu_heavy_job_runs(qtbot: Any, pool: WorkerPool) -> None:
    """numpy releases the GIL inside its kernels, so the GUI thread runs between (and during) them.

    A pure-Python loop would hold the GIL and hand it to a waiting thread only after ``sys.getswitchinterval()``
    (5 ms): a trivial timer slot still turns, but a slot making many GIL-releasing Qt calls waits up to 5 ms
    after each one (see the notes in segstudio/ui/workers.py). Jobs keep their hot loops in numpy/torch.
    """
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))

    def crunch(progress: ProgressCallback, cancel: CancelToken) -> float:
        values = np.random.default_rng(0).random(500_000)
        total = 0.0
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            cancel.raise_if_cancelled()
            total += float(np.sqrt(values * values + 1.0).sum())
        return total

    timer.start()
    handle = pool.submit("metrics", crunch)
    with qtbot.waitSignal(handle.signals.started, timeout=TIMEOUT_MS):
        pass
    ticks.clear()
    with qtbot.waitSignal(handle.signals.finished, timeout=TIMEOUT_MS):
        pass
    timer.stop()

    gaps = np.diff(ticks)
    assert len(ticks) >= 10, f"only {len(ticks)} timer ticks while the job ran"
    assert gaps.max() < 0.2, f"the event loop stalled for {gaps.max() * 1000:.0f} ms"


# -- shutdown ---------------------------------------------------------------------------------------------------


def test_cancel_all_then_wait_for_done(qtbot: Any, pool: WorkerPool) -> None:
    handles = [pool.submit(name, lambda progress, cancel: wait_for_cancel(cancel)) for name in ("predict", "scan")]
    recorders = [Recorder(handle.signals) for handle in handles]
    qtbot.waitUntil(lambda: all(r.kinds() == ["started"] for r in recorders), timeout=TIMEOUT_MS)
    assert set(pool.active_jobs) == set(handles)

    pool.cancel_all()
    assert pool.wait_for_done(TIMEOUT_MS)
    assert pool.active_jobs == () and not pool.busy  # wait_for_done delivered what the jobs sent
    assert [r.kinds() for r in recorders] == [["started", "cancelled"]] * 2


def test_shutdown_is_silent(qtbot: Any, pool: WorkerPool) -> None:
    handle: JobHandle = pool.submit("train", lambda progress, cancel: wait_for_cancel(cancel))
    events = Recorder(handle.signals)
    with qtbot.waitSignal(handle.signals.started, timeout=TIMEOUT_MS):
        pass
    assert pool.shutdown(TIMEOUT_MS)
    assert events.kinds() == ["started"] and handle.done and not pool.busy
