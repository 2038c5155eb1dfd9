"""The demo's scores say what they are of, change with a word, and ``segstudio demo`` prints the window's figures
(issue 10 item 2): the window first shows the synthetic predictions as such, announces the demo model's when they
replace them, and the command line, run on the same folder, prints the metrics panel's dataset line word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

from segstudio.app import demo_model
from segstudio.app.demo_model import DemoTrainingSettings
from segstudio.cli import main
from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.ui.main_window import MainWindow

TINY = DemoTrainingSettings(epochs=2, samples_per_epoch=8, crop_size=64, batch_size=4, max_seconds=20)


def test_window_and_command_line_show_the_same_demo_figures(qtbot, tmp_path: Path, one_torch_thread,  # noqa: ANN001
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_demo_dataset(tmp_path / "demo", count=4)
    window = MainWindow(interactive=False)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    with qtbot.waitSignal(window.dataset_scored, timeout=60000):
        window.open_folder(folder)
        demo = window.start_demo(folder, TINY)  # no cached model: it trains first
    # Until the model is in, the scores are the synthetic masks', and say so.
    synthetic = "the demo's synthetic predictions/ (made by code, not a model)"
    assert window.file_list.score_source.text() == f"IoU/Dice: {synthetic} vs ground truth"
    assert window.metrics_panel.dataset_line.text().startswith(f"dataset ({synthetic} vs truth, 4 of 4 images)")
    with qtbot.waitSignal(demo.shown, timeout=180000):
        pass
    shown = window.metrics_panel.dataset_line.text()
    assert shown.startswith("dataset (model demo-model vs truth, 4 of 4 images): accumulated mean IoU ")
    assert window.file_list.score_source.text() == "IoU/Dice: model demo-model vs ground truth"
    assert any(m.startswith("IoU/Dice now of model demo-model: dataset mean IoU ") and synthetic in m for m in messages)
    window.close()
    window.pool.shutdown(5000)

    monkeypatch.setattr(demo_model, "DEFAULT_SETTINGS", TINY)  # the window's model, cached: not trained again
    capsys.readouterr()
    assert main(["demo", "--folder", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "(cached)" in printed
    assert shown in printed.splitlines()  # the metrics panel's line, word for word
