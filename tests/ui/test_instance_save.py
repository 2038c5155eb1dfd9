"""In the window: a Penn-Fudan correction is saved as instances, and a save that would drop a person asks first."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.io.mask_files import read_instance_mask
from segstudio.ui.main_window import MainWindow
from tests.ui.test_class_editing import PENN_FUDAN_MULTI
from tests.ui.test_class_editing import pennfudan_folder as shared_pennfudan_folder
from tests.ui.test_main_window import open_and_wait

pennfudan_folder = shared_pennfudan_folder  # the fixture, under its name here


def test_window_saves_instances_and_asks_before_dropping_one(
    qtbot, window: MainWindow, pennfudan_folder: Path  # noqa: ANN001
) -> None:
    open_and_wait(qtbot, window, pennfudan_folder, image=PENN_FUDAN_MULTI)
    truth = read_instance_mask(pennfudan_folder / "PedMasks" / f"{PENN_FUDAN_MULTI}_mask.png")
    session = window.canvas.session
    rows, cols = np.nonzero(truth.ids == 1)
    y, x = float(rows.mean()), float(cols.mean())
    session.begin_stroke()
    session.erase((x - 3, y), (x + 3, y), radius=2)  # a small hole in person 1
    session.end_stroke()

    path = window.saving.save(wait=True)
    assert path is not None
    saved = read_instance_mask(path)
    assert saved.instance_ids == (1, 2)
    assert np.array_equal(saved.ids == 2, truth.ids == 2)
    assert "as instances" in window.statusBar().currentMessage()

    session.begin_stroke()  # erase the whole of person 2, pixel by pixel
    for row, col in zip(*np.nonzero(truth.ids == 2), strict=True):
        session.erase((float(col), float(row)), (float(col), float(row)), radius=0.5)
    session.end_stroke()
    assert not (session.mask[truth.ids == 2] == 1).any()
    before = path.read_bytes()
    with qtbot.waitSignal(window.saving.save_failed, timeout=10000) as blocker:
        assert window.saving.save(wait=True) is None
    assert "would lose instance information" in blocker.args[0] and "2 removed" in blocker.args[0]
    assert path.read_bytes() == before and session.dirty

    assert window.saving.save(wait=True, allow_instance_loss=True) == path
    assert read_instance_mask(path).instance_ids == (1,)
    assert not session.dirty
