"""The file list sorts itself (in Python, stable, n/a scores last) and filters by name; its flags (ground truth,
prediction, corrected) come from one listing of the folders, and match the per-sample answers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import Qt

from segstudio.io.datasets import open_dataset
from segstudio.ui.file_list import DICE_COLUMN, IOU_COLUMN, FileList


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
        assert model.data(model.index(row, 4)) == ("yes" if dataset.correction_path(sample).is_file() else "")
    # A save marks the row; a reopen reads the flag back from disk.
    other = dataset.samples[7]
    model.set_corrected(other.key)
    assert model.data(model.index(model.row_of(other.key), 4)) == "yes"
    cv2.imwrite(str(dataset.correction_path(other)), np.zeros((16, 16), np.uint8))
    files.set_dataset(open_dataset(dataset.root))
    assert {k for k in (corrected.key, other.key) if model.data(model.index(model.row_of(k), 4)) == "yes"} == {
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
