"""In the window: a Penn-Fudan correction is saved as instances, exactly as edited object by object."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.io.mask_files import read_instance_mask
from segstudio.ui.main_window import MainWindow
from tests.ui.test_class_editing import PENN_FUDAN_MULTI
from tests.ui.test_class_editing import pennfudan_folder as shared_pennfudan_folder
from tests.ui.test_main_window import open_and_wait

pennfudan_folder = shared_pennfudan_folder  # the fixture, under its name here


def test_window_saves_the_instances_as_edited(
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
    # In an instance session the person is gone because the user erased it: written without a question, and said.
    assert window.saving.save(wait=True) == path
    assert read_instance_mask(path).instance_ids == (1,)
    assert "instance(s) 2 deleted" in window.statusBar().currentMessage()
    assert not session.dirty
