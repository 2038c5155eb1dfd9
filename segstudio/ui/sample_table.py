"""The rows of the file list: one per image of the open dataset, with its name, split, whether it has ground truth
and a prediction, its review status, the mean IoU / Dice of its prediction against the ground truth, and how much of
the model's mask its labeler fixed.

Names sort naturally (``2`` before ``10``, :func:`segstudio.core.natural_order.natural_key`); ties keep that order
(name, then split, then the dataset's order), so train and test images of the same name always come in the same
order. The status column says "● edited" while an image holds unsaved work (this run's, or recovered from an
autosave), else its review status (:class:`~segstudio.core.review.ReviewStatus`; an image with a saved correction
and no status is "corrected"). The scores say what they are of
(:meth:`SampleTableModel.set_score_source`): the model that predicted the image, or the dataset's prediction folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QWidget

from segstudio.app.model_comparison import ComparisonResult
from segstudio.core.natural_order import natural_key
from segstudio.core.review import CorrectionEffort, ReviewStatus
from segstudio.io.datasets import Dataset
from segstudio.ui.sample_cells import (  # noqa: F401 (the marks are the table's names for tests and the list)
    COMMENT_MARK,
    EDITED_MARK,
    SAVED_MARK,
    STATUS_MARKS,
    class_iou_cell,
    effort_cell,
    gain_cell,
    share_cell,
    status_cell,
)
from segstudio.ui.thumbnails import Thumbnails

HEADERS = ("name", "split", "GT", "prediction", "", "IoU", "Dice", "fixed", "errors", "class IoU", "Δ IoU",
           "uncertain")  # "": status
NAME_COLUMN, SPLIT_COLUMN, STATUS_COLUMN, IOU_COLUMN, DICE_COLUMN, FIXED_COLUMN = 0, 1, 4, 5, 6, 7
ERRORS_COLUMN, CLASS_IOU_COLUMN, GAIN_COLUMN, UNCERTAIN_COLUMN = 8, 9, 10, 11
GT_COLUMN, PREDICTION_COLUMN = 2, 3
HEADER_TIPS = {
    "split": "the part of the dataset this image belongs to (train, val, test...)",
    "GT": "the image has a ground-truth mask",
    "prediction": "the image has a prediction (from a prediction folder or a model)",
    "": "review status: ○ to do, ◐ in progress, ◆ corrected, ✓ accepted, ✗ rejected; ● edited, not saved yet; "
        "✎ has a comment",
    "fixed": "share of the image the labeler changed from the model's prediction, measured when it was accepted",
    "errors": "share of the scored pixels where the prediction disagrees with the ground truth",
    "uncertain": "share of the image the model was unsure of (the probability of the class it gave below the Model "
                 "panel's certainty threshold), from this run's predictions: sort descending to review those first",
}

_MISSING_SORT = 2.0  # n/a sorts after every score (scores are 0..1)
_Index = QModelIndex | QPersistentModelIndex
_Row = tuple[str, str, str, bool, bool, bool]  # key, name, split, ground truth, prediction, corrected


class SampleTableModel(QAbstractTableModel):
    """One row per sample of a dataset. ``corrected`` is read once when the dataset is set and updated by
    :meth:`set_corrected` (after a save), never by polling the disk; :meth:`set_unsaved` marks unsaved work.

    The model sorts itself (:meth:`sort`, in Python over a key per row): its rows are kept in the shown order, so
    the proxy in front of it only filters, and a reset costs no per-row calls from Qt."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._scores: dict[str, tuple[float | None, float | None]] = {}  # key -> model vs truth (IoU, Dice)
        self._unsaved: set[str] = set()
        self._statuses: dict[str, ReviewStatus] = {}  # set by the review; else derived from "corrected"
        self._comments: dict[str, str] = {}
        self._efforts: dict[str, CorrectionEffort] = {}
        # Per image, from its confusion matrix: IoU of every class (NaN: n/a) and the share of pixels in error.
        self._class_iou: dict[str, np.ndarray] = {}
        self._errors: dict[str, float] = {}
        self._uncertain: dict[str, float] = {}  # key -> share of the image the model was unsure of (this run)
        self._class_names: tuple[str, ...] = ()
        self.chosen_class: int | None = None  # whose IoU the "class IoU" column shows
        self._comparison: ComparisonResult | None = None  # the shown predictions against another set
        self._score_source = ""  # what the scores are of, for the whole list
        self._score_sources: dict[str, str] = {}  # key -> what its scores are of
        self._scored_count: int | None = None
        self.thumbnails: Thumbnails | None = None
        self._row_index: dict[str, int] = {}
        self._base_order: dict[str, int] = {}  # key -> position in the natural order of keys (ties keep it)
        self._natural: dict[str, object] = {}  # name or split -> its natural sort key
        self._sort_column = 0
        self._sort_order = Qt.SortOrder.AscendingOrder

    def set_dataset(self, dataset: Dataset | None) -> None:
        self.beginResetModel()
        self._rows = []
        self._scores = {}
        self._unsaved = set()
        self._statuses, self._comments, self._efforts = {}, {}, {}
        self._class_iou, self._errors, self._uncertain = {}, {}, {}
        self._comparison = None
        self._class_names = () if dataset is None else dataset.spec.labels.names
        self.chosen_class = None
        self._score_source, self._score_sources, self._scored_count = "", {}, None
        if dataset is not None:
            corrected = dataset.corrected_keys()
            ground_truth, has_prediction = dataset.ground_truth, dataset.has_prediction
            self._rows = [
                (sample.key, sample.name, sample.split, ground_truth(sample) is not None, has_prediction(sample),
                 sample.key in corrected)
                for sample in dataset.samples
            ]
        # Each name's and split's natural key once, not at every re-sort (a score arriving re-sorts a list sorted
        # by IoU). The order ties keep: by name, then split, then the dataset's order.
        natural = self._natural = {text: natural_key(text) for entry in self._rows for text in entry[1:3]}
        rows = self._rows
        ordered = sorted(range(len(rows)), key=lambda at: (natural[rows[at][1]], natural[rows[at][2]], at))
        self._base_order = {rows[at][0]: position for position, at in enumerate(ordered)}
        self._rows = self._sorted(self._rows)
        self._reindex()
        self.endResetModel()

    def splits(self) -> list[str]:
        """The dataset's splits that have images, in natural order."""
        return sorted({entry[2] for entry in self._rows}, key=natural_key)

    def _reindex(self) -> None:
        self._row_index = {entry[0]: row for row, entry in enumerate(self._rows)}

    def _key_of(self, column: int) -> Callable[[_Row], Any]:
        """The function giving a row's sort value in ``column``: n/a scores after every score."""
        if column == ERRORS_COLUMN:
            errors = self._errors
            return lambda entry: errors.get(entry[0], _MISSING_SORT)
        if column == UNCERTAIN_COLUMN:
            uncertain = self._uncertain
            return lambda entry: uncertain.get(entry[0], -1.0)  # n/a last when sorted descending
        if column == GAIN_COLUMN:
            def gain(entry: _Row) -> float:
                value = self.iou_gain(entry[0])
                return _MISSING_SORT if value is None else value
            return gain
        if column == CLASS_IOU_COLUMN:
            return lambda entry: _MISSING_SORT if (value := self.class_iou(entry[0])) is None else value
        if column == FIXED_COLUMN:
            efforts = self._efforts
            return lambda entry: efforts[entry[0]].changed_fraction if entry[0] in efforts else _MISSING_SORT
        if column >= IOU_COLUMN:
            scores, slot = self._scores, column - IOU_COLUMN

            def score(entry: _Row) -> float:
                value = scores.get(entry[0], (None, None))[slot]
                return _MISSING_SORT if value is None else float(value)
            return score
        if column == STATUS_COLUMN:
            unsaved, order = self._unsaved, {status: rank for rank, status in enumerate(ReviewStatus)}
            return lambda entry: len(order) if entry[0] in unsaved else order[self.status(entry[0])]
        if column in (NAME_COLUMN, SPLIT_COLUMN):
            natural = self._natural
            return lambda entry: natural[entry[column + 1]]
        return lambda entry: entry[column + 1]

    def _sorted(self, rows: list[_Row]) -> list[_Row]:
        column, order = self._sort_column, self._sort_order
        if column < 0 or not rows:
            return rows
        position = self._base_order
        rows = sorted(rows, key=lambda entry: position.get(entry[0], 0))  # ties stay in the natural order
        return sorted(rows, key=self._key_of(column), reverse=order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by ``column``, stable: equal rows keep the natural order (name, split)."""
        self._sort_column, self._sort_order = column, order
        self._resort()

    def sort_column(self) -> int:
        return self._sort_column

    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def _resort(self) -> None:
        if self._sort_column < 0 or not self._rows:
            return
        rows = self._sorted(self._rows)
        if rows == self._rows:
            return
        self.layoutAboutToBeChanged.emit()
        old_keys = [entry[0] for entry in self._rows]
        self._rows = rows
        self._reindex()
        persistent = self.persistentIndexList()
        if persistent:
            new_indexes = []
            for index in persistent:
                row = self._row_index.get(old_keys[index.row()], -1) if 0 <= index.row() < len(old_keys) else -1
                new_indexes.append(self.index(row, index.column()) if row >= 0 else QModelIndex())
            self.changePersistentIndexList(persistent, new_indexes)
        self.layoutChanged.emit()

    def key_at(self, row: int) -> str:
        return self._rows[row][0]

    def row_of(self, key: str) -> int:
        return self._row_index.get(key, -1)

    def _changed(self, row: int, column: int) -> None:
        index = self.index(row, column)
        self.dataChanged.emit(index, index)
        if self._sort_column == column:
            self._resort()

    def set_corrected(self, key: str, corrected: bool = True) -> None:
        row = self.row_of(key)
        if row >= 0:
            entry = self._rows[row]
            self._rows[row] = (*entry[:5], corrected)
            self._changed(row, STATUS_COLUMN)

    def set_unsaved(self, key: str, unsaved: bool) -> None:
        """Mark image ``key`` as holding unsaved work ("● edited") or not."""
        row = self.row_of(key)
        if row >= 0 and (key in self._unsaved) != unsaved:
            (self._unsaved.add if unsaved else self._unsaved.discard)(key)
            self._changed(row, STATUS_COLUMN)

    def is_unsaved(self, key: str) -> bool:
        return key in self._unsaved

    def status(self, key: str) -> ReviewStatus:
        """The review status the row shows (without the unsaved mark)."""
        status = self._statuses.get(key)
        if status is not None:
            return status
        row = self._row_index.get(key, -1)
        return ReviewStatus.CORRECTED if row >= 0 and self._rows[row][5] else ReviewStatus.TO_DO

    def set_review(self, statuses: Mapping[str, ReviewStatus], comments: Mapping[str, str] | None = None,
                   efforts: Mapping[str, CorrectionEffort | None] | None = None) -> None:
        """Statuses (and comments, efforts) of some images: one change signal over the rows touched, one re-sort."""
        rows = [self._row_index[key] for key in statuses if key in self._row_index]
        for key, status in statuses.items():
            self._statuses[key] = status
        for key, comment in (comments or {}).items():
            if comment:
                self._comments[key] = comment
            else:
                self._comments.pop(key, None)
        for key, effort in (efforts or {}).items():
            if effort is None:
                self._efforts.pop(key, None)
            else:
                self._efforts[key] = effort
        if not rows:
            return
        self.dataChanged.emit(self.index(min(rows), STATUS_COLUMN), self.index(max(rows), FIXED_COLUMN))
        if self._sort_column in (STATUS_COLUMN, FIXED_COLUMN):
            self._resort()

    def set_confusions(self, confusions: Mapping[str, np.ndarray | None]) -> None:
        """Every image's confusion matrix (rows truth, columns prediction; None: not scored): its per-class IoU and
        its share of pixels in error, for the class filter and the "errors" and "class IoU" columns."""
        self._class_iou, self._errors = {}, {}
        for key, confusion in confusions.items():
            if confusion is None:
                continue
            counts = np.asarray(confusion, dtype=np.float64)
            overlap = np.diag(counts)
            union = counts.sum(axis=0) + counts.sum(axis=1) - overlap
            with np.errstate(invalid="ignore", divide="ignore"):
                self._class_iou[key] = np.where(union > 0, overlap / union, np.nan)
            total = counts.sum()
            self._errors[key] = float((total - overlap.sum()) / total) if total else 0.0
        if self._rows:
            self.dataChanged.emit(self.index(0, ERRORS_COLUMN), self.index(len(self._rows) - 1, CLASS_IOU_COLUMN))
            if self._sort_column in (ERRORS_COLUMN, CLASS_IOU_COLUMN):
                self._resort()

    def class_iou(self, key: str, class_id: int | None = None) -> float | None:
        """The IoU of ``class_id`` (default: the chosen class) on image ``key``; None when n/a or not scored."""
        class_id = self.chosen_class if class_id is None else class_id
        values = self._class_iou.get(key)
        if class_id is None or values is None or not 0 <= class_id < len(values) or np.isnan(values[class_id]):
            return None
        return float(values[class_id])

    def error_share(self, key: str) -> float | None:
        return self._errors.get(key)

    def choose_class(self, class_id: int | None) -> None:
        """Show ``class_id``'s IoU in the "class IoU" column (None: no class)."""
        self.chosen_class = class_id
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, CLASS_IOU_COLUMN, CLASS_IOU_COLUMN)
        if self._rows:
            self.dataChanged.emit(self.index(0, CLASS_IOU_COLUMN), self.index(len(self._rows) - 1, CLASS_IOU_COLUMN))
            if self._sort_column == CLASS_IOU_COLUMN:
                self._resort()

    def set_comparison(self, comparison: ComparisonResult | None) -> None:
        """The shown predictions compared with another set (None: no comparison): the "Δ IoU" column."""
        self._comparison = comparison
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, GAIN_COLUMN, GAIN_COLUMN)
        if self._rows:
            self.dataChanged.emit(self.index(0, GAIN_COLUMN), self.index(len(self._rows) - 1, GAIN_COLUMN))
            if self._sort_column == GAIN_COLUMN:
                self._resort()

    @property
    def comparison(self) -> ComparisonResult | None:
        return self._comparison

    def set_uncertain(self, shares: Mapping[str, float]) -> None:
        """Shares of images the model was unsure of (key -> 0..1), from a prediction of them this run."""
        rows = [self._row_index[key] for key in shares if key in self._row_index]
        if not rows:
            return
        self._uncertain.update({key: float(share) for key, share in shares.items() if key in self._row_index})
        self.dataChanged.emit(self.index(min(rows), UNCERTAIN_COLUMN), self.index(max(rows), UNCERTAIN_COLUMN))
        if self._sort_column == UNCERTAIN_COLUMN:
            self._resort()

    def has_uncertain(self) -> bool:
        return bool(self._uncertain)

    def iou_gain(self, key: str) -> float | None:
        found = None if self._comparison is None else self._comparison.per_image.get(key)
        return None if found is None else found.iou_gain

    def has_efforts(self) -> bool:
        """Whether any image shows a correction effort (the "fixed" column is worth showing)."""
        return bool(self._efforts)

    def corrected_keys(self) -> set[str]:
        """The images with a saved correction, as read when the dataset was set and updated by each save."""
        return {entry[0] for entry in self._rows if entry[5]}

    def keys_in_order(self) -> list[str]:
        """Every key in the order the rows are sorted (before any filter)."""
        return [entry[0] for entry in self._rows]

    def set_prediction(self, key: str, present: bool = True) -> None:
        row = self.row_of(key)
        if row >= 0:
            entry = self._rows[row]
            self._rows[row] = (*entry[:4], present, entry[5])
            self._changed(row, 3)

    def set_score(self, key: str, iou: float | None, dice: float | None) -> None:
        """The model-vs-truth mean IoU and Dice of ``key`` (None: n/a)."""
        self.set_scores({key: (iou, dice)})

    def set_scores(self, scores: Mapping[str, tuple[float | None, float | None]]) -> None:
        """Many scores at once (key -> (IoU, Dice)): one change signal over the rows touched, one re-sort."""
        rows = [self._row_index.get(key, -1) for key in scores]
        rows = [row for row in rows if row >= 0]
        if not rows:
            return
        for key, value in scores.items():
            if key in self._row_index:
                self._scores[key] = value
        self.dataChanged.emit(self.index(min(rows), IOU_COLUMN), self.index(max(rows), DICE_COLUMN))
        if self._sort_column in (IOU_COLUMN, DICE_COLUMN):
            self._resort()

    def score(self, key: str) -> tuple[float | None, float | None]:
        return self._scores.get(key, (None, None))

    def set_score_source(self, overall: str, per_image: Mapping[str, str]) -> None:
        """What the scores are of: ``overall`` for the column headers, ``per_image`` (key -> e.g. "model
        demo-model") for each row's tooltip."""
        self._score_source, self._score_sources = overall, dict(per_image)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, IOU_COLUMN, DICE_COLUMN)

    @property
    def score_source(self) -> str:
        return self._score_source

    def set_scored_count(self, count: int | None) -> None:
        """How many images have scores (None: not counted yet); 0 makes the list say why every score is n/a."""
        self._scored_count = count
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, IOU_COLUMN, DICE_COLUMN)

    @property
    def scored_count(self) -> int | None:
        return self._scored_count

    def clear_scores(self) -> None:
        self._scores = {}
        if self._rows:
            self.dataChanged.emit(self.index(0, IOU_COLUMN), self.index(len(self._rows) - 1, DICE_COLUMN))
            if self._sort_column in (IOU_COLUMN, DICE_COLUMN):
                self._resort()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if section == CLASS_IOU_COLUMN and self.chosen_class is not None:
                return f"{self._class_name(self.chosen_class)} IoU"
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            if section == GAIN_COLUMN and self._comparison is not None:
                return (f"mean IoU of the shown predictions minus that of {self._comparison.other}: negative where "
                        "the shown model does worse (sort ascending for its worst losses)")
            if section in (IOU_COLUMN, DICE_COLUMN):
                what = "mean IoU" if section == IOU_COLUMN else "mean Dice"
                source = self._score_source or "the prediction"
                return f"{what} of {source} against the ground truth (n/a: the image lacks one of the two)"
            return HEADER_TIPS.get(HEADERS[section])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self._rows[index.row()]
        column = index.column()
        if column == 0 and role == Qt.ItemDataRole.DecorationRole:
            return None if self.thumbnails is None else self.thumbnails.pixmap(entry[0])
        key = entry[0]
        if column == FIXED_COLUMN:
            return effort_cell(role, self._efforts.get(key))
        if column == ERRORS_COLUMN:
            return share_cell(role, self._errors.get(key))
        if column == UNCERTAIN_COLUMN:
            return share_cell(role, self._uncertain.get(key))
        if column == CLASS_IOU_COLUMN:
            chosen = None if self.chosen_class is None else self._class_name(self.chosen_class)
            return class_iou_cell(role, self.class_iou(key), chosen)
        if column == GAIN_COLUMN:
            found = None if self._comparison is None else self._comparison.per_image.get(key)
            return gain_cell(role, found, self._comparison.other if self._comparison else "")
        if column >= IOU_COLUMN:
            return self._score_data(entry[0], column, role)
        if column == STATUS_COLUMN:
            return status_cell(role, self.status(entry[0]), entry[0] in self._unsaved, self._comments.get(entry[0], ""))
        if role == Qt.ItemDataRole.DisplayRole:
            if column < 2:
                return entry[column + 1]
            return "yes" if entry[column + 1] else ""
        return None

    def _class_name(self, class_id: int) -> str:
        return self._class_names[class_id] if 0 <= class_id < len(self._class_names) else f"class {class_id}"

    def _score_data(self, key: str, column: int, role: int):
        value = self._scores.get(key, (None, None))[column - IOU_COLUMN]
        if role == Qt.ItemDataRole.DisplayRole:
            return "n/a" if value is None else f"{value:.3f}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and value is not None:
            source = self._score_sources.get(key) or self._score_source or "the prediction"
            return f"{source} against the ground truth"
        return None


__all__ = [
    "CLASS_IOU_COLUMN", "COMMENT_MARK", "UNCERTAIN_COLUMN", "DICE_COLUMN", "EDITED_MARK", "ERRORS_COLUMN", "FIXED_COLUMN", "GAIN_COLUMN",
    "GT_COLUMN", "HEADERS", "IOU_COLUMN", "NAME_COLUMN", "PREDICTION_COLUMN", "SAVED_MARK", "SPLIT_COLUMN",
    "STATUS_COLUMN", "STATUS_MARKS", "SampleTableModel",
]  # fmt: skip
