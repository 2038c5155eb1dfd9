"""Which rows the file list shows: by name (Qt's fixed-string filter), by review status (:class:`StatusFilter`) and by
a chosen class's IoU below a limit; the image on screen always stays listed. Sorting is the table model's own."""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QWidget

from segstudio.core.review import ReviewStatus
from segstudio.ui.sample_cells import EDITED_MARK, STATUS_MARKS
from segstudio.ui.sample_table import SampleTableModel


class StatusFilter(Enum):
    """Which images the list shows, by review status. The value is the filter box's text."""

    ALL = "all statuses"
    OPEN = "to do or in progress"
    EDITED = "edited (unsaved)"
    TO_DO = ReviewStatus.TO_DO.value
    IN_PROGRESS = ReviewStatus.IN_PROGRESS.value
    CORRECTED = ReviewStatus.CORRECTED.value
    ACCEPTED = ReviewStatus.ACCEPTED.value
    REJECTED = ReviewStatus.REJECTED.value

    @property
    def label(self) -> str:
        """The filter box's text: the status mark the list shows, then the words."""
        if self is StatusFilter.EDITED:
            return f"{EDITED_MARK} edited (unsaved)"
        if self in (StatusFilter.ALL, StatusFilter.OPEN):
            return self.value
        return f"{STATUS_MARKS[ReviewStatus(self.value)]} {self.value}"

    def admits(self, status: ReviewStatus, unsaved: bool) -> bool:
        if self is StatusFilter.ALL:
            return True
        if self is StatusFilter.OPEN:
            return status.is_open
        if self is StatusFilter.EDITED:
            return unsaved
        return status.value == self.value


class ListFilter(QSortFilterProxyModel):
    """Filters by name and status; sorting is the source model's own (:meth:`SampleTableModel.sort`), so a reset or
    a header click never sorts through per-row Python calls from Qt."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_filter = StatusFilter.ALL
        self.iou_below: float | None = None  # with the model's chosen class: list images whose IoU of it is below
        self.pinned: str | None = None  # the image on screen: it stays listed while its status changes

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        source = self.sourceModel()
        if self.status_filter is not StatusFilter.ALL and isinstance(source, SampleTableModel):
            key = source.key_at(source_row)
            if key != self.pinned and not self.status_filter.admits(source.status(key), source.is_unsaved(key)):
                return False
        if self.iou_below is not None and isinstance(source, SampleTableModel) and source.chosen_class is not None:
            key = source.key_at(source_row)
            value = source.class_iou(key)
            if key != self.pinned and (value is None or value >= self.iou_below):
                return False
        return super().filterAcceptsRow(source_row, source_parent)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if isinstance(source, SampleTableModel):
            source.sort(column, order)
        else:
            super().sort(column, order)


__all__ = ["ListFilter", "StatusFilter"]
