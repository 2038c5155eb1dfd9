"""Comparing the shown predictions with another set: the list's Δ IoU column (sorted worst loss first) equals the
two sets scored apart, and the canvas marks exactly the pixels where the two predictions differ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.app.scoring import score_image
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from segstudio.ui.sample_table import GAIN_COLUMN


def two_prediction_sets(folder: Path) -> None:
    """A prediction folder with a car invented on the first image, and a newer model (segstudio's own predictions)
    that is right everywhere but misses the road on the last image."""
    (folder / "predictions").mkdir()
    newer = folder / "segstudio-predictions" / "newer-model" / "images"
    newer.mkdir(parents=True)
    masks = sorted((folder / "masks").glob("*.png"))
    for index, mask in enumerate(masks):
        truth = np.asarray(Image.open(mask))
        older = truth.copy()
        if index == 0:
            older[100:220, 150:400] = 8
        Image.fromarray(older).save(folder / "predictions" / mask.name)
        new = truth.copy()
        if index == len(masks) - 1:
            new[new == 3] = 4
        Image.fromarray(new).save(newer / mask.name)


def test_delta_iou_and_the_disagreement_map(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    two_prediction_sets(camvid_folder)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(camvid_folder)
    assert set(window.predictions.files) == {s.key for s in window.dataset.samples}  # the newer model is shown
    with qtbot.waitSignal(window.comparison.compared, timeout=60000) as blocker:
        window.commands.action(Command.COMPARE_PREDICTIONS).trigger()  # not interactive: the other set is taken
    result = blocker.args[0]
    assert result.other == "prediction folder predictions"
    dataset, model = window.dataset, window.file_list.model
    for sample in dataset.samples:
        shown = score_image(dataset, sample, window.predictions.files[sample.key]).mean_iou
        other = score_image(dataset, sample, None).mean_iou  # the dataset's prediction folder
        assert abs(model.iou_gain(sample.key) - (shown - other)) < 1e-12
    gains = [model.iou_gain(model.key_at(row)) for row in range(model.rowCount())]
    assert gains == sorted(gains) and gains[0] < 0 < gains[-1]  # the newer model's worst loss first
    assert not window.file_list.view.horizontalHeader().isSectionHidden(GAIN_COLUMN)

    window.commands.action(Command.SHOW_DISAGREEMENT).trigger()
    session = window.canvas.session
    key = window.current_key
    other = np.asarray(Image.open(camvid_folder / "predictions" / f"{Path(key).name}.png"))
    np.testing.assert_array_equal(window.canvas._highlight, session.prediction != other)
    assert window.canvas._highlight.any() == (key.endswith(Path(sorted((camvid_folder / "masks").glob("*.png"))[0]).stem))
    window.commands.action(Command.SHOW_DISAGREEMENT).trigger()
    assert window.canvas._highlight is None
