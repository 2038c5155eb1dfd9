"""The real main window on real CamVid images, driven by mouse events (offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.io.mask_files import read_class_mask
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from segstudio.ui.metrics_panel import fmt_count, fmt_ratio


def open_and_wait(qtbot, window: MainWindow, folder: Path, image: str | None = None) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder, image=image)


def widget_point(window: MainWindow, x: float, y: float) -> QPoint:
    return window.canvas.image_to_widget(x, y).toPoint()


def paint_stroke(qtbot, window: MainWindow, points: list[tuple[float, float]]) -> None:  # noqa: ANN001
    canvas = window.canvas
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, *points[0]))
    for point in points[1:]:
        QTest.mouseMove(canvas, widget_point(window, *point))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, *points[-1]))
    qtbot.wait(10)  # let the metrics refresh run


def expected_scores(window: MainWindow) -> Scores:
    session = window.canvas.session
    labels = session.labels
    gt = session.ground_truth
    confusion = confusion_matrix(gt, np.where(session.mask == labels.ignore_index, gt, session.mask),
                                 labels.num_classes, labels.ignore_index)
    return Scores.from_confusion(confusion, labels.names)


def assert_panel_matches(window: MainWindow, scores: Scores) -> None:
    panel = window.metrics_panel
    for c in scores.classes:
        assert panel.cell_text(c.class_id, "overlap") == fmt_count(c.overlap)
        assert panel.cell_text(c.class_id, "combined") == fmt_count(c.combined)
        assert panel.cell_text(c.class_id, "union") == fmt_count(c.union)
        assert panel.cell_text(c.class_id, "IoU") == fmt_ratio(c.iou)
        assert panel.cell_text(c.class_id, "Dice") == fmt_ratio(c.dice)
    assert fmt_ratio(scores.mean_iou) in panel.summary_truth.text()


def test_paint_updates_metrics_undo_save_and_reopen(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    session = window.canvas.session
    assert session is not None and session.ground_truth is not None
    before = session.mask.copy()
    assert "1.0000" in window.metrics_panel.summary_truth.text()  # working mask starts from the ground truth

    window.class_panel.select(8)  # Car
    assert window.canvas.tools.value == 8
    height, width = session.shape
    paint_stroke(qtbot, window, [(width * 0.2, height * 0.3), (width * 0.3, height * 0.35), (width * 0.4, height * 0.4)])
    assert session.dirty and not np.array_equal(session.mask, before)
    assert session.class_at(width * 0.3, height * 0.35) == 8
    scores = expected_scores(window)
    assert scores.mean_iou is not None and scores.mean_iou < 1.0
    assert_panel_matches(window, scores)
    # The canvas buffer shows the new class where it was painted (composited from the change rectangle).
    window.canvas.repaint()
    assert window.canvas.composited_pixels > 0

    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(10)
    assert np.array_equal(session.mask, before)
    assert_panel_matches(window, expected_scores(window))
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(10)
    painted = session.mask.copy()
    assert not np.array_equal(painted, before)

    path = window.saving.save(wait=True)
    assert path is not None and path.is_file()
    assert not session.dirty
    key = window.current_key
    labels = session.labels
    assert np.array_equal(read_class_mask(path, labels), painted)

    # Reopen the folder in a fresh window: the correction is the working mask, bit-exact.
    other = MainWindow(interactive=False)
    qtbot.addWidget(other)
    open_and_wait(qtbot, other, camvid_folder, image=key)
    assert other.current_key == key
    assert np.array_equal(other.canvas.session.mask, painted)
    assert other.canvas.session.working_source.name == "CORRECTION"
    other.pool.shutdown(5000)


def test_next_previous_and_keys(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    first = window.current_key
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        QTest.keyClick(window, Qt.Key.Key_D)
    assert window.current_key != first
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        QTest.keyClick(window, Qt.Key.Key_A)
    assert window.current_key == first
    QTest.keyClick(window, Qt.Key.Key_3)
    assert window.canvas.tools.value == 3
    size = window.canvas.tools.size
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.canvas.tools.size > size
    QTest.keyClick(window, Qt.Key.Key_E)
    assert window.canvas.tools.tool.name == "ERASER"
    names = " ".join(name for name, _keys in window.commands.shortcuts())
    for needed in ("Undo", "Redo", "Next image", "Show prediction", "Peek at ground truth"):
        assert needed in names


def test_unsaved_edits_survive_switching_images(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    first = window.current_key
    window.class_panel.select(8)
    paint_stroke(qtbot, window, [(50, 50), (90, 60)])
    painted = window.canvas.session.mask.copy()
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.step_image(1)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.load(first)
    assert np.array_equal(window.canvas.session.mask, painted)
    assert window.canvas.session.dirty


def test_autosave_and_crash_recovery(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    key = window.current_key
    window.class_panel.select(9)
    paint_stroke(qtbot, window, [(100, 100), (160, 120)])
    painted = window.canvas.session.mask.copy()
    assert window.saving.autosave_now()
    assert window.pool.wait_for_done(10000)
    qtbot.wait(20)
    # "Crash": the window goes away without saving or closing properly (the OS drops its folder lock).
    window.autosave_timer.stop()
    window.saving.release_lock()

    second = MainWindow(interactive=False)
    qtbot.addWidget(second)
    open_and_wait(qtbot, second, camvid_folder)
    pending = second.recovery.pending()
    assert [entry.sample_key for entry in pending] == [key]
    with qtbot.waitSignal(second.recovery.recovered) as recovered, qtbot.waitSignal(second.sample_loaded, timeout=20000):
        second.recover(pending[0])
    assert recovered.args == [key]
    session = second.canvas.session
    assert second.current_key == key
    assert np.array_equal(session.mask, painted)
    assert session.dirty and session.working_source.name == "AUTOSAVE"
    second.saving.save(wait=True)
    assert second.recovery.pending() == []
    assert not list(second.saving.store.folder.glob("*.json"))  # the recovered autosave went with the save
    second.pool.shutdown(5000)


def test_zoom_pan_and_pick(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    canvas = window.canvas
    anchor = widget_point(window, 200, 150)
    before = canvas.widget_to_image(anchor.toPointF())
    canvas.zoom_at(anchor.toPointF(), 4.0)
    after = canvas.widget_to_image(anchor.toPointF())
    assert after == pytest.approx(before, abs=1e-6)
    canvas.fit()
    assert canvas.step >= 1
    canvas.zoom_at(anchor.toPointF(), 1 / 16)
    assert canvas.step > 1  # zoomed out: a downsampled buffer
    canvas.repaint()
    canvas.fit()
    # Middle-drag pans.
    start = canvas.image_to_widget(0, 0)
    QTest.mousePress(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 300))
    QTest.mouseMove(canvas, QPoint(340, 320))
    QTest.mouseRelease(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(340, 320))
    moved = canvas.image_to_widget(0, 0)
    assert (moved.x() - start.x(), moved.y() - start.y()) == pytest.approx((40, 20), abs=1)
    # Pick the class under the cursor.
    QTest.keyClick(window, Qt.Key.Key_I)  # the pick tool
    assert window.canvas.tools.tool.name == "PICK"
    session = canvas.session
    expected = session.class_at(120, 200)
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 120, 200))
    assert window.class_panel.selected == expected


SCREENSHOTS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screenshots"  # git-ignored (/bench/out/)


def test_screenshot_command_writes_png(camvid_folder: Path) -> None:
    """``segstudio open DIR --image NAME --screenshot FILE`` renders the window with the image on it.

    The picture is kept for a person to look at: bench/out/screenshots/open_camvid_0016E5_07959.png under the
    repository (overwritten by each run, ignored by git).
    """
    from PIL import Image

    from segstudio.cli import main
    from segstudio.io.datasets import open_dataset

    out = SCREENSHOTS / "open_camvid_0016E5_07959.png"
    out.parent.mkdir(parents=True, exist_ok=True)  # --screenshot never creates a folder (a typo would make one)
    out.unlink(missing_ok=True)
    assert main(["open", str(camvid_folder), "--image", "0016E5_07959", "--screenshot", str(out),
                 "--window-size", "1600x1000"]) == 0
    with Image.open(out) as image:
        assert image.size == (1600, 1000)
        pixels = np.asarray(image.convert("RGB"))
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 2000  # a photograph under a mask, not a blank or black window
    assert (pixels.max(axis=2) < 16).mean() < 0.2
    height, width = pixels.shape[:2]
    middle = pixels[height // 8: height // 2, width // 3: 2 * width // 3]  # where the canvas shows the image
    assert len(np.unique(middle.reshape(-1, 3), axis=0)) > 1000
    # Every class of the image's ground truth appears in its label set colour (class list swatches, outlines).
    truth = np.asarray(Image.open(camvid_folder / "masks" / "0016E5_07959.png"))
    labels = open_dataset(camvid_folder).spec.labels  # the label set the window used (from the project file)
    shown = {tuple(int(v) for v in c) for c in colours}
    present = [int(c) for c in np.unique(truth) if labels.is_valid_value(int(c)) and c != labels.ignore_index]
    missing = [labels.names[c] for c in present if tuple(int(v) for v in labels.colours[c]) not in shown]
    # Swatches scrolled out of the class list or under the selection highlight are not shown exactly.
    assert len(missing) <= len(present) // 3, f"class colours not in the screenshot: {missing}"


def test_a_folder_that_cannot_be_opened_is_a_message_not_a_crash(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    window = MainWindow(interactive=False)
    qtbot.addWidget(window)
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(window.load_failed, timeout=20000) as blocker:
        window.open_folder(tmp_path / "empty")
    assert "no image files" in blocker.args[0]
    assert window.dataset is None
    assert "could not open the folder" in window.statusBar().currentMessage()


def test_the_folder_is_read_on_the_scan_worker(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import threading

    from segstudio.io.demo_dataset import write_demo_dataset
    from segstudio.ui import main_window as main_window_module

    threads: list[str] = []
    real_open = main_window_module.open_project

    def recording_open(folder):  # noqa: ANN001, ANN202
        threads.append(threading.current_thread().name)
        return real_open(folder)

    monkeypatch.setattr(main_window_module, "open_project", recording_open)
    window = MainWindow(interactive=False)
    qtbot.addWidget(window)
    folder = write_demo_dataset(tmp_path / "demo", count=2)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder)
    assert threads and threads[0] != threading.main_thread().name


def test_panel_shows_how_much_the_user_changed_the_prediction(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from segstudio.io.demo_dataset import write_demo_dataset

    window = MainWindow(interactive=False)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    open_and_wait(qtbot, window, write_demo_dataset(tmp_path / "demo", count=2))
    session = window.canvas.session
    assert session.prediction is not None
    window.class_panel.select(3)
    paint_stroke(qtbot, window, [(40.0, 40.0), (120.0, 90.0)])
    assert not np.array_equal(session.mask, session.prediction)
    labels = session.labels
    changed = Scores.from_confusion(confusion_matrix(session.prediction, session.mask, labels.num_classes), labels.names)
    panel = window.metrics_panel
    for c in changed.classes:
        assert panel.cell_text(c.class_id, "overlap vs pred") == fmt_count(c.overlap)
        assert panel.cell_text(c.class_id, "combined vs pred") == fmt_count(c.combined)
        assert panel.cell_text(c.class_id, "union vs pred") == fmt_count(c.union)
        assert panel.cell_text(c.class_id, "IoU vs pred") == fmt_ratio(c.iou)
        assert panel.cell_text(c.class_id, "Dice vs pred") == fmt_ratio(c.dice)
    assert changed.classes[3].iou is not None and changed.classes[3].iou < 1.0


def test_the_metrics_panel_follows_the_session_without_the_window(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    """Edits made on the session directly (not through the window's actions) still reach the panel."""
    open_and_wait(qtbot, window, camvid_folder)
    session = window.canvas.session
    session.begin_stroke()
    session.paint((40.0, 40.0), (140.0, 90.0), radius=8, value=8)
    session.end_stroke()
    qtbot.wait(20)  # the panel refreshes at the next event-loop turn
    assert_panel_matches(window, expected_scores(window))
    session.undo()
    qtbot.wait(20)  # the panel refreshes at the next event-loop turn
    assert_panel_matches(window, expected_scores(window))


def test_loading_key_title_and_status_follow_the_folder(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    from segstudio.io.demo_dataset import write_demo_dataset

    folder = write_demo_dataset(tmp_path / "demo", count=2)
    assert window.loading_key is None
    with qtbot.waitSignal(window.dataset_opened, timeout=20000):
        window.open_folder(folder)
    first = window.dataset.samples[0].key
    assert window.loading_key == first  # read on the worker now
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        pass
    assert window.loading_key is None and window.current_key == first
    assert window.windowTitle() == f"scene_000[*] - {folder} - segstudio"  # "*" shows while it has unsaved changes
    assert window.status_line.class_name.text().startswith("class: ")
    QTest.keyClick(window, Qt.Key.Key_E)
    assert window.status_line.tool.text().lower().startswith("eraser")  # says what it writes
    assert [a.isChecked() for a in window.commands.all() if a.text() == "Eraser"] == [True]


def test_a_second_window_on_the_folder_is_read_only_everywhere(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    from segstudio.io.demo_dataset import write_demo_dataset

    folder = write_demo_dataset(tmp_path / "demo", count=2)
    open_and_wait(qtbot, window, folder)
    second = MainWindow(interactive=False)
    qtbot.addWidget(second)
    open_and_wait(qtbot, second, folder)
    assert f"{folder} [read-only] - segstudio" in second.windowTitle()
    assert second.status_line.state.text().startswith("read-only")
    assert second.predictions.read_only  # predictions are shown there, never written
    session = second.canvas.session
    session.paint((10, 10), (20, 20), radius=3, value=1)  # edits made on the session directly still count
    before = session.mask.copy()
    with qtbot.waitSignal(second.saving.status) as refused:
        second.commands.action(Command.UNDO).trigger()
    assert "cannot change the mask" in refused.args[0]
    assert np.array_equal(session.mask, before)
    with qtbot.waitSignal(second.class_editing.status):
        second.class_panel.add_class("sky")
    assert second.dataset.spec.labels == window.dataset.spec.labels
    second.pool.shutdown(5000)
