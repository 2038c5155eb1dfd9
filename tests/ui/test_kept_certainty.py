"""The certainty "Predict all" keeps beside each prediction (``<key>.certainty.tif``): exact float16 round trip,
broken files refused by name, and a later run (no model loaded) gets the same certainty back when an image opens:
the threshold re-derives the prediction as a fresh one would be, the doubt layer and the list's "uncertain" column
show it. A broken certainty file leaves the prediction shown, with a note naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.core.errors import FileProblem
from segstudio.io.certainty_files import certainty_path, read_certainty, write_certainty
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from tests.ui.test_main_window import open_and_wait

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_certainty_file_round_trips_exactly_and_broken_ones_are_refused_by_name(tmp_path: Path) -> None:
    import tifffile

    rng = np.random.default_rng(0)
    certainty = rng.random((360, 480)).astype(np.float16)
    certainty[0, :4] = (0.0, 1.0, np.float16(1 / 3), np.float16(6e-8))  # the ends, a repeating fraction, a subnormal
    path = tmp_path / "a.certainty.tif"
    write_certainty(path, certainty)
    back = read_certainty(path, (360, 480))
    assert back.dtype == np.float16 and np.array_equal(back.view(np.uint16), certainty.view(np.uint16))
    assert certainty_path(tmp_path / "0016E5_07959.png") == tmp_path / "0016E5_07959.certainty.tif"

    truncated = tmp_path / "cut.certainty.tif"
    truncated.write_bytes(path.read_bytes()[:300])
    wrong_type = tmp_path / "bytes.certainty.tif"
    tifffile.imwrite(wrong_type, (certainty * 255).astype(np.uint8))
    not_probability = tmp_path / "nan.certainty.tif"
    bad = certainty.copy()
    bad[5, 5] = np.nan
    tifffile.imwrite(not_probability, bad)
    png = tmp_path / "png.certainty.tif"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    for broken, words in ((truncated, "not a readable"), (wrong_type, "uint8"), (not_probability, "not probabilities"),
                          (png, "not a readable"), (path, "480x360 but its prediction is 100x100")):
        with pytest.raises(FileProblem, match=words) as refused:
            read_certainty(broken, (100, 100) if broken == path else (360, 480))
        assert refused.value.path == broken
    with pytest.raises(ValueError, match="float16"):
        write_certainty(tmp_path / "x.certainty.tif", certainty.astype(np.float32))


def _predict_all(camvid_folder: Path, checkpoint: Path):  # noqa: ANN202
    from segstudio.app.loaded_model import load_model
    from segstudio.app.project_predictions import predict_all
    from segstudio.io.datasets import open_dataset

    dataset = open_dataset(camvid_folder)
    model = load_model(checkpoint)
    return dataset, model, predict_all(model, dataset, certainty=0.1)


def test_predict_all_keeps_the_certainty_and_loading_gives_it_back(camvid_folder: Path, tiny_camvid_model: Path) -> None:
    from segstudio.app.sample_loader import load_sample
    from segstudio.core.confidence import Confidence
    from segstudio.io.images import read_image

    dataset, model, done = _predict_all(camvid_folder, tiny_camvid_model)
    sample = dataset.samples[0]
    written = done.written[sample.key]
    assert certainty_path(written).is_file()
    fresh = model.predictor.predict(read_image(sample.image), probabilities=True)
    expected = Confidence.from_probabilities(fresh.classes, fresh.probabilities)
    loaded = load_sample(dataset, sample, prediction_path=written)
    assert loaded.confidence is not None
    assert np.array_equal(loaded.confidence.certainty.view(np.uint16), expected.certainty.view(np.uint16))
    for threshold in (0.09, 0.1, 0.12):  # re-derived from the file = thresholding a fresh prediction
        labels = dataset.spec.labels
        assert np.array_equal(loaded.confidence.classes_at(threshold, unlabelled=labels.ignore_index),
                              expected.classes_at(threshold, unlabelled=labels.ignore_index))

    certainty_path(written).write_bytes(b"not a tiff")  # broken: the prediction still shows, with a note
    again = load_sample(dataset, sample, prediction_path=written)
    assert again.confidence is None and again.session.prediction is not None
    assert any("certainty is not shown" in note and certainty_path(written).name in note for note in again.notes)


def test_a_later_run_shows_the_kept_certainty_without_the_model(qtbot, window: MainWindow, camvid_folder: Path,  # noqa: ANN001
                                                                  tiny_camvid_model: Path) -> None:
    from segstudio.core.confidence import Confidence
    from segstudio.core.layers import LayerKind
    from segstudio.ui.sample_table import UNCERTAIN_COLUMN

    dataset, model, done = _predict_all(camvid_folder, tiny_camvid_model)
    assert window.model_panel.model is None  # this run has no model
    open_and_wait(qtbot, window, camvid_folder)
    qtbot.waitUntil(lambda: window.predictions.confidence is not None, timeout=20000)
    confidence = window.predictions.confidence
    key = window.current_key
    kept = read_certainty(certainty_path(done.written[key]), confidence.shape)
    assert np.array_equal(confidence.certainty.view(np.uint16), kept.view(np.uint16))
    assert isinstance(confidence, Confidence)
    window.commands.action(Command.TOGGLE_CERTAINTY).trigger()
    assert window.layers.style(LayerKind.CERTAINTY).visible
    assert np.array_equal(window.canvas.doubt, confidence.doubt())

    rows = window.file_list.model
    threshold = window.model_panel.certainty.value()
    qtbot.waitUntil(lambda: all(rows.data(rows.index(rows.row_of(k), UNCERTAIN_COLUMN)) not in (None, "", "n/a")
                                for k in done.written), timeout=20000)
    for sample_key, path in done.written.items():
        share = float(np.count_nonzero(read_certainty(certainty_path(path), None) < np.float16(threshold)))
        share /= confidence.certainty.size
        assert rows.data(rows.index(rows.row_of(sample_key), UNCERTAIN_COLUMN)) == f"{100 * share:.1f} %"

    with qtbot.waitSignal(window.prediction_applied, timeout=20000):  # re-derived from the kept certainty
        window.model_panel.certainty.setValue(0.1)
    labels = dataset.spec.labels
    assert np.array_equal(window.canvas.session.prediction,
                          confidence.classes_at(window.model_panel.certainty.value(), unlabelled=labels.ignore_index))
