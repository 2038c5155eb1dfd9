"""Add class on a value-mapped data set (ISBI 2012): the dialog asks the stored value, refuses a taken one, and the
class painted and saved as ground truth reads back as itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from segstudio.app.class_edits import new_class_storage
from segstudio.core.value_map import ValueMap
from segstudio.io.datasets import open_dataset
from segstudio.io.mask_files import read_class_mask, read_raw_mask
from segstudio.io.project_file import read_project_file
from segstudio.ui.actions import Command
from segstudio.ui.add_class_dialog import AddClassDialog
from segstudio.ui.class_panel import ClassPanel


@pytest.fixture
def isbi_folder(shared_data: Path, tmp_path: Path) -> Path:
    """Two ISBI 2012 training slices and their masks, copied (a writable project)."""
    source = shared_data / "isbi2012" / "train"
    if not (source / "masks" / "0.png").is_file():
        pytest.skip(f"ISBI 2012 not found under {source}")
    root = tmp_path / "isbi"
    for folder in ("images", "masks"):
        (root / "train" / folder).mkdir(parents=True)
        for stem in ("0", "1"):
            shutil.copy(source / folder / f"{stem}.png", root / "train" / folder / f"{stem}.png")
    return root


def open_and_wait(qtbot, window, folder: Path) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder)


def test_add_paint_save_as_ground_truth_and_read_back(qtbot, window, isbi_folder: Path) -> None:
    open_and_wait(qtbot, window, isbi_folder)
    panel = window.class_panel
    seen: dict[str, object] = {}

    def answer_the_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, AddClassDialog)
        seen["proposed"] = dialog.value_edit.text()
        dialog.name_edit.setText("mitochondria")
        dialog.value_edit.setText("255")
        seen["taken"] = (dialog.problem_label.text(), dialog.ok_button.isEnabled())
        dialog.value_edit.setText("100")
        dialog.ok_button.click()

    QTimer.singleShot(0, answer_the_dialog)
    with qtbot.waitSignal(window.class_editing.status) as status:
        panel.add_button.click()
    assert status.args[0] == "added class 2 'mitochondria', stored as 100 in train/masks (recorded in segstudio.toml)"

    assert seen["proposed"] == "127"
    message, ok_enabled = seen["taken"]  # type: ignore[misc]
    assert "255 is taken: it stores class 0 (background) in train/masks" in message and not ok_enabled
    labels = window.dataset.spec.labels
    assert labels.names == ("background", "foreground", "mitochondria") and panel.selected == 2
    on_disk = read_project_file(window.dataset.project_file)
    assert on_disk.mask_sources[0].value_map == ValueMap.from_pairs({0: 1, 100: 2, 255: 0})

    session = window.canvas.session
    assert session.labels == labels
    session.begin_stroke()
    session.paint((200.0, 200.0), (260.0, 220.0), radius=12, value=2)
    session.end_stroke()
    working = session.mask.copy()
    assert (working == 2).sum() > 0
    with qtbot.waitSignal(window.saving.saved, timeout=10000) as saved:
        window.commands.action(Command.SAVE_AS_GROUND_TRUTH).trigger()  # non-interactive window: no question
    truth = Path(saved.args[1])
    raw = read_raw_mask(truth).values
    assert (raw[working == 2] == 100).all() and set(np.unique(raw).tolist()) == {0, 100, 255}
    reopened = open_dataset(isbi_folder)
    source = reopened.ground_truth_source(reopened.sample(window.current_key))
    assert np.array_equal(read_class_mask(truth, reopened.spec.labels, value_map=source.value_map), working)  # type: ignore[union-attr]


def test_the_dialog_refuses_a_taken_value_and_a_repeated_name(qtbot, isbi_folder: Path) -> None:
    spec = open_dataset(isbi_folder).spec
    dialog = AddClassDialog(spec.labels, new_class_storage(spec))
    qtbot.addWidget(dialog)
    assert dialog.value_edit.text() == "127" and dialog.ok_button.isEnabled() and dialog.answer() == ("class 2", 127)
    dialog.value_edit.setText("0")
    assert dialog.problem_label.text() == "0 is taken: it stores class 1 (foreground) in train/masks; pick a free value such as 127"
    assert not dialog.ok_button.isEnabled() and dialog.answer() is None
    dialog.value_edit.setText("300")
    assert "does not fit the ground truth's 8-bit masks (0..255)" in dialog.problem_label.text()
    dialog.value_edit.setText("mauve")
    assert "not a stored value" in dialog.problem_label.text()
    dialog.value_edit.setText("64")
    dialog.name_edit.setText("foreground")
    assert "already a class named 'foreground'" in dialog.problem_label.text() and not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("vesicle")
    assert dialog.ok_button.isEnabled() and dialog.answer() == ("vesicle", 64)


def test_the_panel_refuses_a_taken_value_and_changes_nothing(qtbot, isbi_folder: Path) -> None:
    spec = open_dataset(isbi_folder).spec
    panel = ClassPanel()
    qtbot.addWidget(panel)
    panel.set_labels(spec.labels)
    panel.set_new_class_storage(new_class_storage(spec))
    with qtbot.assertNotEmitted(panel.labels_changed), qtbot.assertNotEmitted(panel.class_added):
        with pytest.raises(ValueError, match="cannot store class 2 that way: 255 is taken"):
            panel.add_class("mitochondria", stored_value=255)
    assert panel.labels == spec.labels and panel.list.count() == 2
    with qtbot.waitSignal(panel.class_added) as added:
        panel.add_class("mitochondria")  # no value given: the proposed one
    assert added.args[1] == 127


def test_class_id_data_sets_ask_only_a_name(qtbot, window, camvid_folder: Path) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    assert window.class_panel.new_class_storage() is None
    before = window.dataset.spec.mask_sources
    window.class_panel.add_class("lamp post")
    assert window.dataset.spec.labels.names[-1] == "lamp post" and window.dataset.spec.mask_sources == before


def test_a_class_that_cannot_be_added_is_explained_not_crashed(qtbot) -> None:
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    from segstudio.core.labels import LabelSet

    panel = ClassPanel()
    qtbot.addWidget(panel)
    labels = LabelSet.camvid()  # ids 0..10, ignore id 11: the next class would be the ignore id
    panel.set_labels(labels)
    told: list[str] = []

    def answer_dialogs() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QInputDialog):
            dialog.setTextValue("lamp post")
            dialog.accept()
            QTimer.singleShot(0, answer_dialogs)
        elif isinstance(dialog, QMessageBox):
            told.append(dialog.text())
            dialog.accept()
        else:
            QTimer.singleShot(10, answer_dialogs)

    QTimer.singleShot(0, answer_dialogs)
    with qtbot.assertNotEmitted(panel.labels_changed):
        panel.add_button.click()
    assert told and told[0].startswith("Cannot add a class: its id 11 is the ignore id")
    assert panel.labels == labels
