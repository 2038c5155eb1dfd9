"""In the window: a semantic model's certainty per pixel kept from one run; the Model panel's certainty threshold
re-derives the shown prediction without running the network (uncertain pixels unlabelled), and U marks them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.core.labels import LabelSet
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from segstudio.ui.uncertain_pixels import UNCERTAIN_COLOUR
from tests.ui.test_main_window import open_and_wait

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_certainty_threshold_and_uncertain_pixels(qtbot, window: MainWindow, camvid_folder: Path,  # noqa: ANN001
                                                  tiny_camvid_model: Path) -> None:
    labels, checkpoint = LabelSet.camvid(), tiny_camvid_model
    open_and_wait(qtbot, window, camvid_folder)
    panel = window.model_panel
    with qtbot.waitSignal(panel.model_loaded, timeout=60000):
        window.load_model(checkpoint)
    assert panel.certainty_row.isHidden()  # nothing predicted yet
    calls: list[int] = []
    network = panel.model.predictor.predict

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return network(*args, **kwargs)

    panel.model.predictor.predict = counting
    with qtbot.waitSignal(window.prediction_applied, timeout=60000):
        window.predict_current()
    confidence = window.predictions.confidence
    assert confidence is not None and not panel.certainty_row.isHidden()
    session = window.canvas.session
    assert np.array_equal(session.prediction, confidence.classes)

    # A random-weight model is unsure everywhere (about 1/11 per class): a threshold above half of its pixels'
    # certainty, on the box's 0.01 steps.
    threshold = float(np.ceil(np.quantile(confidence.certainty.astype(np.float32), 0.5) * 100) / 100)
    with qtbot.waitSignal(window.prediction_applied, timeout=20000):
        panel.certainty.setValue(threshold)
    chosen = panel.certainty.value()
    expected = confidence.classes_at(chosen, unlabelled=labels.ignore_index)
    assert np.array_equal(window.canvas.session.prediction, expected)
    assert (window.canvas.session.prediction == labels.ignore_index).any()
    assert len(calls) == 1, "the threshold ran the network again"
    assert f"{100 * confidence.uncertain_share(chosen):.1f} %" in panel.uncertain.text()

    # The list's "uncertain" column has the shown image's share, and shows.
    from segstudio.ui.sample_table import UNCERTAIN_COLUMN

    model = window.file_list.model
    row = model.row_of(window.current_key)
    assert model.data(model.index(row, UNCERTAIN_COLUMN)) == f"{100 * confidence.uncertain_share(chosen):.1f} %"
    assert not window.file_list.view.horizontalHeader().isSectionHidden(UNCERTAIN_COLUMN)

    window.commands.action(Command.SHOW_UNCERTAIN).trigger()
    assert window.uncertain_pixels.shown and window.commands.action(Command.SHOW_UNCERTAIN).isChecked()
    highlight = window.canvas._highlight  # noqa: SLF001 - what the canvas draws on top
    assert highlight is not None and np.array_equal(highlight, confidence.uncertain(chosen))
    assert window.canvas._highlight_colour == UNCERTAIN_COLOUR  # noqa: SLF001
    window.commands.action(Command.SHOW_UNCERTAIN).trigger()
    assert window.canvas._highlight is None  # noqa: SLF001


def test_predict_all_measures_every_images_uncertain_share(camvid_folder: Path, tiny_camvid_model: Path) -> None:
    from segstudio.app.loaded_model import load_model
    from segstudio.app.project_predictions import predict_all
    from segstudio.core.confidence import Confidence
    from segstudio.io.datasets import open_dataset
    from segstudio.io.images import read_image

    checkpoint = tiny_camvid_model
    dataset = open_dataset(camvid_folder)
    model = load_model(checkpoint)
    done = predict_all(model, dataset, certainty=0.1)
    assert set(done.uncertain) == set(done.written) and len(done.written) == len(dataset.samples)
    for sample in dataset.samples:
        prediction = model.predictor.predict(read_image(sample.image), probabilities=True)
        expected = Confidence.from_probabilities(prediction.classes, prediction.probabilities).uncertain_share(0.1)
        assert done.uncertain[sample.key] == expected
    assert predict_all(model, dataset).uncertain == {}  # not asked: not measured


def test_without_a_prediction_u_says_why(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    window.commands.action(Command.SHOW_UNCERTAIN).trigger()
    assert not window.uncertain_pixels.shown
    assert not window.commands.action(Command.SHOW_UNCERTAIN).isChecked()
    assert "semantic model first" in window.statusBar().currentMessage()
