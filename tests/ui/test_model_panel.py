"""The model panel in the real main window: load a tiny checkpoint on the worker, predict this image while the
event loop keeps turning, cancel, errors, predict all, dataset metrics in the file list, and the CLI screenshot."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileSystemModel

from segstudio.core.layers import LayerKind
from segstudio.core.labels import LabelSet
from segstudio.io.mask_files import read_class_mask
from segstudio.ui.file_list import DICE_COLUMN, IOU_COLUMN
from segstudio.ui.main_window import MainWindow
from segstudio.ui.model_panel import model_file_dialog
from segstudio.ui.metrics_panel import fmt_ratio

torch = pytest.importorskip("torch")

from segstudio.app.training import train  # noqa: E402
from segstudio.io.demo_dataset import DEMO_LABELS, write_demo_dataset  # noqa: E402
from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint  # noqa: E402
from segstudio.models.registry import ModelConfig, build_model  # noqa: E402
from segstudio.models.training import TrainingConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_checkpoint(path: Path, labels: LabelSet) -> Path:
    torch.manual_seed(0)
    config = ModelConfig("unet", num_classes=labels.num_classes, in_channels=3, encoder="classic",
                         options={"base_channels": 4})
    save_checkpoint(path, build_model(config), CheckpointMeta(config, labels))
    return path


@pytest.fixture
def demo_folder(tmp_path: Path) -> Path:
    return write_demo_dataset(tmp_path / "demo", count=3)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return tiny_checkpoint(tmp_path / "tiny.safetensors", DEMO_LABELS)


def open_folder(qtbot, window: MainWindow, folder: Path) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder)


def load_model(qtbot, window: MainWindow, path: Path) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.model_panel.model_loaded, timeout=60000):
        window.load_model(path)


def test_load_predict_this_image_keeps_event_loop_turning(qtbot, window: MainWindow, demo_folder: Path,  # noqa: ANN001
                                                           checkpoint: Path) -> None:
    open_folder(qtbot, window, demo_folder)
    load_model(qtbot, window, checkpoint)
    panel = window.model_panel
    assert "unet" in panel.info.text() and "background, disc, bar, ring" in panel.info.text()
    assert panel.predict_image_button.isEnabled()

    key = window.current_key
    before = window.canvas.session
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    with qtbot.waitSignal(window.prediction_applied, timeout=60000):
        window.predict_current()
        last[0] = time.perf_counter()
    timer.stop()
    assert len(gaps) >= 3, "the event loop did not turn while predicting"
    assert max(gaps) < 0.2, f"longest gap between event-loop turns {max(gaps) * 1000:.0f} ms"

    session = window.canvas.session
    assert session is not before and session.prediction is not None
    written = demo_folder / "segstudio-predictions" / "tiny" / f"{key}.png"
    assert written.is_file()
    expected = read_class_mask(written, DEMO_LABELS)
    assert np.array_equal(session.prediction, expected)
    # The untouched working mask started from the ground truth: it now starts from the model's prediction.
    assert np.array_equal(session.mask, session.prediction)
    assert window.metrics_panel.summary_prediction.text().endswith("mean IoU 1.0000, mean Dice 1.0000")
    truth = session.scores_vs_truth()
    assert fmt_ratio(truth.mean_iou) in window.metrics_panel.summary_truth.text()
    # Main view: the prediction and the error map are shown.
    assert window.canvas.layer_style(LayerKind.PREDICTION).visible
    assert window.canvas.layer_style(LayerKind.ERROR_MAP).visible
    # The file list's model-vs-truth score for this image follows the new prediction.
    qtbot.waitUntil(lambda: window.file_list.model.score(key)[0] == pytest.approx(truth.mean_iou), timeout=10000)


def test_unsaved_work_survives_a_new_prediction(qtbot, window: MainWindow, demo_folder: Path,  # noqa: ANN001
                                                checkpoint: Path) -> None:
    open_folder(qtbot, window, demo_folder)
    load_model(qtbot, window, checkpoint)
    session = window.canvas.session
    before = session.mask.copy()
    session.paint((10, 10), (40, 40), radius=5, value=2)
    assert session.dirty
    painted = session.mask.copy()
    with qtbot.waitSignal(window.prediction_applied, timeout=60000):
        window.predict_current()
    new = window.canvas.session
    assert new is session  # the work is kept with its whole undo history
    assert new.dirty and np.array_equal(new.mask, painted)
    new.undo()  # undoes the user's own stroke, as before the prediction arrived
    assert np.array_equal(new.mask, before)


def test_cancel_and_leaving_the_image_drop_the_prediction(qtbot, window: MainWindow, demo_folder: Path,  # noqa: ANN001
                                                          checkpoint: Path) -> None:
    open_folder(qtbot, window, demo_folder)
    load_model(qtbot, window, checkpoint)
    applied: list[str] = []
    window.prediction_applied.connect(applied.append)
    panel = window.model_panel
    assert not panel.progress.isVisibleTo(panel) and not panel.cancel_button.isVisibleTo(panel)  # idle: no bar
    window.predict_current()
    assert panel.cancel_button.isEnabled() and panel.progress.isVisibleTo(panel)
    panel.cancel_button.click()
    assert panel.running is None and "cancelled" in panel.message.text()
    assert panel.predict_image_button.isEnabled()
    # No empty progress bar (nor a dead Cancel) is left on screen after Cancel.
    assert not panel.progress.isVisibleTo(panel) and not panel.cancel_button.isVisibleTo(panel)

    window.predict_current()
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.step_image(1)  # the user moves on: the first image's prediction is dropped
    assert window.pool.wait_for_done(60000)
    qtbot.wait(50)
    assert applied == []
    assert window.model_panel.running is None


def test_corrupt_model_file_is_a_readable_error(qtbot, window: MainWindow, demo_folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    open_folder(qtbot, window, demo_folder)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00\x01 this is not a model" * 10)
    with qtbot.waitSignal(window.worker_error, timeout=60000) as blocker:
        window.load_model(bad)
    message = blocker.args[0]
    assert "could not load the model" in message and "broken.safetensors" in message
    assert "Traceback" not in message
    assert message in window.statusBar().currentMessage()
    assert window.model_panel.model is None and not window.model_panel.predict_image_button.isEnabled()
    # The app keeps running: the next image still loads.
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.step_image(1)


def test_the_file_dialog_offers_model_files_only(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    for name in ("run.safetensors", "run.resume.pt", "fcn_resnet50_coco.pth", "weights.pt", "notes.txt", "image.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "runs").mkdir()
    dialog = model_file_dialog(None, str(tmp_path))
    qtbot.addWidget(dialog)
    listing = dialog.proxyModel()
    files = listing.sourceModel()
    assert isinstance(files, QFileSystemModel)

    def shown() -> set[str]:
        folder = listing.mapFromSource(files.index(str(tmp_path)))
        return {listing.index(row, 0, folder).data() for row in range(listing.rowCount(folder))}

    qtbot.waitUntil(lambda: "run.safetensors" in shown(), timeout=10000)
    qtbot.wait(100)  # the listing fills in batches: let it finish
    assert shown() == {"run.safetensors", "fcn_resnet50_coco.pth", "weights.pt", "runs"}  # no run.resume.pt


def test_a_resume_state_is_refused_in_words_and_the_error_clears(qtbot, window: MainWindow,  # noqa: ANN001
                                                                  demo_folder: Path, tmp_path: Path) -> None:
    config = TrainingConfig(architecture="unet", encoder="classic", options={"base_channels": 4}, epochs=1,
                            batch_size=2, crop_size=32, samples_per_epoch=2, keep_resume_state=True)
    checkpoint = train(demo_folder, config, tmp_path / "mine.safetensors").checkpoint
    open_folder(qtbot, window, demo_folder)
    panel = window.model_panel
    with qtbot.waitSignal(window.worker_error, timeout=60000) as blocker:
        window.load_model(tmp_path / "mine.resume.pt")
    expected = "this is a training resume state, not a model: load mine.safetensors beside it"
    assert expected in blocker.args[0] and "encoder.stages" not in blocker.args[0]
    assert expected in panel.message.text() and panel.model is None
    load_model(qtbot, window, checkpoint)
    assert panel.message.text() == "loaded mine.safetensors"  # the old error is gone
    assert "mine.safetensors" in panel.info.text()


def test_a_prediction_of_another_size_opens_resized_and_the_panel_says_so(qtbot, window: MainWindow,  # noqa: ANN001
                                                                         shared_data: Path) -> None:
    """ISBI's shipped 256 px predictions of its 512 px test slices: the image opens with the prediction at its
    size, and the note stays with the image (every "vs prediction" figure is computed on the resized mask)."""
    panel = window.model_panel
    with qtbot.waitSignal(window.sample_loaded, timeout=30000):
        window.open_folder(shared_data / "isbi2012", image="test/images/3")
    session = window.canvas.session
    assert session.prediction is not None and session.prediction.shape == (512, 512)
    assert panel.prediction_note.isVisibleTo(panel)
    assert "Prediction resized from 256x256 to 512x512 (nearest neighbour): 3_predict.png" in panel.prediction_note.text()
    assert "resized from 256x256 to 512x512" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.sample_loaded, timeout=30000):
        window.load("train/images/0")  # no prediction: nothing to say
    assert not panel.prediction_note.isVisibleTo(panel)


def test_label_set_mismatch_is_a_clear_message(qtbot, window: MainWindow, demo_folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    open_folder(qtbot, window, demo_folder)
    wrong = tiny_checkpoint(tmp_path / "six.safetensors", LabelSet.with_count(6))
    with qtbot.waitSignal(window.worker_error, timeout=60000) as blocker:
        window.load_model(wrong)
    assert "predicts 6 classes" in blocker.args[0] and "has 4" in blocker.args[0]
    assert not window.model_panel.predict_all_button.isEnabled()
    assert "cannot predict here" in window.model_panel.info.text()


def test_predict_all_writes_masks_and_fills_the_file_list(qtbot, window: MainWindow, demo_folder: Path,  # noqa: ANN001
                                                          checkpoint: Path) -> None:
    # The dataset's own predictions are scored at open, on a worker.
    with qtbot.waitSignals([window.sample_loaded, window.dataset_scored], timeout=30000):
        window.open_folder(demo_folder)
    model = window.file_list.model
    keys = [model.key_at(row) for row in range(model.rowCount())]
    assert all(model.score(k)[0] is not None for k in keys)
    load_model(qtbot, window, checkpoint)
    with qtbot.waitSignal(window.dataset_scored, timeout=120000) as scored:
        window.predict_all_images()
    folder = demo_folder / "segstudio-predictions" / "tiny"
    for key in keys:
        assert (folder / f"{key}.png").is_file()
    result = scored.args[0]
    assert result.scores is not None and len(result.per_image) == len(keys)
    for key in keys:
        iou, dice = model.score(key)
        assert iou == pytest.approx(result.per_image[key].mean_iou)
        text = model.data(model.index(model.row_of(key), IOU_COLUMN))
        assert text == f"{iou:.3f}"
        assert model.data(model.index(model.row_of(key), DICE_COLUMN)) == f"{dice:.3f}"
    assert "accumulated mean IoU" in window.metrics_panel.dataset_line.text()
    assert fmt_ratio(result.scores.overall.mean_iou) in window.metrics_panel.dataset_line.text()
    # The image on screen got the model's mask.
    qtbot.waitUntil(lambda: window.canvas.session.prediction is not None and np.array_equal(
        window.canvas.session.prediction, read_class_mask(folder / f"{window.current_key}.png", DEMO_LABELS)),
        timeout=10000)
    # Sorting by IoU ascending puts the worst image first.
    window.file_list.view.sortByColumn(IOU_COLUMN, Qt.SortOrder.AscendingOrder)
    first = window.file_list.model.key_at(window.file_list.proxy.mapToSource(window.file_list.proxy.index(0, 0)).row())
    assert model.score(first)[0] == min(model.score(k)[0] for k in keys)


def test_cli_open_with_model_writes_a_screenshot(demo_folder: Path, checkpoint: Path, tmp_path: Path) -> None:
    from segstudio.cli import main

    out = tmp_path / "shot.png"
    assert main(["open", str(demo_folder), "--model", str(checkpoint), "--screenshot", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 10000
    assert (demo_folder / "segstudio-predictions" / "tiny").is_dir()


def test_predictions_from_an_earlier_run_come_back_on_reopen(qtbot, window: MainWindow, demo_folder: Path,  # noqa: ANN001
                                                             checkpoint: Path) -> None:
    from segstudio.ui.main_window import MainWindow as Window

    with qtbot.waitSignals([window.sample_loaded, window.dataset_scored], timeout=30000):
        window.open_folder(demo_folder)
    load_model(qtbot, window, checkpoint)
    with qtbot.waitSignal(window.dataset_scored, timeout=120000) as scored:
        window.predict_all_images()
    first = scored.args[0]
    assert set(first.per_image) == set(window.predictions.files)
    folder = demo_folder / "segstudio-predictions" / "tiny"
    project_before = window.dataset.project_file.read_bytes()
    window.close()

    again = Window(interactive=False)
    qtbot.addWidget(again)
    again.show()
    try:
        with qtbot.waitSignal(again.dataset_scored, timeout=30000) as scored_again, \
                qtbot.waitSignal(again.sample_loaded, timeout=30000):
            again.open_folder(demo_folder)
        assert again.model_panel.model is None  # nothing was predicted again
        key = again.current_key
        session = again.canvas.session
        assert session.prediction is not None
        assert np.array_equal(session.prediction, read_class_mask(folder / f"{key}.png", DEMO_LABELS))
        rescored = scored_again.args[0]
        model = again.file_list.model
        for sample_key, score in first.per_image.items():
            assert model.score(sample_key)[0] == pytest.approx(score.mean_iou)
            assert model.score(sample_key)[1] == pytest.approx(score.mean_dice)
            assert rescored.per_image[sample_key].mean_iou == pytest.approx(score.mean_iou)
        assert again.dataset.project_file.read_bytes() == project_before  # the project file is left as it was
    finally:
        again.pool.shutdown(5000)
