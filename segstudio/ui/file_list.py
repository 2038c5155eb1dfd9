"""The dataset's images as a sortable, filterable table (the rows: :mod:`segstudio.ui.sample_table`): name, split
(shown only when the dataset has more than one), has ground truth, has prediction, review status ("● edited" while
the image holds unsaved work), the share of the model's mask fixed, and the prediction's mean IoU / Dice against the ground truth ("model vs truth": not the
user's correction), filled in by the window's "dataset metrics" job as results arrive; "n/a" where an image lacks
ground truth or a prediction. A line above the table says what the scores are of (a model, or the dataset's
prediction folder). Names sort naturally (2 before 10); sorting by IoU ascending puts the worst images first (n/a
last). The list filters by name and by status (:class:`StatusFilter`).

With :meth:`FileList.enable_thumbnails` the name column shows a thumbnail, made on the "thumbnails" worker
channel for the rows on screen only (see :mod:`segstudio.ui.thumbnails`)."""

from __future__ import annotations


from PySide6.QtCore import QModelIndex, QPoint, QSize, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from segstudio.app.model_comparison import ComparisonResult
from segstudio.app.scoring import DatasetScoresResult
from segstudio.io.datasets import Dataset
from segstudio.ui.sample_table import (
    CLASS_IOU_COLUMN,
    DICE_COLUMN,
    ERRORS_COLUMN,
    FIXED_COLUMN,
    GAIN_COLUMN,
    UNCERTAIN_COLUMN,
    GT_COLUMN,
    HEADERS,
    IOU_COLUMN,
    NAME_COLUMN,
    PREDICTION_COLUMN,
    SPLIT_COLUMN,
    STATUS_COLUMN,
    SampleTableModel,
)
from segstudio.ui.list_filters import ListFilter, StatusFilter
from segstudio.ui.thumbnails import Thumbnails
from segstudio.ui.workers import WorkerPool

NAME_WIDTHS = (60, 220)  # the name column fits the longest name within these bounds (pixels, thumbnail included)
OPTIONAL_COLUMNS = (SPLIT_COLUMN, IOU_COLUMN, DICE_COLUMN, ERRORS_COLUMN, FIXED_COLUMN, UNCERTAIN_COLUMN, GT_COLUMN,
                    PREDICTION_COLUMN)

class FileList(QWidget):
    """``sample_chosen(key)`` when the user selects an image; :meth:`select_key` selects one from code."""

    sample_chosen = Signal(str)
    columns_changed = Signal(str)  # a column appeared: the panel may widen up to the column of this header

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = SampleTableModel(self)
        self.proxy = ListFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setDynamicSortFilter(False)  # the model keeps its rows sorted; filtering is redone on text change
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("filter by name")
        self.filter.setClearButtonEnabled(True)
        self.status_filter = QComboBox(self)
        self.status_filter.setToolTip("show only the images with this review status")
        for choice in StatusFilter:
            self.status_filter.addItem(choice.label, choice)
        self.status_filter.currentIndexChanged.connect(
            lambda _index: self.set_status_filter(self.status_filter.currentData()))
        self.filter.textChanged.connect(self.set_filter_text)
        self.class_filter = QComboBox(self)
        self.class_filter.setToolTip("a class whose IoU (prediction vs ground truth) to show per image, worst first; "
                                     "with 'IoU <', only the images where that class scores below it")
        self.class_filter.addItem("IoU of class...", None)
        self.class_filter.currentIndexChanged.connect(lambda _index: self._class_chosen())
        for box in (self.class_filter, self.status_filter):  # long class names must not widen the panel
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        self.iou_limit = QDoubleSpinBox(self)
        self.iou_limit.setRange(0.0, 1.0)
        self.iou_limit.setSingleStep(0.05)
        self.iou_limit.setDecimals(2)
        self.iou_limit.setPrefix("IoU < ")
        self.iou_limit.setSpecialValueText("any IoU")  # 0, the minimum: no image is below it, so it means "no limit"
        self.iou_limit.setValue(0.0)
        self.iou_limit.setToolTip("list only the images where the chosen class's IoU is below this ('any IoU': every "
                                  "image)")
        self.iou_limit.setEnabled(False)
        self.iou_limit.valueChanged.connect(lambda _value: self._class_chosen())
        self.score_source = QLabel(self)  # what the IoU/Dice columns are of; hidden while nothing is scored
        self.score_source.setWordWrap(True)
        self.score_source.hide()
        self.model.headerDataChanged.connect(self._show_score_source)
        self.model.modelReset.connect(self._show_score_source)
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
        for column, width in enumerate((160, 44, 35, 70, 26, 42, 42, 52)):
            header.resizeSection(column, width)
        header.setStretchLastSection(False)  # a wide panel leaves room, not one stretched column
        # Shown order: the status mark, name, split, the scores, then the rest: what a narrow dock shows first matters.
        for visual, column in enumerate((STATUS_COLUMN, NAME_COLUMN, SPLIT_COLUMN, IOU_COLUMN, DICE_COLUMN, FIXED_COLUMN)):
            header.moveSection(header.visualIndex(column), visual)
        header.setSectionHidden(SPLIT_COLUMN, True)
        header.setSectionHidden(FIXED_COLUMN, True)  # until an accepted image has a measured effort
        header.setSectionHidden(UNCERTAIN_COLUMN, True)  # until a model says how sure it was
        for column in (ERRORS_COLUMN, GT_COLUMN, PREDICTION_COLUMN):  # on request (the header's menu)
            header.setSectionHidden(column, True)
        header.setSectionHidden(CLASS_IOU_COLUMN, True)  # while a class is chosen
        header.setSectionHidden(GAIN_COLUMN, True)  # while predictions are compared with another set
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._column_menu)
        self.model.dataChanged.connect(self._show_fixed_column)
        self.model.modelReset.connect(self._show_fixed_column)
        self.view.selectionModel().currentRowChanged.connect(self._on_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.filter, 3)
        filters.addWidget(self.status_filter, 2)
        layout.addLayout(filters)
        by_class = QHBoxLayout()
        by_class.setContentsMargins(0, 0, 0, 0)
        by_class.addWidget(self.class_filter, 3)
        by_class.addWidget(self.iou_limit, 2)
        layout.addLayout(by_class)
        layout.addWidget(self.score_source)
        layout.addWidget(self.view)

    def set_filter_text(self, text: str) -> None:
        """Show the rows whose name contains ``text`` (any case); empty: every row."""
        self.proxy.setFilterFixedString(text)

    def set_status_filter(self, choice: StatusFilter) -> None:
        """Show only the images ``choice`` admits (the filter box follows); the image on screen stays listed."""
        self.proxy.status_filter = choice
        index = self.status_filter.findData(choice)
        if index >= 0 and index != self.status_filter.currentIndex():
            self.status_filter.blockSignals(True)
            self.status_filter.setCurrentIndex(index)
            self.status_filter.blockSignals(False)
        self._invalidate()

    def refilter(self) -> None:
        """Statuses or scores changed: a filtered list re-checks its rows."""
        if self.proxy.status_filter is not StatusFilter.ALL or self.proxy.iou_below is not None:
            self._invalidate()

    def _invalidate(self) -> None:
        # A row leaving the list must not make another image current: that would open it.
        selection = self.view.selectionModel()
        selection.blockSignals(True)
        try:
            if hasattr(self.proxy, "beginFilterChange"):  # Qt 6.10 deprecates invalidateFilter for these
                self.proxy.beginFilterChange()
                self.proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            else:  # pragma: no cover - Qt before 6.10
                self.proxy.invalidateRowsFilter()
        finally:
            selection.blockSignals(False)
        if self.proxy.pinned is not None:
            self.select_key(self.proxy.pinned)
        self._schedule_thumbnails()

    def set_dataset(self, dataset: Dataset | None) -> None:
        """List ``dataset``'s images; the split column shows only when it has more than one split."""
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("IoU of class...", None)
        if dataset is not None:
            for label in dataset.spec.labels.classes:
                self.class_filter.addItem(f"{label.id} {label.name}", label.id)
        self.class_filter.blockSignals(False)
        self.proxy.iou_below = None
        self.view.horizontalHeader().setSectionHidden(CLASS_IOU_COLUMN, True)
        self.iou_limit.setEnabled(False)
        if self.model.thumbnails is not None:
            self.model.thumbnails.set_paths({} if dataset is None else {s.key: s.image for s in dataset.samples})
        self.model.set_dataset(dataset)
        self.view.horizontalHeader().setSectionHidden(SPLIT_COLUMN, len(self.model.splits()) < 2)
        self._fit_name_column(dataset)
        self._fit_split_column()
        self._schedule_thumbnails()

    def _fit_name_column(self, dataset: Dataset | None) -> None:
        if dataset is None or not dataset.samples:
            return
        # The longest names by characters stand in for the widest: measuring every name of a large folder
        # would cost more than the column is worth.
        names = sorted({sample.name for sample in dataset.samples}, key=len)[-50:]
        metrics = self.view.fontMetrics()
        text = max(metrics.horizontalAdvance(name) for name in names)
        icon = self.view.iconSize().width() + 6 if self.model.thumbnails is not None else 0
        low, high = NAME_WIDTHS
        self.view.horizontalHeader().resizeSection(NAME_COLUMN, min(high, max(low, text + icon + 10)))

    def show_dataset_scores(self, result: DatasetScoresResult) -> None:
        """Every image's per-class IoU and errors from the "dataset metrics" result (the class filter's numbers)."""
        self.model.set_confusions({key: score.confusion for key, score in result.per_image.items()})
        self.refilter()

    def show_comparison(self, result: ComparisonResult | None) -> None:
        """The "Δ IoU" column for a comparison (sorted ascending: the shown model's worst losses first), or none."""
        self.model.set_comparison(result)
        header = self.view.horizontalHeader()
        header.setSectionHidden(GAIN_COLUMN, result is None)
        if result is not None:
            header.moveSection(header.visualIndex(GAIN_COLUMN), header.visualIndex(IOU_COLUMN))
            self._fit_header(GAIN_COLUMN)
            self.view.sortByColumn(GAIN_COLUMN, Qt.SortOrder.AscendingOrder)
            self.columns_changed.emit(HEADERS[DICE_COLUMN])

    def set_class_filter(self, class_id: int | None, below: float | None = None) -> None:
        """Show class ``class_id``'s IoU per image (worst first) and, with ``below``, only the images under it."""
        self.class_filter.blockSignals(True)
        self.class_filter.setCurrentIndex(0 if class_id is None else max(0, self.class_filter.findData(class_id)))
        self.class_filter.blockSignals(False)
        self.iou_limit.blockSignals(True)
        self.iou_limit.setValue(0.0 if below is None else below)
        self.iou_limit.blockSignals(False)
        self._class_chosen()

    def _class_chosen(self) -> None:
        class_id = self.class_filter.currentData()
        limit = self.iou_limit.value()
        self.model.choose_class(class_id)
        self.proxy.iou_below = None if class_id is None or limit <= 0.0 else limit
        self.iou_limit.setEnabled(class_id is not None)
        header = self.view.horizontalHeader()
        was_hidden = header.isSectionHidden(CLASS_IOU_COLUMN)
        header.setSectionHidden(CLASS_IOU_COLUMN, class_id is None)
        if class_id is not None:
            header.moveSection(header.visualIndex(CLASS_IOU_COLUMN), header.visualIndex(IOU_COLUMN))
            self._fit_header(CLASS_IOU_COLUMN)
            if was_hidden or self.model.sort_column() != CLASS_IOU_COLUMN:
                self.view.sortByColumn(CLASS_IOU_COLUMN, Qt.SortOrder.AscendingOrder)  # the worst first
            self.columns_changed.emit(HEADERS[DICE_COLUMN])  # the scores after it stay in view
        self._invalidate()

    def _fit_header(self, column: int) -> None:
        """Make ``column`` wide enough for its title and the sort arrow (its values are short numbers)."""
        title = str(self.model.headerData(column, Qt.Orientation.Horizontal) or "")
        width = self.view.horizontalHeader().fontMetrics().horizontalAdvance(title) + 26
        self.view.horizontalHeader().resizeSection(column, max(50, width))

    def _column_menu(self, position: QPoint) -> None:
        """The header's menu: which columns show."""
        header = self.view.horizontalHeader()
        menu = QMenu(self)
        for column in OPTIONAL_COLUMNS:
            action = menu.addAction(HEADERS[column])
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.toggled.connect(lambda shown, c=column: self.show_column(c, shown))
        menu.exec(header.mapToGlobal(position))

    def show_column(self, column: int, shown: bool = True) -> None:
        header = self.view.horizontalHeader()
        header.setSectionHidden(column, not shown)
        if shown:
            self.columns_changed.emit(HEADERS[column])

    def _show_fixed_column(self, *_args: object) -> None:
        """The "fixed" and "uncertain" columns appear once they have a value (and go with the folder)."""
        header = self.view.horizontalHeader()
        for column, wanted in ((FIXED_COLUMN, self.model.has_efforts()), (UNCERTAIN_COLUMN, self.model.has_uncertain())):
            if header.isSectionHidden(column) == wanted:
                header.setSectionHidden(column, not wanted)
                if wanted:
                    self._fit_header(column)
                    self.columns_changed.emit(HEADERS[column])

    def _fit_split_column(self) -> None:
        metrics = self.view.fontMetrics()
        texts = ["split", *self.model.splits()]
        self.view.horizontalHeader().resizeSection(SPLIT_COLUMN, max(metrics.horizontalAdvance(t) for t in texts) + 14)

    def _show_score_source(self, *_args: object) -> None:
        source = self.model.score_source
        if self.model.scored_count == 0:
            self.score_source.setText("IoU/Dice: n/a, no image has both ground truth and a prediction")
        else:
            self.score_source.setText(f"IoU/Dice: {source} vs ground truth" if source else "")
        self.score_source.setToolTip(self.model.headerData(IOU_COLUMN, Qt.Orientation.Horizontal,
                                                           Qt.ItemDataRole.ToolTipRole) or "")
        self.score_source.setVisible(bool(self.score_source.text()))

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
        """Make ``key`` the current row (without emitting ``sample_chosen``); it stays listed whatever the filter."""
        if self.proxy.pinned != key:
            old, self.proxy.pinned = self.proxy.pinned, key
            if self.proxy.status_filter is not StatusFilter.ALL and old is not None:
                self.refilter()  # the image left may leave the list now
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
