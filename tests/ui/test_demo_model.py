"""The demo default: the window trains the demo model on the worker (a tiny budget here), keeps the event loop
turning, shows the model's prediction and IoU/Dice, and a second start reuses the cached checkpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.core.progress import Progress
from segstudio.app.demo_model import DEMO_MODEL_FILE, DEMO_STAMP_FILE, DemoTrainingSettings, cached_checkpoint
from segstudio.ui.demo_model import DemoController, describe
from segstudio.ui.main_window import MainWindow
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.workers import WorkerPool

TINY = DemoTrainingSettings(epochs=2, samples_per_epoch=8, crop_size=64, batch_size=4, max_seconds=20)


def start_demo(qtbot, folder: Path) -> tuple[MainWindow, object]:
    window = MainWindow(interactive=False)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder)
    return window, window.start_demo(folder, TINY)


def test_demo_trains_on_worker_then_predicts_and_caches(qtbot, tmp_path: Path, one_torch_thread) -> None:
    folder = write_demo_dataset(tmp_path / "demo", count=4)
    window, demo = start_demo(qtbot, folder)
    assert demo.training and window.model_panel.running == "train"
    lines: list[str] = []
    demo.status.connect(lambda line, _ms: lines.append(line))
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)
    with qtbot.waitSignal(demo.shown, timeout=120000):
        pass
    timer.stop()
    assert demo.trained_now
    assert (folder / DEMO_MODEL_FILE).is_file() and cached_checkpoint(folder, TINY) is not None
    assert any("training the demo model: epoch" in line for line in lines)
    gaps = np.diff(ticks)
    assert len(ticks) > 20 and gaps.max() < 1.0  # the event loop kept turning while training ran on the worker
    key = window.current_key
    assert key in window.predictions.files
    session = window.canvas.session
    assert session is not None and session.prediction is not None
    iou, dice = window.file_list.model.score(key)
    assert iou is not None and dice is not None
    window.close()  # a later start: the first window no longer holds the folder

    again, demo2 = start_demo(qtbot, folder)
    assert not demo2.training  # cached: loaded, not trained
    with qtbot.waitSignal(demo2.shown, timeout=60000):
        pass
    assert not demo2.trained_now
    assert again.model_panel.model is not None and again.model_panel.model.path.name == DEMO_MODEL_FILE
    again.pool.shutdown(5000)


def test_corrupt_or_outdated_cache_is_not_used(tmp_path: Path) -> None:
    folder = write_demo_dataset(tmp_path / "demo", count=2)
    assert cached_checkpoint(folder, TINY) is None
    (folder / DEMO_MODEL_FILE).write_bytes(b"x")
    (folder / "demo-model.stamp").write_text(TINY.stamp(), encoding="utf-8")
    assert cached_checkpoint(folder, TINY) == folder / DEMO_MODEL_FILE  # loads; a load failure retrains once
    assert cached_checkpoint(folder, DemoTrainingSettings(epochs=3)) is None  # other settings: trained again


def test_progress_line() -> None:
    line = describe(Progress("validate", 3, 10, "", {"mean_iou": 0.625}), 10)
    assert line == "training the demo model: epoch 3/10, val IoU 0.62" or line.endswith("val IoU 0.63")


# -- the DemoController on its own: a model panel and a worker pool, no window -----------------------------------


@pytest.fixture
def pool(qtbot) -> Iterator[WorkerPool]:  # noqa: ANN001
    workers = WorkerPool()
    yield workers
    workers.shutdown(5000)


def cached_demo(folder: Path) -> Path:
    """A cached demo model as far as the stamp goes (its bytes are never read here)."""
    (folder / DEMO_MODEL_FILE).write_bytes(b"x")
    (folder / DEMO_STAMP_FILE).write_text(TINY.stamp(), encoding="utf-8")
    return folder / DEMO_MODEL_FILE


def test_a_cached_model_is_asked_for_and_shown_once_written_applied_and_scored(qtbot, pool, tmp_path: Path) -> None:  # noqa: ANN001
    folder = write_demo_dataset(tmp_path / "demo", count=2)
    checkpoint = cached_demo(folder)
    panel = ModelPanel(pool)
    qtbot.addWidget(panel)
    demo = DemoController(pool, panel, folder, TINY)
    with qtbot.waitSignal(demo.load_requested) as asked, qtbot.waitSignal(demo.status) as told:
        demo.start()
    assert asked.args == [checkpoint] and told.args[0] == f"loading the demo model {DEMO_MODEL_FILE}"
    assert not demo.training
    with qtbot.waitSignal(demo.ready) as ready:
        panel.model_loaded.emit(SimpleNamespace(path=checkpoint))
    assert ready.args == [checkpoint]
    with qtbot.assertNotEmitted(demo.shown):
        demo.dataset_scored()  # scores of the synthetic predictions: not the model's yet
        demo.predictions_written(image_shown=True)
        demo.dataset_scored()
    with qtbot.waitSignal(demo.shown):
        demo.prediction_applied()


def test_a_cached_model_that_fails_to_load_is_trained_again_once(qtbot, pool, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    folder = write_demo_dataset(tmp_path / "demo", count=2)
    cached_demo(folder)

    def no_training(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("no room to train")

    monkeypatch.setattr("segstudio.ui.demo_model.train_demo_model", no_training)
    panel = ModelPanel(pool)
    qtbot.addWidget(panel)
    demo = DemoController(pool, panel, folder, TINY)
    lines: list[str] = []
    demo.status.connect(lambda line, _ms: lines.append(line))
    demo.start()
    with qtbot.waitSignal(demo.failed, timeout=20000) as failed:
        panel.model_failed.emit("the cached file is damaged")  # trained again: here, training fails too
    assert failed.args[0].startswith("could not train the demo model") and "no room to train" in failed.args[0]
    assert not (folder / DEMO_STAMP_FILE).exists()  # the damaged cache is not offered again
    assert "training the demo model: starting..." in lines
    assert lines[-1].endswith("(the demo keeps its synthetic predictions)")
