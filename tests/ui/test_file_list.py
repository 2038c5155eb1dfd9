"""The file list sorts itself (in Python, stable, n/a scores last) and filters by name; its flags (ground truth,
prediction, corrected) come from one listing of the folders, and match the per-sample answers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from segstudio.io.datasets import open_dataset
from segstudio.ui.file_list import FileList
from segstudio.ui.sample_table import (
    DICE_COLUMN,
    EDITED_MARK,
    IOU_COLUMN,
    NAME_COLUMN,
    SAVED_MARK,
    SPLIT_COLUMN,
    STATUS_COLUMN,
)

TO_DO_MARK = "○"


def small_dataset(root: Path, count: int = 12) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(count):
        name = f"img_{index:03d}.png"
        cv2.imwrite(str(root / "images" / name), np.full((16, 16, 3), index * 10, np.uint8))
        if index % 3 == 0:
            mask = np.zeros((16, 16), np.uint8)
            mask[4:10, 4:10] = 1
            cv2.imwrite(str(root / "masks" / name), mask)
    return root


def shown_keys(files: FileList) -> list[str]:
    proxy = files.proxy
    return [files.model.key_at(proxy.mapToSource(proxy.index(row, 0)).row()) for row in range(proxy.rowCount())]


def test_rows_flags_match_the_dataset(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dataset = open_dataset(small_dataset(tmp_path / "data"))
    corrected = dataset.samples[4]
    path = dataset.correction_path(corrected)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((16, 16), np.uint8))
    assert dataset.corrected_keys() == {corrected.key}
    files = FileList()
    qtbot.addWidget(files)
    files.set_dataset(dataset)
    model = files.model
    for sample in dataset.samples:
        row = model.row_of(sample.key)
        assert model.key_at(row) == sample.key
        assert model.data(model.index(row, 2)) == ("yes" if dataset.ground_truth(sample) is not None else "")
        assert dataset.has_prediction(sample) == bool(dataset.predictions(sample))
        assert dataset.ground_truth_source(sample) == dataset.spec.ground_truth_for(sample.key.rpartition("/")[0] or ".")
        saved = dataset.correction_path(sample).is_file()
        assert model.data(model.index(row, STATUS_COLUMN)) == (SAVED_MARK if saved else TO_DO_MARK)
    # A save marks the row; a reopen reads the flag back from disk.
    other = dataset.samples[7]
    model.set_corrected(other.key)
    assert model.data(model.index(model.row_of(other.key), STATUS_COLUMN)) == SAVED_MARK
    cv2.imwrite(str(dataset.correction_path(other)), np.zeros((16, 16), np.uint8))
    files.set_dataset(open_dataset(dataset.root))
    marks = {k: model.data(model.index(model.row_of(k), STATUS_COLUMN)) for k in (corrected.key, other.key)}
    assert {k for k, mark in marks.items() if mark == SAVED_MARK} == {
        corrected.key, other.key}


def test_corrected_keys_in_subfolders(tmp_path: Path) -> None:
    dataset = open_dataset(small_dataset(tmp_path / "data", 3))
    key = dataset.samples[1].key
    assert "/" in key  # images/img_001
    path = dataset.correction_path(dataset.samples[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    (path.parent / "notes.txt").write_text("not a mask")
    assert dataset.corrected_keys() == {key}


def test_sorting_is_stable_and_puts_na_last(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dataset = open_dataset(small_dataset(tmp_path / "data"))
    files = FileList()
    qtbot.addWidget(files)
    files.set_dataset(dataset)
    keys = [s.key for s in dataset.samples]
    assert shown_keys(files) == sorted(keys, key=lambda k: k.rpartition("/")[2])
    scores = {k: (None, None) if i % 4 == 0 else ((i % 3) / 10, (i % 5) / 10) for i, k in enumerate(keys)}
    files.model.set_scores(scores)

    def expected(slot: int, descending: bool) -> list[str]:
        value = {k: 2.0 if v[slot] is None else v[slot] for k, v in scores.items()}
        return sorted(keys, key=lambda k: value[k], reverse=descending)  # stable: ties in the dataset's order

    for column, slot in ((IOU_COLUMN, 0), (DICE_COLUMN, 1)):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            files.view.sortByColumn(column, order)
            assert shown_keys(files) == expected(slot, order == Qt.SortOrder.DescendingOrder)
    # Sorted by IoU, a new score moves its row.
    files.view.sortByColumn(IOU_COLUMN, Qt.SortOrder.AscendingOrder)
    files.model.set_score(keys[5], 0.0, 0.0)
    scores[keys[5]] = (0.0, 0.0)
    assert shown_keys(files) == expected(0, False)
    # Sorted by "GT": with truth first when descending, ties in dataset order.
    files.view.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    truth = [k for k in keys if dataset.ground_truth(dataset.sample(k)) is not None]
    assert shown_keys(files) == truth + [k for k in keys if k not in truth]
    # The current row follows its image through a re-sort.
    files.select_key(keys[6])
    files.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert files.current_key() == keys[6]
    assert shown_keys(files) == sorted(keys, reverse=True)


def test_filter_by_name(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dataset = open_dataset(small_dataset(tmp_path / "data"))
    files = FileList()
    qtbot.addWidget(files)
    files.set_dataset(dataset)
    files.filter.setText("IMG_01")
    assert shown_keys(files) == ["images/img_010", "images/img_011"]
    files.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert shown_keys(files) == ["images/img_011", "images/img_010"]
    files.filter.setText("")
    assert len(shown_keys(files)) == len(dataset.samples)


# -- issue 10 item 5: same names across splits, natural order -----------------------------------------------------


def test_natural_key_orders_numbers_by_value_and_mixed_names_stably() -> None:
    from segstudio.core.natural_order import natural_key

    names = ["10", "2", "img10", "IMG9", "img9b", "img9", "a2", "a02", "b", "1a", "a1", "", "x-1.5", "x-1.10"]
    expected = ["", "1a", "2", "10", "a1", "a02", "a2", "b", "IMG9", "img9", "img9b", "img10", "x-1.5", "x-1.10"]
    assert sorted(names, key=natural_key) == expected
    assert sorted(reversed(names), key=natural_key) == expected  # one order whatever the input order


def test_isbi_lists_its_splits_and_sorts_names_naturally(qtbot, shared_data: Path) -> None:  # noqa: ANN001
    from segstudio.app.project import open_project

    source = shared_data / "isbi2012"
    if not (source / "train" / "images").is_dir():
        pytest.skip(f"ISBI 2012 not found under {source}")
    files = FileList()
    qtbot.addWidget(files)
    files.set_dataset(open_project(source).dataset)
    assert not files.view.isColumnHidden(SPLIT_COLUMN)  # train and test: the split is shown
    model = files.model

    def cell(key: str, column: int) -> str:
        return model.data(model.index(model.row_of(key), column))

    shown = [(cell(key, NAME_COLUMN), cell(key, SPLIT_COLUMN)) for key in shown_keys(files)]
    assert shown[:6] == [("0", "test"), ("0", "train"), ("1", "test"), ("1", "train"), ("2", "test"), ("2", "train")]
    names = [name for name, _split in shown]
    assert names.index("10") > names.index("9")  # 2 before 10
    # Sorted by split, each split's names stay in natural order.
    files.view.sortByColumn(SPLIT_COLUMN, Qt.SortOrder.AscendingOrder)
    shown = [(cell(key, SPLIT_COLUMN), cell(key, NAME_COLUMN)) for key in shown_keys(files)]
    train = [name for split, name in shown if split == "train"]
    assert [split for split, _ in shown] == sorted(split for split, _ in shown)
    assert train == [str(n) for n in range(len(train))]


def test_one_split_hides_the_split_column(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    files = FileList()
    qtbot.addWidget(files)
    files.set_dataset(open_dataset(small_dataset(tmp_path / "data", 3)))
    assert files.view.isColumnHidden(SPLIT_COLUMN)


def test_numbered_names_sort_naturally(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    for name in ("slice_2", "slice_10", "slice_1", "Slice_3"):
        cv2.imwrite(str(root / "images" / f"{name}.png"), np.zeros((8, 8, 3), np.uint8))
    files = FileList()
    qtbot.addWidget(files)
    files.set_dataset(open_dataset(root))
    assert [key.rpartition("/")[2] for key in shown_keys(files)] == ["slice_1", "slice_2", "Slice_3", "slice_10"]
    files.view.sortByColumn(NAME_COLUMN, Qt.SortOrder.DescendingOrder)
    assert [key.rpartition("/")[2] for key in shown_keys(files)] == ["slice_10", "Slice_3", "slice_2", "slice_1"]


# -- issue 10 items 2 and 8: what the scores are of, unsaved work -------------------------------------------------


def test_edited_mark_wins_over_saved_and_sorts_first(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dataset = open_dataset(small_dataset(tmp_path / "data", 4))
    files = FileList()
    qtbot.addWidget(files)
    files.set_dataset(dataset)
    model = files.model
    keys = [s.key for s in dataset.samples]

    def mark(key: str) -> str:
        return model.data(model.index(model.row_of(key), STATUS_COLUMN))

    model.set_corrected(keys[1])
    model.set_unsaved(keys[2], True)
    model.set_unsaved(keys[1], True)
    assert [mark(k) for k in keys] == [TO_DO_MARK, EDITED_MARK, EDITED_MARK, TO_DO_MARK]
    assert "not saved" in model.data(model.index(model.row_of(keys[2]), STATUS_COLUMN), Qt.ItemDataRole.ToolTipRole)
    model.set_unsaved(keys[1], False)  # saved
    assert [mark(k) for k in keys] == [TO_DO_MARK, SAVED_MARK, EDITED_MARK, TO_DO_MARK]
    files.view.sortByColumn(STATUS_COLUMN, Qt.SortOrder.DescendingOrder)
    assert shown_keys(files)[:2] == [keys[2], keys[1]]


def test_the_scores_say_what_they_are_of(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dataset = open_dataset(small_dataset(tmp_path / "data", 2))
    files = FileList()
    qtbot.addWidget(files)
    files.show()
    files.set_dataset(dataset)
    assert not files.score_source.isVisible()
    key = dataset.samples[0].key
    files.model.set_score(key, 0.5, 0.6)
    files.model.set_score_source("model demo-model", {key: "model demo-model"})
    assert files.score_source.isVisible() and files.score_source.text() == "IoU/Dice: model demo-model vs ground truth"
    tip = files.model.headerData(IOU_COLUMN, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "model demo-model" in tip and "mean IoU" in tip
    cell_tip = files.model.data(files.model.index(files.model.row_of(key), DICE_COLUMN), Qt.ItemDataRole.ToolTipRole)
    assert cell_tip == "model demo-model against the ground truth"
    files.model.set_scored_count(0)  # nothing could be scored: the list says why every score is n/a
    assert files.score_source.text() == "IoU/Dice: n/a, no image has both ground truth and a prediction"
    files.set_dataset(dataset)  # another folder: nothing said until it is scored
    assert not files.score_source.isVisible()
