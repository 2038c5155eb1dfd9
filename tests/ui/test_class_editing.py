"""Class panel editing (add, rename, recolour -> LabelSet, palette, project file) and the instance list."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.io.datasets import open_dataset
from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.io.mask_files import read_instance_mask
from segstudio.io.project_file import read_project_file
from segstudio.ui.canvas import Canvas
from segstudio.ui.class_editing import ClassEditingController
from segstudio.ui.class_panel import ClassPanel
from segstudio.ui.docks import Panel
from segstudio.ui.saving import SaveController
from segstudio.ui.workers import WorkerPool


def open_and_wait(qtbot, window, folder: Path, image: str | None = None) -> None:
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder, image=image)


def test_relabel_adds_classes_without_shifting_ids() -> None:
    labels = LabelSet.with_count(3)
    truth = np.zeros((8, 8), np.uint8)
    truth[:4] = 1
    session = ImageSession.start(np.zeros((8, 8), np.uint8), labels, ground_truth=truth)
    session.relabel(labels.renamed(1, "road").with_class("sky", (1, 2, 3)))
    assert session.labels.names[1] == "road" and session.labels.num_classes == 4
    session.paint((2, 6), (2, 6), radius=1, value=3)  # the new class can be painted
    assert (session.mask == 3).any()
    scores = session.scores_vs_truth()  # the running scores grew a row and a column for the new class
    assert scores is not None and scores.num_classes == 4
    expected = np.bincount(truth.ravel() * 4 + session.mask.ravel(), minlength=16).reshape(4, 4)
    np.testing.assert_array_equal(scores.confusion, expected)
    assert scores.confusion[0, 3] == (session.mask == 3).sum() > 0  # the new class, painted over background
    with pytest.raises(ValueError):
        session.relabel(LabelSet.with_count(2))  # removing a class would shift nothing but lose one


def test_panel_edits_emit_new_label_sets(qtbot) -> None:
    panel = ClassPanel()
    qtbot.addWidget(panel)
    panel.set_labels(LabelSet.with_count(3))
    seen: list[LabelSet] = []
    panel.labels_changed.connect(seen.append)
    added = panel.add_class("sky")
    assert added.num_classes == 4 and added.names[3] == "sky" and panel.list.count() == 4
    panel.rename_class(1, "road")
    panel.recolour_class(2, (10, 20, 30))
    assert [s.num_classes for s in seen] == [4, 4, 4]
    assert seen[-1].names[1] == "road" and tuple(seen[-1].colours[2]) == (10, 20, 30)
    # The dialog paths, answered by the overridable hooks.
    panel._ask_name = lambda _title, _current: "tree"  # type: ignore[method-assign]
    panel._ask_colour = lambda _current: (200, 100, 0)  # type: ignore[method-assign]
    panel.ask_rename(3)
    panel.ask_colour(3)
    assert panel.labels is not None and panel.labels.names[3] == "tree"
    assert tuple(panel.labels.colours[3]) == (200, 100, 0)


def test_the_panel_refuses_a_colour_another_class_or_the_ignore_id_has(qtbot) -> None:  # noqa: ANN001
    """Two classes of one colour (or a class in the ignore id's colour) could not be told apart in a colour mask,
    nor on screen; the project file would keep it. Refused with the reason, nothing changed."""
    from segstudio.core.labels import IGNORE_COLOUR

    panel = ClassPanel()
    qtbot.addWidget(panel)
    camvid = LabelSet.camvid()  # ignore id 11, "Unlabelled"
    panel.set_labels(camvid)
    seen: list[LabelSet] = []
    panel.labels_changed.connect(seen.append)
    with pytest.raises(ValueError, match="#e0e0c0 is the colour of the ignore id 11 \\('Unlabelled'\\)"):
        panel.recolour_class(3, IGNORE_COLOUR)
    with pytest.raises(ValueError, match="is the colour of class 'Sky' \\(id 0\\)"):
        panel.recolour_class(3, tuple(camvid.colours[0]))
    refusals: list[tuple[str, str]] = []
    panel._refused = lambda message, title="Add class": refusals.append((title, message))  # type: ignore[method-assign]
    panel._ask_colour = lambda _current: IGNORE_COLOUR  # type: ignore[method-assign]
    panel.ask_colour(3)
    assert refusals and refusals[0][0] == "Class colour" and "ignore id" in refusals[0][1]
    assert seen == [] and panel.labels == camvid
    panel.recolour_class(3, tuple(camvid.colours[3]))  # its own colour again is no clash
    no_ignore = LabelSet.from_names(["a", "b"])
    panel.set_labels(no_ignore)
    assert tuple(panel.recolour_class(1, IGNORE_COLOUR).colours[1]) == IGNORE_COLOUR  # nothing drawn in it


def test_window_applies_class_edits_to_session_palette_and_project_file(qtbot, window, camvid_folder: Path) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    panel, canvas = window.class_panel, window.canvas
    before = window.dataset.spec.labels
    panel.add_class("new thing", (1, 254, 3))
    panel.rename_class(1, "renamed class")
    panel.recolour_class(2, (12, 34, 56))
    labels = window.dataset.spec.labels
    assert labels.num_classes == before.num_classes + 1
    assert labels.names[1] == "renamed class" and tuple(labels.colours[2]) == (12, 34, 56)
    assert canvas.session.labels == labels
    new_id = before.num_classes
    assert tuple(canvas.palettes.classes[new_id, :3]) == (1, 254, 3)
    assert tuple(canvas.palettes.classes[2, :3]) == (12, 34, 56)
    on_disk = read_project_file(window.dataset.project_file).labels
    assert on_disk == labels
    # The new class can be painted, and shows in its colour on the canvas.
    canvas.tools.value = new_id
    session = canvas.session
    session.paint((100, 100), (100, 100), radius=20, value=new_id)
    assert (session.mask == new_id).sum() > 0


def controller_on(qtbot, folder: Path, pool, *, holder: SaveController | None = None):  # noqa: ANN001, ANN201
    """A ClassEditingController on ``folder`` with its own panel, canvas and save controller (read-only when
    ``holder`` already holds the folder)."""
    dataset = open_dataset(folder)
    panel, canvas = ClassPanel(), Canvas()
    qtbot.addWidget(panel)
    qtbot.addWidget(canvas)
    saving = SaveController(pool, interactive=False)
    saving.open_dataset(dataset)
    controller = ClassEditingController(panel, canvas, saving)
    controller.open_dataset(dataset)
    panel.set_labels(dataset.spec.labels)
    return controller, panel, saving, dataset


def test_controller_writes_the_project_file_and_hands_on_the_dataset(qtbot, tmp_path: Path) -> None:
    pool = WorkerPool()
    controller, panel, saving, dataset = controller_on(qtbot, write_demo_dataset(tmp_path / "demo", count=1), pool)
    with qtbot.waitSignal(controller.dataset_changed) as changed, qtbot.assertNotEmitted(controller.session_relabelled):
        panel.add_class("sky", (10, 20, 250))  # no image on screen: only the folder changes
    labels = changed.args[0].spec.labels
    assert labels.names[-1] == "sky" and labels.num_classes == dataset.spec.labels.num_classes + 1
    assert read_project_file(dataset.project_file).labels == labels
    saving.release_lock()
    pool.shutdown(5000)


def test_a_read_only_window_refuses_class_edits(qtbot, tmp_path: Path) -> None:
    pool = WorkerPool()
    folder = write_demo_dataset(tmp_path / "demo", count=1)
    holder = SaveController(pool, interactive=False)
    holder.open_dataset(open_dataset(folder))
    controller, panel, _saving, dataset = controller_on(qtbot, folder, pool)
    with qtbot.waitSignal(controller.status) as refused, qtbot.assertNotEmitted(controller.dataset_changed):
        panel.add_class("sky")
    assert "read-only" in refused.args[0]
    assert panel.labels == dataset.spec.labels  # the panel shows the classes as they are
    assert read_project_file(dataset.project_file).labels == dataset.spec.labels
    holder.release_lock()
    pool.shutdown(5000)


PENN_FUDAN_SINGLE = "FudanPed00003"  # one pedestrian
PENN_FUDAN_MULTI = "FudanPed00004"  # two pedestrians


@pytest.fixture
def pennfudan_folder(shared_data: Path, tmp_path: Path) -> Path:
    source = shared_data / "pennfudan"
    root = tmp_path / "pennfudan-mini"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for name in (PENN_FUDAN_SINGLE, PENN_FUDAN_MULTI):
        if not (source / "PNGImages" / f"{name}.png").is_file():
            pytest.skip(f"Penn-Fudan image {name} not found under {source}")
        shutil.copy(source / "PNGImages" / f"{name}.png", root / "PNGImages" / f"{name}.png")
        shutil.copy(source / "PedMasks" / f"{name}_mask.png", root / "PedMasks" / f"{name}_mask.png")
    return root


def test_instance_list_and_highlight_on_a_penn_fudan_mask(qtbot, window, pennfudan_folder: Path) -> None:
    # In the window a Penn-Fudan image is corrected as instances: the Instances panel lists them (editable), the
    # Classes panel's read-only list stays hidden.
    open_and_wait(qtbot, window, pennfudan_folder, image=PENN_FUDAN_SINGLE)
    panel = window.class_panel
    assert not panel.instances.isVisibleTo(panel)
    truth = read_instance_mask(pennfudan_folder / "PedMasks" / f"{PENN_FUDAN_SINGLE}_mask.png")
    window.instance_editing.refresh()
    name = window.dataset.spec.labels.name_of(1)
    assert window.instance_panel.rows() == [("1", name, "", "1.00", "#1")]
    assert window.docks.dock(Panel.INSTANCES).isVisibleTo(window)
    assert window.canvas.instance_colour(1) is not None
    assert truth.num_instances == 1

    # The panel on its own, with the two-pedestrian mask read as instances.
    instances = read_instance_mask(pennfudan_folder / "PedMasks" / f"{PENN_FUDAN_MULTI}_mask.png")
    other = ClassPanel()
    qtbot.addWidget(other)
    other.set_labels(LabelSet.from_names(["background", "person"]))
    other.set_instances(instances)
    ids = np.asarray(instances.ids)
    assert other.instance_rows() == [(1, 1, int((ids == 1).sum())), (2, 1, int((ids == 2).sum()))]
    assert "person" in other.instances.item(1).text()
    picked: list[int] = []
    other.instance_selected.connect(picked.append)
    other.select_instance(2)
    assert picked == [2]
    other.set_instances(None)
    assert not other.instances.isVisibleTo(other)
