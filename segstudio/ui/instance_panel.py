"""The Instances panel: the shown image's objects when it is corrected as instances (Penn-Fudan people, a Mask R-CNN's
detections), each with its shade, class, size, the model's score and its IoU with the ground-truth object it
matches; the ground-truth objects nothing matches ("missed"); and the object edits (new, merge, split, delete, change
class, renumber) as buttons beside the Instances menu's keys.

A widget only: :class:`~segstudio.ui.instance_editing.InstanceEditingController` fills it and acts on its signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segstudio.ui.class_panel import swatch

HEADERS = ("#", "class", "score", "IoU", "GT")
HEADER_TIPS = (
    "instance id, in the shade it is drawn in (its size in pixels: hover a row)",
    "the instance's class",
    "the model's confidence (blank: drawn by a person)",
    "IoU with the ground-truth object it matches; for an unmatched one, its best IoU with any object of its class",
    "the ground-truth object it matches (IoU >= 0.5, greedy by score, as COCO matches); ✗: no match (a false "
    "positive)",
)
UNMATCHED_INK = QColor(196, 48, 48)
MATCHED_INK = QColor(32, 128, 64)


@dataclass(frozen=True)
class InstanceLine:
    """One row of the table, as the controller computed it."""

    instance_id: int
    class_name: str
    pixels: int
    score: float | None
    iou: float | None  # None: no ground truth to compare with
    truth_id: int | None
    colour: tuple[int, int, int] | None


@dataclass(frozen=True)
class MissedLine:
    truth_id: int
    class_name: str
    pixels: int
    best_iou: float


class InstancePanel(QWidget):
    """Signals: ``selected(list[int])`` (the ids selected in the table, the first the one painted into);
    ``missed_chosen(int)``: a missed ground-truth object clicked; ``action(str)``: a button ("new", "merge", "split",
    "class", "delete", "renumber")."""

    selected = Signal(list)
    missed_chosen = Signal(int)
    action = Signal(str)

    BUTTONS = (
        ("new", "New", "start a new instance of the selected class: the next stroke paints it (M)"),
        ("merge", "Merge", "the selected instances become the first one (Shift+M; Ctrl+click to select several)"),
        ("split", "Split", "each separate piece of the selected instance becomes its own instance; to cut a piece "
                           "off, drag across it with the Cut tool (C)"),
        ("class", "Set class", "give the selected instances the class selected in the Classes panel"),
        ("delete", "Delete", "the selected instances' pixels become background (Del)"),
        ("renumber", "Renumber", "number the instances 1, 2, 3... in their present order"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        for column, tip in enumerate(HEADER_TIPS):
            header_item = self.table.horizontalHeaderItem(column)
            if header_item is not None:
                header_item.setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the class name takes what is left, elided
        header.setMinimumSectionSize(24)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setMinimumHeight(6 * (self.fontMetrics().height() + 6) + header.sizeHint().height())
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.missed_label = QLabel("Missed objects", self)
        self.missed_label.setToolTip("ground-truth objects no instance matches (false negatives); click one to see it")
        self.missed = QListWidget(self)
        self.missed.setMaximumHeight(4 * (self.fontMetrics().height() + 4) + 6)
        self.missed.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.missed.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.missed.itemClicked.connect(lambda item: self.missed_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole))))
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        for index, (name, text, tip) in enumerate(self.BUTTONS):
            button = QPushButton(text, self)
            button.setToolTip(tip)
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(text) + 16)
            button.clicked.connect(lambda _checked=False, n=name: self.action.emit(n))
            self.buttons[name] = button
            grid.addWidget(button, index // 3, index % 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(grid)
        layout.addWidget(self.missed_label)
        layout.addWidget(self.missed)
        self.rule = QLabel("One instance per pixel: where a model's detections overlap, the higher score keeps the "
                           "pixel. Matches: IoU ≥ 0.5 with an object of the same class, greedy by score (COCO).", self)
        self.rule.setWordWrap(True)
        self.rule.setObjectName("hint")
        layout.addWidget(self.rule)
        self._filling = False
        self.show_lines([], [], summary="")

    # -- filling ----------------------------------------------------------------------------------------

    def show_lines(self, lines: Sequence[InstanceLine], missed: Sequence[MissedLine], *, summary: str,
                   selected: Sequence[int] = ()) -> None:
        """Fill the table (keeping ``selected`` selected) and the missed list."""
        self._filling = True
        try:
            self.summary.setText(summary)
            self.table.setRowCount(len(lines))
            keep = set(selected)
            self.table.clearSelection()
            for row, line in enumerate(lines):
                for column, (text, align) in enumerate(_cells(line)):
                    item = QTableWidgetItem(text)
                    item.setTextAlignment(align)
                    item.setData(Qt.ItemDataRole.UserRole, line.instance_id)
                    item.setToolTip(f"instance {line.instance_id}: {line.class_name}, {line.pixels:,} px")
                    if column == 0 and line.colour is not None:
                        item.setIcon(swatch(line.colour, 12))
                    if column >= 3 and line.iou is not None:
                        item.setForeground(QBrush(MATCHED_INK if line.truth_id is not None else UNMATCHED_INK))
                    self.table.setItem(row, column, item)
                if line.instance_id in keep:
                    self._add_row_to_selection(row)
            self.missed.clear()
            for miss in missed:
                item = QListWidgetItem(f"GT #{miss.truth_id} {miss.class_name}, best IoU {miss.best_iou:.2f}")
                item.setToolTip(f"ground-truth object {miss.truth_id} ({miss.class_name}, {miss.pixels:,} px): no "
                                f"instance matches it; the best IoU any instance of its class has with it is "
                                f"{miss.best_iou:.2f}. Click to see it")
                item.setData(Qt.ItemDataRole.UserRole, miss.truth_id)
                item.setForeground(QBrush(UNMATCHED_INK))
                self.missed.addItem(item)
            has_missed = bool(missed)
            self.missed_label.setVisible(has_missed)
            self.missed.setVisible(has_missed)
            self.missed_label.setText(f"Missed objects ({len(missed)})")
        finally:
            self._filling = False

    def selected_ids(self) -> list[int]:
        """Selected instance ids, in table order."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [int(self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)) for row in rows]

    def select_ids(self, ids: Sequence[int]) -> None:
        """Select the rows of ``ids`` (emits ``selected``)."""
        self.table.clearSelection()
        wanted = set(ids)
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and int(item.data(Qt.ItemDataRole.UserRole)) in wanted:
                self._add_row_to_selection(row)
                self.table.scrollToItem(item)
        if not wanted:
            self._on_selection()

    def rows(self) -> list[tuple[str, ...]]:
        """The table's texts, row by row (for tests and screenshots)."""
        return [tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
                for r in range(self.table.rowCount())]

    def _add_row_to_selection(self, row: int) -> None:
        model = self.table.selectionModel()
        index = self.table.model().index(row, 0)
        model.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)

    def _on_selection(self) -> None:
        if not self._filling:
            self.selected.emit(self.selected_ids())


def _cells(line: InstanceLine) -> list[tuple[str, Qt.AlignmentFlag]]:
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    score = "" if line.score is None else f"{line.score:.2f}"
    if line.iou is None:
        iou, match = "", ""
    else:
        iou = f"{line.iou:.2f}"
        match = f"#{line.truth_id}" if line.truth_id is not None else "✗"
    return [(str(line.instance_id), left), (line.class_name, left), (score, right), (iou, right), (match, left)]


__all__ = ["InstanceLine", "InstancePanel", "MissedLine"]
