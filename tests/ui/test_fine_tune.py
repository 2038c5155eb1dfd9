"""The fine-tune controller and panel with a real worker pool: progress reaches the plot, the end shows before/after,
Cancel saves nothing, and "Re-predict the images still to do" hands on the new model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from segstudio.app.fine_tune import FineTuneResult, FineTuneSettings
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.ui.fine_tune import FineTuneController, FineTunePanel
from segstudio.ui.workers import WorkerPool
from tests.app.test_fine_tune import _camvid_small, _weak_checkpoint

pytest.importorskip("torch")

QUICK = FineTuneSettings(epochs=4, crop_size=64, batch_size=4, samples_per_epoch=12, learning_rate=5e-3, device="cpu",
                         threads=1)


@pytest.fixture
def camvid(shared_data: Path, tmp_path: Path) -> Dataset:
    return open_dataset(_camvid_small(tmp_path / "camvid", shared_data, count=6))


@pytest.fixture
def rig(qtbot) -> Iterator[tuple[WorkerPool, FineTunePanel, FineTuneController]]:  # noqa: ANN001
    pool = WorkerPool()
    panel = FineTunePanel()
    qtbot.addWidget(panel)
    panel.resize(420, 640)
    panel.show()
    controller = FineTuneController(pool, panel)
    yield pool, panel, controller
    pool.shutdown(10000)


def test_progress_reaches_the_plot_and_the_end_shows_before_and_after(qtbot, rig, camvid: Dataset,  # noqa: ANN001
                                                                       tmp_path: Path) -> None:
    pool, panel, controller = rig
    old = _weak_checkpoint(tmp_path / "models" / "weak.safetensors", camvid.spec.labels)
    statuses: list[str] = []
    controller.status.connect(lambda text, _ms: statuses.append(text))
    with qtbot.waitSignal(controller.finished, timeout=60000) as finished:
        assert controller.start(camvid, [s.key for s in camvid.samples], old, QUICK)
        assert controller.running and panel.running_row.isVisible() and not panel.repredict_button.isVisible()
    result: FineTuneResult = finished.args[0]
    assert not controller.running and not panel.running_row.isVisible()
    assert [p[0] for p in panel.plot.points] == [1, 2, 3, 4]  # every epoch, though progress is throttled
    assert [p[1] for p in panel.plot.points] == pytest.approx([p.loss for p in result.history])
    assert panel.plot.before_iou == pytest.approx(result.before.mean_iou)
    assert panel.plot.best_epoch == result.best_epoch
    text = panel.outcome.text()
    assert f"{result.before.mean_iou:.3f}</b> before" in text and f"{result.after.mean_iou:.3f}</b> after" in text
    assert "weak-finetuned-1.safetensors" in text and panel.table.rowCount() == 11
    assert panel.table.item(3, 0).text() == "Road"
    assert any(s.startswith("fine-tuning: training: epoch") for s in statuses)
    assert statuses[-1].startswith("fine-tuned in") and "saved as weak-finetuned-1.safetensors" in statuses[-1]
    assert panel.repredict_button.isVisible()
    with qtbot.waitSignal(controller.repredict_requested, timeout=1000) as asked:
        panel.repredict_button.click()
    assert asked.args == [old.with_name("weak-finetuned-1.safetensors")] and asked.args[0].is_file()


def test_cancel_stops_it_and_saves_nothing(qtbot, rig, camvid: Dataset, tmp_path: Path) -> None:  # noqa: ANN001
    pool, panel, controller = rig
    old = _weak_checkpoint(tmp_path / "models" / "weak.safetensors", camvid.spec.labels)
    long = FineTuneSettings(epochs=200, crop_size=64, batch_size=4, samples_per_epoch=8, device="cpu", threads=1)
    controller.start(camvid, [s.key for s in camvid.samples], old, long)
    qtbot.waitUntil(lambda: len(panel.plot.points) >= 1, timeout=30000)
    with qtbot.waitSignal(controller.cancelled, timeout=30000):
        panel.cancel_button.click()
    assert panel.message.text() == "fine-tuning cancelled; nothing was saved"
    assert not panel.running_row.isVisible() and not panel.repredict_button.isVisible()
    assert [p.name for p in old.parent.iterdir()] == ["weak.safetensors"]


def test_too_few_accepted_images_are_refused_at_once(qtbot, rig, camvid: Dataset, tmp_path: Path) -> None:  # noqa: ANN001
    pool, panel, controller = rig
    with qtbot.waitSignal(controller.failed, timeout=1000) as failed:
        assert not controller.start(camvid, [camvid.samples[0].key], tmp_path / "any.safetensors", QUICK)
    assert "at least 4 accepted images" in failed.args[0] and "accept 3 more" in failed.args[0]
    assert panel.message.text().startswith("cannot fine-tune: fine-tuning needs at least 4")
    assert pool.current("fine-tune") is None


def test_a_failure_is_said_in_the_panel(qtbot, rig, camvid: Dataset, tmp_path: Path) -> None:  # noqa: ANN001
    pool, panel, controller = rig
    missing = tmp_path / "gone.safetensors"
    with qtbot.waitSignal(controller.failed, timeout=30000) as failed:
        controller.start(camvid, [s.key for s in camvid.samples], missing, QUICK)
    assert "gone.safetensors" in failed.args[0]
    assert panel.message.text().startswith("fine-tuning failed:") and not panel.running_row.isVisible()
