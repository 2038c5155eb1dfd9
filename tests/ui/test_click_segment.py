"""In the window: click to segment (H) is greyed, with the reason, until Segment Anything weights on disk are loaded;
then clicks and right-clicks on a CamVid image get the model's proposal (computed on a worker, exactly the model's
answer for those points), Enter paints it in the selected class as one undo step, Esc drops it, and a file that is
not SAM's weights is refused by name with the tool left greyed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from segstudio.models.promptable import Prompts, load_promptable, prompt_region
from segstudio.ui.actions import Command
from segstudio.ui.click_segment import SETTINGS_KEY
from segstudio.ui.main_window import MainWindow
from tests.models.test_promptable import tiny_weights as shared_tiny_weights
from tests.ui.test_main_window import open_and_wait, widget_point

pytest.importorskip("segment_anything")


tiny_weights = shared_tiny_weights  # the fixture, under its name here


def load_weights(qtbot, window: MainWindow, path: Path) -> None:  # noqa: ANN001
    click = window.correction_tools.click
    with qtbot.waitSignal(click.availability, timeout=60000):
        click.load(path)


def test_the_tool_is_greyed_with_the_reason_until_weights_are_loaded(qtbot, window: MainWindow, tiny_weights: Path,
                                                                      tmp_path: Path) -> None:  # noqa: ANN001
    action = window.commands.action(Command.CLICK)
    assert not action.isEnabled()
    assert "Segment Anything weights on this disk" in action.toolTip()
    not_sam = tmp_path / "not_sam.pth"
    torch.save({"conv.weight": torch.zeros(4, 3, 3, 3)}, not_sam)
    load_weights(qtbot, window, not_sam)
    assert not action.isEnabled()
    assert "not_sam.pth" in window.status_line.message and "not a Segment Anything" in window.status_line.message
    load_weights(qtbot, window, tiny_weights)
    assert action.isEnabled() and "Not available" not in action.toolTip()
    assert window.settings.value(SETTINGS_KEY) == str(tiny_weights)

    later = MainWindow(interactive=False, settings=window.settings)  # the next run: offered at once
    qtbot.addWidget(later)
    try:
        assert later.commands.action(Command.CLICK).isEnabled()
        assert later.correction_tools.click.model is None  # read on first use, not at start
    finally:
        later.pool.shutdown(5000)


def test_clicks_propose_the_model_s_mask_and_enter_paints_it_as_one_step(qtbot, window: MainWindow,  # noqa: ANN001
                                                                         camvid_folder: Path, tiny_weights: Path) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    load_weights(qtbot, window, tiny_weights)
    session, tools, click = window.canvas.session, window.canvas.tools, window.correction_tools.click
    before = session.mask.copy()
    window.class_panel.select(8)
    window.commands.action(Command.CLICK).trigger()
    assert tools.tool.value == "click to segment"
    height, width = session.shape
    inside, outside = (width * 0.4, height * 0.6), (width * 0.7, height * 0.3)

    canvas = window.canvas
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, *inside))
    qtbot.waitUntil(lambda: click.proposal is not None, timeout=60000)
    QTest.mouseClick(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, widget_point(window, *outside))
    assert len(tools.marks) == 2 and [m[2] for m in tools.marks] == [True, False]
    qtbot.waitUntil(lambda: click.proposed_for == tools.marks, timeout=60000)
    found = click.proposal
    assert np.array_equal(session.mask, before)  # a proposal changes nothing

    model = load_promptable(tiny_weights, device="cpu")  # the model's own answer for the same points
    region = prompt_region(session.shape, tools.view)
    expected = model.segment(session.image, region, Prompts(tools.marks), "again")
    assert found.rect == region and np.array_equal(found.pixels, expected.pixels)

    QTest.keyClick(canvas, Qt.Key.Key_Return)
    painted = np.zeros(session.shape, dtype=bool)
    painted[found.rect.slices] = found.pixels
    assert np.array_equal(session.mask != before, painted & (before != 8))
    assert (session.mask[painted] == 8).all()
    assert tools.marks == () and click.proposal is None
    assert f"painted as {session.labels.name_of(8)}" in window.status_line.message
    window.commands.action(Command.UNDO).trigger()
    assert np.array_equal(session.mask, before)


def test_escape_drops_the_points_and_another_image_forgets_them(qtbot, window: MainWindow, camvid_folder: Path,  # noqa: ANN001
                                                                 tiny_weights: Path) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    load_weights(qtbot, window, tiny_weights)
    tools, click, canvas = window.canvas.tools, window.correction_tools.click, window.canvas
    window.commands.action(Command.CLICK).trigger()
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 100, 100))
    qtbot.waitUntil(lambda: click.proposal is not None, timeout=60000)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert tools.marks == () and click.proposal is None
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 100, 100))
    assert tools.marks
    window.commands.action(Command.NEXT_IMAGE).trigger()
    qtbot.waitUntil(lambda: window.canvas.session is not None and window.current_key != "", timeout=30000)
    qtbot.waitUntil(lambda: tools.marks == (), timeout=30000)
    assert click.proposal is None
    qtbot.wait(200)  # an answer for the image left behind must not come back as a proposal
    assert click.proposal is None


def test_a_read_only_window_proposes_but_never_paints(qtbot, window: MainWindow, camvid_folder: Path,  # noqa: ANN001
                                                      tiny_weights: Path) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    load_weights(qtbot, window, tiny_weights)
    session, tools, click = window.canvas.session, window.canvas.tools, window.correction_tools.click
    before = session.mask.copy()
    window.commands.action(Command.CLICK).trigger()
    QTest.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     widget_point(window, 200, 200))
    qtbot.waitUntil(lambda: click.proposal is not None, timeout=60000)
    tools.read_only = True
    assert click.write() is None
    assert np.array_equal(session.mask, before)
    assert "read-only" in window.status_line.message


def test_settings_without_weights_leave_the_tool_greyed(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue(SETTINGS_KEY, str(tmp_path / "gone.pth"))  # remembered, then deleted
    window = MainWindow(interactive=False, settings=settings)
    qtbot.addWidget(window)
    try:
        assert not window.commands.action(Command.CLICK).isEnabled()
    finally:
        window.pool.shutdown(5000)
