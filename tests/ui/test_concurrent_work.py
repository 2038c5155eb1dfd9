"""Work is never lost to timing: strokes made while a save writes, two windows on one folder, a file saved by
somebody else since the image was read. Real CamVid images, real windows, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from segstudio.io import corrections
from segstudio.io.autosave import AutosaveStore
from segstudio.io.mask_files import read_class_mask, write_class_mask
from segstudio.ui.main_window import MainWindow
from tests.ui.test_main_window import open_and_wait, paint_stroke
from tests.ui.window_process import OPEN_WINDOW


def _slow_writes(monkeypatch: pytest.MonkeyPatch, seconds: float = 0.1) -> None:
    real = corrections.write_class_mask

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(corrections, "write_class_mask", slow)


@pytest.mark.parametrize("autosave", ["written during the save", "queued during the save"])
def test_strokes_made_during_a_save_survive_a_normal_close(
    qtbot, window: MainWindow, camvid_folder: Path, monkeypatch: pytest.MonkeyPatch, autosave: str  # noqa: ANN001
) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    key = window.current_key
    session = window.canvas.session
    window.class_panel.select(8)
    paint_stroke(qtbot, window, [(60, 60), (120, 80)])
    saved_mask = session.mask.copy()
    _slow_writes(monkeypatch)

    window.saving.save()  # writes on the worker for 0.1 s more than usual
    window.class_panel.select(9)
    paint_stroke(qtbot, window, [(200, 200), (260, 230)])  # painted while the save runs
    later = session.mask.copy()
    if autosave == "written during the save":
        assert window.saving.autosave_now(wait=True)
    else:
        assert window.saving.autosave_now()
    assert window.saving.wait_for_save()
    assert window.pool.wait_for_done(10000)
    assert session.dirty  # the later strokes are not in the saved file
    np.testing.assert_array_equal(read_class_mask(window.saving.last_saved_path, session.labels), saved_mask)

    window.close()  # a normal close: no save asked, the work must come back next time

    store = AutosaveStore.for_dataset(window.dataset)
    pending = store.pending()
    assert [entry.sample_key for entry in pending] == [key]
    np.testing.assert_array_equal(store.load(pending[0]), later)


WINDOW_PROCESS = OPEN_WINDOW + """
session.begin_stroke(); session.paint((50, 50), (150, 90), radius=12, value=8); session.end_stroke()
saved = window.saving.save(wait=True)
session.begin_stroke(); session.paint((250, 200), (330, 240), radius=12, value=9); session.end_stroke()
window.saving.autosave_now(wait=True)
print("ready", window.current_key, saved, window.saving.read_only_reason, flush=True)
sys.stdin.readline()
"""


def test_two_windows_on_one_folder_never_overwrite_each_other(
    qtbot, window: MainWindow, camvid_folder: Path, isolated_user_data: Path  # noqa: ANN001
) -> None:
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", SEGSTUDIO_DATA_DIR=str(isolated_user_data / "first"))
    first = subprocess.Popen(
        [sys.executable, "-c", WINDOW_PROCESS, str(camvid_folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment, cwd=Path(__file__).parents[2],
    )
    try:
        assert first.stdout is not None
        line = first.stdout.readline().strip().split(maxsplit=3)
        assert line[0] == "ready" and line[3] == "None", line  # the first window holds the folder
        key, saved = line[1], Path(line[2])
        their_correction = saved.read_bytes()
        open_and_wait(qtbot, window, camvid_folder, image=key)
        store = AutosaveStore.for_dataset(window.dataset)
        their_autosaves = sorted(p.name for p in store.folder.iterdir())
        assert their_autosaves

        # The second window is told, and writes nothing.
        assert window.saving.read_only_reason is not None and f"process {first.pid}" in window.saving.read_only_reason
        assert "read-only" in window.windowTitle()
        before = window.canvas.session.mask.copy()
        paint_stroke(qtbot, window, [(30, 30), (200, 200)])
        np.testing.assert_array_equal(window.canvas.session.mask, before)
        assert window.saving.save(wait=True) is None
        assert not window.saving.autosave_now(wait=True)
        window.close()
        assert saved.read_bytes() == their_correction
        assert sorted(p.name for p in store.folder.iterdir()) == their_autosaves
    finally:
        first.send_signal(signal.SIGKILL)  # the first window dies without closing
        first.wait(10)

    # The dead window's lock is stale: a new window takes the folder and offers the dead one's unsaved work.
    third = MainWindow(interactive=False)
    qtbot.addWidget(third)
    open_and_wait(qtbot, third, camvid_folder)
    assert third.saving.read_only_reason is None
    pending = third.saving.pending_recoveries()
    assert [entry.sample_key for entry in pending] == [key]
    with qtbot.waitSignal(third.sample_loaded, timeout=20000):
        third.recover(pending[0])
    mask = third.canvas.session.mask
    assert np.count_nonzero(mask == 9) > 0 and np.count_nonzero(mask == 8) > 0  # both of its strokes
    assert third.saving.save(wait=True) == saved
    assert third.saving.pending_recoveries() == []
    third.close()


def test_a_correction_saved_elsewhere_since_the_image_opened_is_not_replaced(
    qtbot, window: MainWindow, camvid_folder: Path  # noqa: ANN001
) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    session = window.canvas.session
    dataset = window.dataset
    sample = dataset.sample(window.current_key)
    path = dataset.correction_path(sample)
    theirs = np.full(session.shape, 3, dtype=np.uint8)  # somebody else's save: all Road
    path.parent.mkdir(parents=True, exist_ok=True)
    write_class_mask(path, theirs, session.labels)

    window.class_panel.select(8)
    paint_stroke(qtbot, window, [(60, 60), (140, 90)])
    ours = session.mask.copy()
    with qtbot.waitSignal(window.saving.save_failed, timeout=10000) as blocker:
        assert window.saving.save(wait=True) is None
    assert "changed by another window or program" in blocker.args[0] or "created by another" in blocker.args[0]
    assert str(path) in blocker.args[0]
    np.testing.assert_array_equal(read_class_mask(path, session.labels), theirs)
    assert session.dirty
    assert window.pool.wait_for_done(10000)
    pending = window.saving.store.pending()
    assert [entry.sample_key for entry in pending] == [sample.key]  # our work is safe on disk
    np.testing.assert_array_equal(window.saving.store.load(pending[0]), ours)

    assert window.saving.save(wait=True, overwrite=True) == path  # the user chose to replace theirs
    np.testing.assert_array_equal(read_class_mask(path, session.labels), ours)
    assert not session.dirty
    paint_stroke(qtbot, window, [(300, 300), (320, 310)])
    assert window.saving.save(wait=True) == path  # our own save is not a conflict with ourselves


def test_unsaved_work_carried_across_images_still_sees_a_save_made_meanwhile(
    qtbot, window: MainWindow, camvid_folder: Path  # noqa: ANN001
) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    first = window.current_key
    window.class_panel.select(8)
    paint_stroke(qtbot, window, [(60, 60), (140, 90)])  # unsaved
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.step_image(1)
    dataset = window.dataset
    path = dataset.correction_path(dataset.sample(first))
    path.parent.mkdir(parents=True, exist_ok=True)
    theirs = np.full(window.canvas.session.shape, 3, dtype=np.uint8)
    write_class_mask(path, theirs, window.canvas.session.labels)  # saved elsewhere while we looked at another image
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.load(first)  # our unsaved work comes back on top of their correction
    with qtbot.waitSignal(window.saving.save_failed, timeout=10000):
        assert window.saving.save(wait=True) is None
    np.testing.assert_array_equal(read_class_mask(path, window.canvas.session.labels), theirs)
