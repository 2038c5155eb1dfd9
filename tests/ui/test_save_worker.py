"""Ctrl+S writes on the "save" worker: the saved revision is marked saved, later strokes stay dirty, a failure
keeps the work dirty; rebuilding a session after a new prediction runs on a worker too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.io.mask_files import read_class_mask
from segstudio.ui.actions import Command, Menu
from segstudio.ui.main_window import MainWindow
from segstudio.app.loaded_model import PredictedImage


@pytest.fixture
def opened(qtbot, window: MainWindow, tmp_path: Path) -> MainWindow:
    folder = write_demo_dataset(tmp_path / "demo", count=2)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder)
    return window


def test_ctrl_s_saves_on_the_worker(qtbot, opened: MainWindow) -> None:
    window = opened
    session = window.canvas.session
    session.reset_to_ground_truth()  # the demo's working mask starts from the prediction
    assert session.dirty
    saved_revision = session.revision
    with qtbot.waitSignal(window.saving.saved, timeout=10000) as blocker:
        QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert window.saving.saving
        session.accept_prediction()  # painted again while the save was writing
    key, path = blocker.args
    assert key == window.current_key and Path(path).is_file()
    assert session.revision != saved_revision and session.dirty  # the newer work is not marked saved
    assert window.saving.save(wait=True) == path
    assert not session.dirty
    assert np.array_equal(read_class_mask(path, session.labels), session.mask)
    model = window.file_list.model
    assert model.data(model.index(model.row_of(window.current_key), 4)) == "◆"  # the status column: corrected


def test_save_failure_keeps_work_dirty(qtbot, opened: MainWindow, monkeypatch) -> None:
    window = opened
    session = window.canvas.session
    session.reset_to_ground_truth()  # the demo's working mask starts from the prediction
    assert session.dirty

    def broken(*_args, **_kwargs):
        raise ValueError("disk full")

    monkeypatch.setattr("segstudio.app.saving.save_correction", broken)
    with qtbot.waitSignal(window.saving.save_failed, timeout=10000) as blocker:
        window.saving.save()
    assert "disk full" in blocker.args[0]
    assert session.dirty and not window.saving.saving


def test_a_new_prediction_is_counted_on_a_worker_and_keeps_the_undo_history(qtbot, opened: MainWindow, monkeypatch) -> None:
    import threading

    from segstudio.core.session import ImageSession

    window = opened
    session = window.canvas.session
    session.begin_stroke()
    session.paint((30.0, 30.0), (60.0, 40.0), radius=4, value=2)  # the user's work
    session.end_stroke()
    painted = session.mask.copy()
    threads: list[bool] = []
    real = ImageSession.prepare_prediction

    def spy(self, prediction, instances=None):  # noqa: ANN001, ANN202
        build = real(self, prediction, instances)

        def counted():  # noqa: ANN202
            threads.append(threading.current_thread() is threading.main_thread())
            return build()

        return counted

    monkeypatch.setattr(ImageSession, "prepare_prediction", spy)
    classes = np.zeros_like(session.mask)
    classes[:20, :20] = 1
    with qtbot.waitSignal(window.prediction_applied, timeout=10000):
        window.predictions.apply(PredictedImage(window.current_key, classes, "test", None))
    assert threads == [False]  # the O(image) count ran on a worker
    assert window.canvas.session is session  # the same session: its undo history is intact
    assert np.array_equal(session.prediction, classes) and np.array_equal(session.mask, painted)
    window.commands.action(Command.UNDO).trigger()
    assert not np.array_equal(session.mask, painted)


def test_save_as_ground_truth_action_writes_the_truth_file(qtbot, opened: MainWindow) -> None:
    window = opened
    dataset, key = window.dataset, window.current_key
    sample = dataset.sample(key)
    truth = dataset.ground_truth(sample)
    original = truth.read_bytes()
    action = window.commands.action(Command.SAVE_AS_GROUND_TRUTH)
    assert action.text() == "Save as ground truth..."
    assert not action.shortcuts()  # never by an accidental key press
    assert action in window.commands.menu(Menu.EDIT).actions()
    session = window.canvas.session
    session.accept_prediction()  # the working mask differs from the truth now
    working = session.mask.copy()
    assert not np.array_equal(working, read_class_mask(truth, session.labels, value_map=dataset.ground_truth_source(sample).value_map))
    with qtbot.waitSignal(window.saving.saved, timeout=10000) as blocker:
        action.trigger()  # window is non-interactive: no confirmation dialog
    assert Path(blocker.args[1]) == truth
    assert np.array_equal(read_class_mask(truth, session.labels, value_map=dataset.ground_truth_source(sample).value_map), working)
    backups = list((dataset.project_file.parent / "segstudio-ground-truth-backup").rglob("*.*"))
    assert len(backups) == 1 and backups[0].read_bytes() == original
    assert not dataset.correction_path(sample).exists()  # not a correction
