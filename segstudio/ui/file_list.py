"""The dataset's images as a sortable, filterable table: name, split, has ground truth, has prediction,
corrected, and the model's mean IoU / Dice against the ground truth ("model vs truth": the prediction the model
made, not the user's correction), filled in by the window's "dataset metrics" job as results arrive; "n/a"
where an image lacks ground truth or a prediction. Sorting by IoU ascending puts the worst images first (n/a
last).

With :meth:`FileList.enable_thumbnails` the name column shows a thumbnail, made on the "thumbnails" worker
channel for the rows on screen only (see :mod:`segstudio.ui.thumbnails`)."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from segstudio.io.datasets import Dataset
from segstudio.ui.thumbnails import Thumbnails
from segstudio.ui.workers import WorkerPool

HEADERS = ("name", "split", "GT", "prediction", "corrected", "IoU", "Dice")
IOU_COLUMN, DICE_COLUMN = 5, 6
_MISSING_SORT = 2.0  # n/a sorts after every score (scores are 0..1)
_Index = QModelIndex | QPersistentModelIndex


class SampleTableModel(QAbstractTableModel):
    """One row per sample of a dataset. ``corrected`` is read once when the dataset is set and updated by
    :meth:`set_corrected` (after a save), never by polling the disk.

    The model sorts itself (:meth:`sort`, in Python over a key per row): its rows are kept in the shown order, so
    the proxy in front of it only filters, and a reset costs no per-row calls from Qt."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str, str, bool, bool, bool]] = []  # key, name, split, gt, prediction, corrected
        self._scores: dict[str, tuple[float | None, float | None]] = {}  # key -> model vs truth (IoU, Dice)
        self.thumbnails: Thumbnails | None = None
        self._row_index: dict[str, int] = {}
        self._dataset_order: dict[str, int] = {}  # key -> position in the dataset (ties keep this order)
        self._sort_column = 0
        self._sort_order = Qt.SortOrder.AscendingOrder

    def set_dataset(self, dataset: Dataset | None) -> None:
        self.beginResetModel()
        self._rows = []
        self._scores = {}
        if dataset is not None:
            corrected = dataset.corrected_keys()
            ground_truth, has_prediction = dataset.ground_truth, dataset.has_prediction
            self._rows = [
                (sample.key, sample.name, sample.split, ground_truth(sample) is not None, has_prediction(sample),
                 sample.key in corrected)
                for sample in dataset.samples
            ]
        self._dataset_order = {entry[0]: position for position, entry in enumerate(self._rows)}
        self._rows = self._sorted(self._rows)
        self._reindex()
        self.endResetModel()

    def _reindex(self) -> None:
        self._row_index = {entry[0]: row for row, entry in enumerate(self._rows)}

    def sort_key(self, row: int, column: int) -> object:
        """What ``column`` sorts ``row`` by (also its UserRole data): n/a scores after every score."""
        entry = self._rows[row]
        if column >= IOU_COLUMN:
            value = self._scores.get(entry[0], (None, None))[column - IOU_COLUMN]
            return _MISSING_SORT if value is None else float(value)
        return entry[column + 1]

    def _sorted(self, rows: list[tuple[str, str, str, bool, bool, bool]]) -> list[tuple[str, str, str, bool, bool, bool]]:
        column, order = self._sort_column, self._sort_order
        if column < 0 or not rows:
            return rows
        position = self._dataset_order
        rows = sorted(rows, key=lambda entry: position.get(entry[0], 0))  # ties stay in the dataset's order
        if column >= IOU_COLUMN:
            scores, slot = self._scores, column - IOU_COLUMN

            def key(entry: tuple) -> float:
                value = scores.get(entry[0], (None, None))[slot]
                return _MISSING_SORT if value is None else float(value)
        else:
            def key(entry: tuple) -> object:
                return entry[column + 1]
        return sorted(rows, key=key, reverse=order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by ``column`` (its UserRole value), stable: equal rows keep the dataset's order."""
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

    def set_corrected(self, key: str, corrected: bool = True) -> None:
        row = self.row_of(key)
        if row >= 0:
            entry = self._rows[row]
            self._rows[row] = (*entry[:5], corrected)
            index = self.index(row, 4)
            self.dataChanged.emit(index, index)
            if self._sort_column == 4:
                self._resort()

    def set_prediction(self, key: str, present: bool = True) -> None:
        row = self.row_of(key)
        if row >= 0:
            entry = self._rows[row]
            self._rows[row] = (*entry[:4], present, entry[5])
            index = self.index(row, 3)
            self.dataChanged.emit(index, index)
            if self._sort_column == 3:
                self._resort()

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
        if self._sort_column >= IOU_COLUMN:
            self._resort()

    def score(self, key: str) -> tuple[float | None, float | None]:
        return self._scores.get(key, (None, None))

    def clear_scores(self) -> None:
        self._scores = {}
        if self._rows:
            self.dataChanged.emit(self.index(0, IOU_COLUMN), self.index(len(self._rows) - 1, DICE_COLUMN))
            if self._sort_column >= IOU_COLUMN:
                self._resort()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self._rows[index.row()]
        column = index.column()
        if column == 0 and role == Qt.ItemDataRole.DecorationRole:
            return None if self.thumbnails is None else self.thumbnails.pixmap(entry[0])
        if column >= IOU_COLUMN:
            value = self._scores.get(entry[0], (None, None))[column - IOU_COLUMN]
            if role == Qt.ItemDataRole.DisplayRole:
                return "n/a" if value is None else f"{value:.3f}"
            if role == Qt.ItemDataRole.UserRole:
                return _MISSING_SORT if value is None else float(value)
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if column < 2:
                return entry[column + 1]
            return "yes" if entry[column + 1] else ""
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return entry[column + 1]
        return None


class _FilterProxy(QSortFilterProxyModel):
    """Filters by name only; sorting is the source model's own (:meth:`SampleTableModel.sort`), so a reset or a
    header click never sorts through per-row Python calls from Qt."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if isinstance(source, SampleTableModel):
            source.sort(column, order)
        else:
            super().sort(column, order)


class FileList(QWidget):
    """``sample_chosen(key)`` when the user selects an image; :meth:`select_key` selects one from code."""

    sample_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = SampleTableModel(self)
        self.proxy = _FilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setDynamicSortFilter(False)  # the model keeps its rows sorted; filtering is redone on text change
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("filter by name")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.set_filter_text)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(20)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.view.horizontalHeader()
        # Fixed widths: resizing to contents would measure thousands of rows on every change.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((160, 70, 40, 75, 75, 60, 60)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        header.moveSection(header.visualIndex(IOU_COLUMN), 1)  # the scores next to the name, visible in a narrow dock
        header.moveSection(header.visualIndex(DICE_COLUMN), 2)
        self.view.selectionModel().currentRowChanged.connect(self._on_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter)
        layout.addWidget(self.view)

    def set_filter_text(self, text: str) -> None:
        """Show the rows whose name contains ``text`` (any case); empty: every row."""
        self.proxy.setFilterFixedString(text)

    def set_dataset(self, dataset: Dataset | None) -> None:
        if self.model.thumbnails is not None:
            self.model.thumbnails.set_paths({} if dataset is None else {s.key: s.image for s in dataset.samples})
        self.model.set_dataset(dataset)
        self._schedule_thumbnails()

    def enable_thumbnails(self, pool: WorkerPool) -> Thumbnails:
        """Show thumbnails, made on ``pool``'s "thumbnails" channel for the visible rows (then as they scroll in)."""
        thumbnails = Thumbnails(pool, self)
        self.model.thumbnails = thumbnails
        size = thumbnails.size
        self.view.setIconSize(QSize(size, size))
        self.view.verticalHeader().setDefaultSectionSize(size + 4)
        thumbnails.ready.connect(self._on_thumbnails)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(30)  # scrolling: ask once it pauses
        self._thumb_timer.timeout.connect(self.request_visible_thumbnails)
        self.view.verticalScrollBar().valueChanged.connect(self._schedule_thumbnails)
        self.proxy.layoutChanged.connect(self._schedule_thumbnails)
        self.proxy.modelReset.connect(self._schedule_thumbnails)
        self.proxy.rowsInserted.connect(self._schedule_thumbnails)
        self.proxy.rowsRemoved.connect(self._schedule_thumbnails)
        return thumbnails

    def visible_keys(self) -> list[str]:
        """The keys of the rows on screen, top to bottom (none while the list is hidden)."""
        count = self.proxy.rowCount()
        if count == 0 or not self.view.isVisible():
            return []
        viewport = self.view.viewport()
        first = self.view.rowAt(0)
        last = self.view.rowAt(viewport.height() - 1)
        first = max(first, 0)
        last = count - 1 if last < 0 else last
        return [self.model.key_at(self.proxy.mapToSource(self.proxy.index(row, 0)).row()) for row in range(first, last + 1)]

    def request_visible_thumbnails(self) -> bool:
        thumbnails = self.model.thumbnails
        return False if thumbnails is None else thumbnails.request(self.visible_keys())

    def _schedule_thumbnails(self, *_args: object) -> None:
        if self.model.thumbnails is not None:
            self._thumb_timer.start()

    def _on_thumbnails(self, keys: list[str]) -> None:
        for key in keys:
            row = self.model.row_of(key)
            if row >= 0:
                index = self.model.index(row, 0)
                self.model.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
        self._schedule_thumbnails()  # rows that scrolled in meanwhile

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule_thumbnails()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._schedule_thumbnails()

    def current_key(self) -> str | None:
        index = self.view.currentIndex()
        return None if not index.isValid() else self.model.key_at(self.proxy.mapToSource(index).row())

    def select_key(self, key: str) -> None:
        """Make ``key`` the current row (without emitting ``sample_chosen``)."""
        row = self.model.row_of(key)
        if row < 0:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return
        self.view.selectionModel().blockSignals(True)
        self.view.setCurrentIndex(index)
        self.view.selectionModel().blockSignals(False)
        self.view.viewport().update()
        self.view.scrollTo(index)

    def neighbour(self, delta: int) -> str | None:
        """The key ``delta`` rows from the current one in the shown (filtered, sorted) order."""
        count = self.proxy.rowCount()
        if count == 0:
            return None
        index = self.view.currentIndex()
        row = index.row() + delta if index.isValid() else 0
        row = min(count - 1, max(0, row))
        return self.model.key_at(self.proxy.mapToSource(self.proxy.index(row, 0)).row())

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sample_chosen.emit(self.model.key_at(self.proxy.mapToSource(current).row()))
