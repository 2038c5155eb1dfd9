"""In the window: the model-doubt layer (Shift+U) shows the shown image's certainty per pixel, kept from one
prediction, exactly (the canvas draws Confidence.doubt() through the doubt ramp); it says how to get one when
there is none, follows the image, and its legend is composited like the canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.core.layers import LayerKind
from segstudio.core.palettes import doubt_palette
from segstudio.ui.actions import Command
from segstudio.ui.doubt_legend import ramp_pixels
from segstudio.ui.main_window import MainWindow
from segstudio.ui.model_doubt import NO_PREDICTION
from tests.ui.test_main_window import open_and_wait

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_doubt_layer_shows_the_kept_certainty_exactly(qtbot, window: MainWindow, camvid_folder: Path,  # noqa: ANN001
                                                          tiny_camvid_model: Path) -> None:
    checkpoint = tiny_camvid_model
    open_and_wait(qtbot, window, camvid_folder)
    panel = window.layer_panel

    window.commands.action(Command.TOGGLE_CERTAINTY).trigger()  # nothing predicted yet: it says how
    assert window.layers.style(LayerKind.CERTAINTY).visible
    assert window.canvas.doubt is None
    assert NO_PREDICTION in window.status_line.message
    assert panel.doubt_legend.note.text() == NO_PREDICTION and not panel.doubt_legend.isHidden()

    with qtbot.waitSignal(window.model_panel.model_loaded, timeout=60000):
        window.load_model(checkpoint)
    with qtbot.waitSignal(window.prediction_applied, timeout=60000):
        window.predict_current()
    confidence = window.predictions.confidence
    assert confidence is not None
    assert np.array_equal(window.canvas.doubt, confidence.doubt())
    assert panel.doubt_legend.note.isHidden()

    # What the canvas draws: the layer over everything else, through the doubt ramp at the layer's opacity.
    from segstudio.ui.canvas_compositing import shown_layers

    layers = shown_layers(window.canvas.session, {k: window.canvas.layer_style(k) for k in LayerKind}, False,
                          None, window.canvas.doubt)
    assert layers[-1][0] is LayerKind.CERTAINTY and layers[-1][1] is window.canvas.doubt
    window.canvas.grab()  # composites the visible tiles through it without error

    # The threshold re-derives the prediction; the certainty (and so the layer) stays what the model said.
    with qtbot.waitSignal(window.prediction_applied, timeout=20000):
        window.model_panel.certainty.setValue(0.1)
    assert np.array_equal(window.canvas.doubt, confidence.doubt())

    # Another image without a prediction of its own: the layer is empty and says so.
    with qtbot.waitSignal(window.sample_loaded, timeout=30000):
        window.commands.action(Command.NEXT_IMAGE).trigger()
    qtbot.waitUntil(lambda: window.canvas.doubt is None, timeout=10000)
    assert panel.doubt_legend.note.text() == NO_PREDICTION

    window.commands.action(Command.TOGGLE_CERTAINTY).trigger()
    assert not window.layers.style(LayerKind.CERTAINTY).visible and panel.doubt_legend.isHidden()


def test_the_legend_ramp_is_the_canvas_compositing_of_the_doubt_table() -> None:
    ramp = ramp_pixels(1.0, width=256, height=2)
    table = doubt_palette()
    assert ramp[0, 0, :3].tolist() == [150, 150, 150]  # sure: the grey below shows untouched
    assert ramp[0, 255, :3].tolist() == table[255, :3].tolist()  # no idea: the ramp's last colour, opaque
    faded = ramp_pixels(0.5, width=256, height=2)
    assert not np.array_equal(faded, ramp)  # the legend follows the layer's opacity
