"""Live scores of the working mask: per class against the ground truth and against the model's original
prediction, and the image's mean IoU / Dice. Reads :meth:`ImageSession.scores_vs_truth` and
:meth:`~ImageSession.scores_vs_prediction` (O(classes), kept current by the session from each edit's rectangle);
a refresh requested many times per event-loop turn runs once.

The dataset line underneath is the model against the ground truth over every image that has both (the window's
"dataset metrics" job): accumulated (confusion matrices summed, then scored) and mean of images, naming what was
scored (:func:`segstudio.app.score_sources.dataset_line`)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segstudio.app.dataset_instance_ap import DatasetInstanceScores
from segstudio.app.score_sources import dataset_line
from segstudio.core.metrics import DatasetScores, Scores
from segstudio.core.session import ImageSession

COLUMNS = (
    "class", "overlap", "combined", "union", "IoU", "Dice",
    "overlap vs pred", "combined vs pred", "union vs pred", "IoU vs pred", "Dice vs pred",
)  # fmt: skip
COUNT_COLUMNS = frozenset(("overlap", "combined", "union", "overlap vs pred", "combined vs pred", "union vs pred"))
# What the headers say (two lines keep the narrow panel's columns narrow) and explain.
HEADER_TEXTS = {name: name.replace(" vs pred", "\nvs pred") if "vs pred" in name else
                (f"{name}\nvs truth" if name != "class" else name) for name in COLUMNS}
HEADER_TIPS = {
    "overlap": "pixels of the class in both the working mask and the ground truth",
    "combined": "pixels of the class in the working mask plus those in the ground truth",
    "union": "pixels of the class in either (combined - overlap)",
    "IoU": "overlap / union, working mask vs ground truth",
    "Dice": "2 x overlap / combined, working mask vs ground truth",
}
HEADER_TIPS |= {f"{name} vs pred": tip.replace("ground truth", "the model's prediction") for name, tip in HEADER_TIPS.items()}
SHOW_COUNTS_TEXT = "Show pixel counts (overlap, combined, union)"


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def fmt_count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


class MetricsPanel(QWidget):
    """A table, one row per class: overlap, combined area, union, IoU and Dice against the ground truth, then IoU
    and Dice against the original prediction ("how much did I change"); mean lines underneath."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session: ImageSession | None = None
        self._selected: int | None = None
        self.table = QTableWidget(0, len(COLUMNS), self)
        for column, name in enumerate(COLUMNS):
            header_item = QTableWidgetItem(HEADER_TEXTS[name])
            header_item.setToolTip(HEADER_TIPS.get(name, "the class (select it in the Classes panel for its counts)"))
            self.table.setHorizontalHeaderItem(column, header_item)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # Fixed widths: measuring contents on every stroke's refresh would cost time and make columns jump.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.show_counts_action = QAction(SHOW_COUNTS_TEXT, self)
        self.show_counts_action.setCheckable(True)
        self.show_counts_action.toggled.connect(self.show_counts)
        header.addAction(self.show_counts_action)
        self._size_columns()
        self.show_counts(False)
        # "truth" and "pred", as in the table's headers: each line fits the narrow panel on one line.
        self.summary_truth = QLabel("vs truth: n/a", self)
        self.summary_truth.setToolTip("the image's working mask against its ground truth, mean over the classes present")
        self.summary_prediction = QLabel("vs pred: n/a", self)
        self.summary_prediction.setToolTip("the image's working mask against the model's prediction: how much it was changed")
        self.selected_line = QLabel("", self)
        self.dataset_line = QLabel("dataset (prediction vs truth): n/a", self)
        self.instance_line = QLabel("", self)
        self.instance_line.setToolTip("COCO mask AP of the predicted instances against the ground truth's, over the "
                                      "images that have both (equal to pycocotools' COCOeval)")
        self.instance_line.hide()
        for label in (self.summary_truth, self.summary_prediction, self.selected_line, self.dataset_line,
                      self.instance_line):
            label.setWordWrap(True)  # the panel is narrow; a long line must not widen its column
        self.selected_line.setToolTip("the selected class's figures; right-click the table's header for every class's counts")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary_truth)
        layout.addWidget(self.summary_prediction)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.selected_line)
        layout.addWidget(self.dataset_line)
        layout.addWidget(self.instance_line)
        layout.addStretch(0)  # what the table's rows leave (it grows first): below the lines, not in an empty table
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)

    def _size_columns(self) -> None:
        """Each column as wide as the widest text it can hold ("0.0000", "1,234,567", its header)."""
        metrics = self.table.fontMetrics()
        header = self.table.horizontalHeader()
        padding = 2 * self.table.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin) + 2
        for column, name in enumerate(COLUMNS[1:], start=1):
            widest = "12,345,678" if name in COUNT_COLUMNS else "0.0000"
            texts = [widest, *HEADER_TEXTS[name].split("\n")]
            header.resizeSection(column, max(metrics.horizontalAdvance(text) for text in texts) + padding)
        self._size_class_column()

    def _size_class_column(self) -> None:
        names = [self.table.item(row, 0).text() for row in range(self.table.rowCount()) if self.table.item(row, 0)]
        metrics = self.table.fontMetrics()
        widest = max([metrics.horizontalAdvance(name) for name in names] + [metrics.horizontalAdvance("Pedestrian")])
        padding = 2 * self.table.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin) + 8  # a cell's margins
        self.table.horizontalHeader().resizeSection(0, min(widest + padding, 160))
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """Never narrower than the class names with their IoU and Dice columns (the pixel counts may scroll)."""
        hint = super().minimumSizeHint()
        header = self.table.horizontalHeader()
        columns = sum(header.sectionSize(c) for c, name in enumerate(COLUMNS) if name not in COUNT_COLUMNS)
        scrollbar = self.table.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        margins = self.layout().contentsMargins() if self.layout() is not None else None
        sides = 0 if margins is None else margins.left() + margins.right()
        return QSize(max(hint.width(), columns + 2 * self.table.frameWidth() + scrollbar + sides), hint.height())

    def _fit_rows(self) -> None:
        """No taller than its rows (many classes: as tall as the panel allows, then it scrolls)."""
        table = self.table
        scrollbar = table.horizontalScrollBar().sizeHint().height() if self.show_counts_action.isChecked() else 0
        rows = sum(table.rowHeight(row) for row in range(table.rowCount()))
        table.setMaximumHeight(table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth() + scrollbar)

    def show_counts(self, shown: bool) -> None:
        """Show or hide the pixel-count columns (overlap, combined, union); IoU and Dice always show."""
        for column, name in enumerate(COLUMNS):
            self.table.setColumnHidden(column, name in COUNT_COLUMNS and not shown)
        if self.show_counts_action.isChecked() != shown:
            self.show_counts_action.setChecked(shown)
        self._fit_rows()

    def visible_columns(self) -> list[str]:
        return [name for column, name in enumerate(COLUMNS) if not self.table.isColumnHidden(column)]

    def set_session(self, session: ImageSession | None) -> None:
        """Show ``session``'s figures and follow its edits (strokes, undo, redo, accept, reset) the way the canvas
        does: by listening to the session itself, so no caller has to remember to refresh the panel."""
        if self._session is not None:
            self._session.remove_listener(self._on_session_changed)
        self._session = session
        if session is not None:
            session.add_listener(self._on_session_changed)
        self.refresh()

    def _on_session_changed(self, _rect: object) -> None:
        self.schedule_refresh()

    def set_dataset_scores(self, scores: DatasetScores | None, images: int, total: int, *, running: bool = False,
                           source: str = "") -> None:
        """Show the dataset's model-vs-truth means over ``images`` scored images of ``total``; ``source`` says what
        was scored ("model demo-model", "predictions/ folder"), in the words ``segstudio demo`` prints too."""
        self.dataset_line.setText(dataset_line(scores, images, total, source, running=running))

    def set_instance_scores(self, result: DatasetInstanceScores | None) -> None:
        """The dataset's mask AP line (hidden when no image has both instance truth and instance predictions)."""
        self.instance_line.setVisible(result is not None)
        if result is not None:
            scores = result.scores
            self.instance_line.setText(
                f"instances ({len(result.per_image)} images): mask AP@0.5 {fmt_ratio(scores.ap50)}, "
                f"AP@[.5:.95] {fmt_ratio(scores.ap)}; {scores.matched_objects:,} of {scores.truth_objects:,} objects "
                f"matched, {scores.predicted_objects:,} predicted")

    def set_selected_class(self, class_id: int) -> None:
        self._selected = class_id
        self.schedule_refresh()

    def schedule_refresh(self) -> None:
        """Refresh at the next event-loop turn (many edits in one turn: one refresh)."""
        if not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        self._timer.stop()
        session = self._session
        if session is None:
            self.table.setRowCount(0)
            self.summary_truth.setText("vs truth: n/a")
            self.summary_prediction.setText("vs pred: n/a")
            self.selected_line.setText("")
            return
        truth = session.scores_vs_truth()
        prediction = session.scores_vs_prediction()
        names = session.labels.names
        if self.table.rowCount() != len(names):
            self.table.setRowCount(len(names))
            for row in range(len(names)):
                self.table.setItem(row, 0, QTableWidgetItem(""))
                for column in range(1, len(COLUMNS)):
                    cell = QTableWidgetItem("")
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, column, cell)
        if [self.table.item(row, 0).text() for row in range(len(names))] != list(names):  # added or renamed
            for row, name in enumerate(names):
                self.table.item(row, 0).setText(name)
                self.table.item(row, 0).setToolTip(name)
            self._size_class_column()
            self._fit_rows()
        for row in range(len(names)):
            cells = self.row_texts(row, truth, prediction)
            for column, text in enumerate(cells, start=1):
                item = self.table.item(row, column)
                if item.text() != text:
                    item.setText(text)
        self.summary_truth.setText(
            "vs truth: " + ("no ground truth" if truth is None else
                                   f"mean IoU {fmt_ratio(truth.mean_iou)}, mean Dice {fmt_ratio(truth.mean_dice)}")
        )
        self.summary_prediction.setText(
            "vs pred: " + ("no prediction" if prediction is None else
                                 f"mean IoU {fmt_ratio(prediction.mean_iou)}, mean Dice {fmt_ratio(prediction.mean_dice)}")
        )
        if self._selected is not None and 0 <= self._selected < len(names) and (truth or prediction) is not None:
            parts = []
            for what, scores in (("vs ground truth", truth), ("vs prediction", prediction)):
                if scores is not None:
                    c = scores.classes[self._selected]  # IoU and Dice are in the table's row
                    parts.append(f"{what}: overlap {fmt_count(c.overlap)}, combined {fmt_count(c.combined)}, "
                                 f"union {fmt_count(c.union)}")
            self.selected_line.setText(f"{names[self._selected]}, pixels " + "; ".join(parts))
        else:
            self.selected_line.setText("")

    @staticmethod
    def row_texts(class_id: int, truth: Scores | None, prediction: Scores | None) -> list[str]:
        """The texts of one row after the class name (see :data:`COLUMNS`)."""
        if truth is None:
            cells = ["n/a"] * 5
        else:
            c = truth.classes[class_id]
            cells = [fmt_count(c.overlap), fmt_count(c.combined), fmt_count(c.union), fmt_ratio(c.iou), fmt_ratio(c.dice)]
        if prediction is None:
            cells += ["n/a"] * 5
        else:
            p = prediction.classes[class_id]
            cells += [fmt_count(p.overlap), fmt_count(p.combined), fmt_count(p.union), fmt_ratio(p.iou), fmt_ratio(p.dice)]
        return cells

    def cell_text(self, class_id: int, column: str) -> str:
        return self.table.item(class_id, COLUMNS.index(column)).text()
