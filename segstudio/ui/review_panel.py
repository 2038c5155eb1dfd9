"""The Review panel: how far the review is (images per status, each a button that filters the list), the shown
image's status and comment, and where correcting the model cost most (pixels fixed per class over the accepted
images)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segstudio.core.review import ReviewCounts, ReviewStatus
from segstudio.ui.list_filters import StatusFilter
from segstudio.ui.sample_cells import STATUS_MARKS

EFFORT_HEADERS = ("class", "fixed px", "missed", "false alarm", "share")
EFFORT_TIPS = (
    "",
    "pixels changed into or out of this class, over the accepted images",
    "pixels the labeler made this class that the model had given another class",
    "pixels the model gave this class that are another class in the accepted mask",
    "this class's share of all the pixels fixed",
)


class ReviewPanel(QWidget):
    """``status_chosen(ReviewStatus)`` and ``comment_edited(str)`` for the shown image; ``filter_chosen(StatusFilter)``
    when a count is clicked."""

    status_chosen = Signal(object)
    comment_edited = Signal(str)
    filter_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QProgressBar(self)
        self.progress.setFormat("%v of %m images reviewed")
        self.progress.setToolTip("accepted or rejected, of all images")
        self.count_buttons: dict[ReviewStatus, QPushButton] = {}
        counts = QGridLayout()
        counts.setContentsMargins(0, 0, 0, 0)
        counts.setHorizontalSpacing(4)
        counts.setVerticalSpacing(2)
        for index, status in enumerate(ReviewStatus):
            button = QPushButton(self)
            button.setFlat(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(f"list only the images {status.value}")
            button.setStyleSheet("text-align: left; padding: 1px 4px;")
            button.clicked.connect(lambda _checked=False, s=status: self.filter_chosen.emit(StatusFilter(s.value)))
            counts.addWidget(button, index // 2, index % 2)  # two columns: the panel shares a narrow dock
            self.count_buttons[status] = button
        show_all = QPushButton("all", self)
        show_all.setFlat(True)
        show_all.setToolTip("list every image")
        show_all.setStyleSheet("text-align: left; padding: 1px 4px;")
        show_all.clicked.connect(lambda _checked=False: self.filter_chosen.emit(StatusFilter.ALL))
        counts.addWidget(show_all, 2, 1)

        self.image_label = QLabel("this image: none", self)
        self.status_box = QComboBox(self)
        for status in ReviewStatus:
            self.status_box.addItem(status.value, status)
        self.status_box.setToolTip("the shown image's review status")
        self.status_box.activated.connect(lambda _index: self.status_chosen.emit(self.status_box.currentData()))
        self.comment = QLineEdit(self)
        self.comment.setPlaceholderText("comment (Enter keeps it)")
        self.comment.setToolTip("a note on the shown image (why it was rejected, what to check); kept in the project file")
        self.comment.returnPressed.connect(lambda: self.comment_edited.emit(self.comment.text()))
        self.comment.editingFinished.connect(self._comment_left)

        self.effort_label = QLabel(self)
        self.effort_label.setWordWrap(True)
        self.effort = QTableWidget(0, len(EFFORT_HEADERS), self)
        self.effort.setHorizontalHeaderLabels(EFFORT_HEADERS)
        for column, tip in enumerate(EFFORT_TIPS):
            if tip:
                self.effort.horizontalHeaderItem(column).setToolTip(tip)
        self.effort.verticalHeader().setVisible(False)
        self.effort.verticalHeader().setDefaultSectionSize(20)
        self.effort.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.effort.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.effort.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(EFFORT_HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.progress)
        layout.addLayout(counts)
        row = QGridLayout()
        row.setContentsMargins(0, 4, 0, 0)
        row.addWidget(self.image_label, 0, 0, 1, 2)
        row.addWidget(self.status_box, 1, 0)
        row.addWidget(self.comment, 1, 1)
        row.setColumnStretch(1, 1)
        layout.addLayout(row)
        layout.addWidget(self.effort_label)
        layout.addWidget(self.effort, 1)
        self._shown_comment = ""
        self.show_counts(None)
        self.show_effort([], np.zeros(0, np.int64), np.zeros(0, np.int64), 0)

    def _comment_left(self) -> None:
        if self.comment.text() != self._shown_comment:
            self.comment_edited.emit(self.comment.text())

    def show_counts(self, counts: ReviewCounts | None) -> None:
        total = 0 if counts is None else counts.total
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0 if counts is None else counts.done)
        self.progress.setFormat(f"%v of {total} images reviewed" if total else "no folder open")
        for status, button in self.count_buttons.items():
            button.setText(f"{STATUS_MARKS[status]} {status.value}: {0 if counts is None else counts[status]}")

    def show_image(self, name: str | None, status: ReviewStatus, comment: str, *, editable: bool = True) -> None:
        self.image_label.setText(f"this image: {name}" if name else "this image: none")
        self.status_box.setCurrentIndex(self.status_box.findData(status))
        self._shown_comment = comment
        if not self.comment.hasFocus() or not editable:
            self.comment.setText(comment)
        for widget in (self.status_box, self.comment):
            widget.setEnabled(editable and name is not None)

    def show_effort(self, names: Sequence[str], added: np.ndarray, removed: np.ndarray, images: int) -> None:
        """Pixels fixed per class over ``images`` accepted images, the costliest class first."""
        total = added + removed
        fixed = int(added.sum())
        if images == 0:
            self.effort_label.setText("Pixels fixed per class: none yet (accept corrected images to measure what "
                                      "the model cost; images without a prediction are not measured)")
        else:
            self.effort_label.setText(f"Pixels fixed per class over {images} accepted image{'s' * (images != 1)} "
                                      f"({fixed:,} px changed from the model's predictions):")
        order = [int(c) for c in np.argsort(-total, kind="stable") if total[c] > 0]
        self.effort.setRowCount(len(order))
        all_touched = max(int(total.sum()), 1)
        for row, class_id in enumerate(order):
            name = names[class_id] if class_id < len(names) else f"class {class_id}"
            values = (f"{class_id} {name}", f"{int(total[class_id]):,}", f"{int(added[class_id]):,}",
                      f"{int(removed[class_id]):,}", f"{100 * total[class_id] / all_touched:.0f} %")
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.effort.setItem(row, column, item)


__all__ = ["ReviewPanel"]
