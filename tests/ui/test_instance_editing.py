"""In the window: a Penn-Fudan image corrected object by object with the mouse and the Instances menu (pick, paint
into, new instance, delete, merge, split, cut, change class, renumber, undo), the panel's figures following, and the
save read back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.core.instance_matching import match_instances
from segstudio.io.mask_files import read_instance_mask, read_tagged_instance_mask
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from segstudio.ui.tools import Tool
from tests.ui.test_class_editing import PENN_FUDAN_MULTI
from tests.ui.test_class_editing import pennfudan_folder as shared_pennfudan_folder
from tests.ui.test_main_window import open_and_wait, paint_stroke

pennfudan_folder = shared_pennfudan_folder  # the fixture, under its name here


def _trigger(window: MainWindow, command: Command) -> None:
    window.commands.action(command).trigger()


def _centre(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    index = len(rows) // 2
    return float(cols[index]), float(rows[index])


def _figures_match_a_recount(window: MainWindow, truth) -> None:  # noqa: ANN001
    session = window.canvas.session
    live = session.instance_figures()
    snapshot = session.instances.snapshot()
    scores = {i: (snapshot.scores or {}).get(i, 1.0) for i in snapshot.instance_ids}
    from segstudio.core.instances import InstanceMask

    assert live.matching == match_instances(truth, InstanceMask(snapshot.ids, dict(snapshot.classes), scores))


def test_correcting_penn_fudan_people_as_instances(qtbot, window: MainWindow, pennfudan_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, pennfudan_folder, image=PENN_FUDAN_MULTI)
    truth = read_instance_mask(pennfudan_folder / "PedMasks" / f"{PENN_FUDAN_MULTI}_mask.png")
    session, panel, editing = window.canvas.session, window.instance_panel, window.instance_editing
    layer = session.instances
    assert layer is not None and layer.snapshot() == truth
    editing.refresh()
    assert [row[0] for row in panel.rows()] == ["1", "2"] and all(row[4].startswith("#") for row in panel.rows())

    # Pick person 2 on the canvas: the panel selects it, and the brush paints into it.
    _trigger(window, Command.PICK)
    x, y = _centre(truth.ids == 2)
    paint_stroke(qtbot, window, [(x, y)])
    assert panel.selected_ids() == [2] and layer.current == 2
    _trigger(window, Command.BRUSH)
    before = int(layer.pixels_of(2).sum())
    paint_stroke(qtbot, window, [(x, y), (x + 30, y)])
    assert int(layer.pixels_of(2).sum()) > before
    assert layer.instance_ids() == (1, 2)  # painted into 2, no new instance

    # New instance (M) and a stroke: a third person, unmatched, listed with a cross.
    _trigger(window, Command.NEW_INSTANCE)
    paint_stroke(qtbot, window, [(5, 5), (40, 5)])
    assert layer.instance_ids() == (1, 2, 3)
    editing.refresh()
    assert panel.rows()[-1][0] == "3" and panel.rows()[-1][4] == "✗"
    _figures_match_a_recount(window, truth)

    # Delete it (Del) and undo brings it back; delete person 1: it shows as missed.
    panel.select_ids([3])
    _trigger(window, Command.DELETE_INSTANCE)
    assert layer.instance_ids() == (1, 2)
    _trigger(window, Command.UNDO)
    assert layer.instance_ids() == (1, 2, 3)
    panel.select_ids([1])
    _trigger(window, Command.DELETE_INSTANCE)
    editing.refresh()
    assert panel.missed.count() == 1 and "GT #1" in panel.missed.item(0).text()
    _figures_match_a_recount(window, truth)
    _trigger(window, Command.UNDO)

    # Merge 1 and 2, split them into their pieces again (the two people are apart).
    panel.select_ids([1, 2])
    _trigger(window, Command.MERGE_INSTANCES)
    assert 2 not in layer.instance_ids() and layer.has(1)
    panel.select_ids([1])
    _trigger(window, Command.SPLIT_INSTANCE)
    assert len(layer.instance_ids()) == 3

    # Drag the Cut tool across the instance under the picked point: it comes apart into two or more instances.
    count = len(layer.instance_ids())
    panel.select_ids([])
    target = layer.instance_at(x, y)
    rows, cols = np.nonzero(layer.pixels_of(target))
    middle = float((rows.min() + rows.max()) // 2)
    _trigger(window, Command.CUT)
    paint_stroke(qtbot, window, [(cols.min() - 4.0, middle), (float(cols.mean()), middle), (cols.max() + 4.0, middle)])
    assert len(layer.instance_ids()) > count

    # Renumber compacts the ids to 1..N.
    _trigger(window, Command.RENUMBER_INSTANCES)
    assert layer.instance_ids() == tuple(range(1, len(layer.instance_ids()) + 1))
    _figures_match_a_recount(window, truth)

    # Save, then read the file back: exactly the instances on screen.
    edited = layer.snapshot()
    path = window.saving.save(wait=True)
    assert path is not None
    assert read_tagged_instance_mask(path) == edited
    assert np.array_equal(read_instance_mask(path).ids, edited.ids)


def test_the_cut_tool_on_a_class_image_says_why_it_does_nothing(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    from segstudio.io.demo_dataset import write_demo_dataset

    folder = write_demo_dataset(tmp_path / "demo")
    open_and_wait(qtbot, window, folder)
    assert window.canvas.session.instances is None
    window.editing.set_tool(Tool.CUT)
    with qtbot.waitSignal(window.canvas.tool_refused) as refused:
        paint_stroke(qtbot, window, [(5, 5), (20, 20)])
    assert "splits instances" in refused.args[0]


def test_the_window_shows_the_datasets_mask_ap(qtbot, window: MainWindow, pennfudan_folder: Path) -> None:  # noqa: ANN001
    from segstudio.app.dataset_instance_ap import dataset_instance_scores
    from segstudio.app.project_predictions import app_predictions
    from segstudio.core.instances import InstanceMask
    from segstudio.io.datasets import open_dataset
    from segstudio.io.mask_files import write_instance_mask

    dataset = open_dataset(pennfudan_folder)
    for index, sample in enumerate(dataset.samples):  # a model's output: every person shifted, with scores
        truth = read_instance_mask(dataset.ground_truth(sample))
        ids = np.zeros_like(np.asarray(truth.ids))
        ids[:, 4 + 6 * index:] = np.asarray(truth.ids)[:, : ids.shape[1] - 4 - 6 * index]
        path = pennfudan_folder / "segstudio-predictions" / "mask_rcnn" / f"{sample.key}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_instance_mask(path, InstanceMask(ids, dict(truth.classes), {i: 0.9 - 0.1 * i for i in truth.instance_ids}))
    expected = dataset_instance_scores(dataset, app_predictions(dataset))
    assert expected is not None and len(expected.per_image) == 2
    with qtbot.waitSignal(window.scores.instances_scored, timeout=30000) as scored:
        open_and_wait(qtbot, window, pennfudan_folder)
    got = scored.args[0].scores
    assert (got.ap50, got.ap, got.matched_objects) == (expected.scores.ap50, expected.scores.ap, expected.scores.matched_objects)
    line = window.metrics_panel.instance_line
    assert line.isVisibleTo(window.metrics_panel)
    assert f"mask AP@0.5 {expected.scores.ap50:.4f}" in line.text() and "2 images" in line.text()
    assert "AP@[.5:.95]" in window.dataset_view.instance_summary.text()
    # The image opens as the model's instances, to be corrected.
    assert window.canvas.session.instances is not None
    assert window.canvas.session.instances.snapshot().scores is not None
