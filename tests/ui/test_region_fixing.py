"""In the window: CamVid with a "model" whose prediction of each frame is the next frame's ground truth; its error
regions are stepped through largest first (".", ","), clicked with the region tool (R) and fixed with T, Y and S,
each one undo step."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.core.error_regions import RegionFix, region_at
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from tests.ui.test_main_window import open_and_wait, paint_stroke

FRAMES = ("0016E5_07959", "0016E5_07961", "0016E5_07963")


@pytest.fixture
def camvid_with_predictions(shared_data: Path, tmp_path: Path) -> Path:
    source, root = shared_data / "camvid", tmp_path / "camvid"
    for folder in ("images", "masks", "predictions"):
        (root / folder).mkdir(parents=True)
    for frame, following in zip(FRAMES, FRAMES[1:] + FRAMES[:1], strict=True):
        shutil.copy(source / "val" / f"{frame}.png", root / "images" / f"{frame}.png")
        shutil.copy(source / "valannot" / f"{frame}.png", root / "masks" / f"{frame}.png")
        shutil.copy(source / "valannot" / f"{following}.png", root / "predictions" / f"{frame}.png")
    return root


def _trigger(window: MainWindow, command: Command) -> None:
    window.commands.action(command).trigger()


def test_stepping_through_error_regions_and_fixing_them(qtbot, window: MainWindow, camvid_with_predictions: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_with_predictions)
    session, fixing = window.canvas.session, window.region_fixing
    assert session.prediction is not None and np.array_equal(session.mask, session.prediction)
    regions = session.error_regions(min_area=16)
    assert len(regions) >= 3

    _trigger(window, Command.NEXT_ERROR_REGION)
    assert fixing.region is not None and fixing.region.rect == regions[0].rect  # the largest first
    assert "T takes the ground truth" in window.statusBar().currentMessage()
    _trigger(window, Command.NEXT_ERROR_REGION)
    assert fixing.region.rect == regions[1].rect
    _trigger(window, Command.PREVIOUS_ERROR_REGION)
    assert fixing.region.rect == regions[0].rect

    before = session.mask.copy()
    chosen = fixing.region.mask(session.shape)
    _trigger(window, Command.TAKE_TRUTH_IN_REGION)
    assert np.array_equal(session.mask[chosen], session.ground_truth[chosen])
    assert np.array_equal(session.mask[~chosen], before[~chosen])
    assert fixing.region is None and "region(s) left" in window.statusBar().currentMessage()
    _trigger(window, Command.NEXT_ERROR_REGION)  # the fixed one is gone: the largest left comes next
    assert fixing.region.rect == regions[1].rect
    _trigger(window, Command.UNDO)
    assert np.array_equal(session.mask, before)  # one undo step

    # The region tool: a click chooses the region under it; S gives it the selected class.
    target = regions[2]
    x, y = target.centre
    _trigger(window, Command.REGION)
    paint_stroke(qtbot, window, [(x, y)])
    found = region_at(session.error_map, x, y)
    assert fixing.region is not None and fixing.region.rect == found.rect
    window.class_panel.select(3)
    _trigger(window, Command.SET_REGION_CLASS)
    assert (session.mask[found.mask(session.shape)] == 3).all()
    _trigger(window, Command.UNDO)

    # Y takes the prediction back where the user painted over it with a class that is wrong there.
    row, col = int(round(y)), int(round(x))
    wrong = next(c for c in range(session.labels.num_classes)
                 if c not in (int(session.ground_truth[row, col]), int(session.prediction[row, col])))
    _trigger(window, Command.BRUSH)
    window.class_panel.select(wrong)
    paint_stroke(qtbot, window, [(x - 10, y), (x + 10, y)])
    assert int(session.mask[row, col]) == wrong
    _trigger(window, Command.REGION)
    paint_stroke(qtbot, window, [(x, y)])
    region = fixing.region
    assert region is not None
    _trigger(window, Command.TAKE_PREDICTION_IN_REGION)
    inside = region.mask(session.shape)
    assert np.array_equal(session.mask[inside], session.prediction[inside])
    assert int(session.mask[row, col]) != wrong


def test_without_ground_truth_it_says_why(qtbot, window: MainWindow, camvid_with_predictions: Path) -> None:  # noqa: ANN001
    shutil.rmtree(camvid_with_predictions / "masks")
    open_and_wait(qtbot, window, camvid_with_predictions)
    _trigger(window, Command.NEXT_ERROR_REGION)
    assert "no ground truth" in window.statusBar().currentMessage()
    _trigger(window, Command.TAKE_TRUTH_IN_REGION)
    assert "choose an error region first" in window.statusBar().currentMessage()
    assert RegionFix.TRUTH.value == "take the ground truth"
