"""Live scores of the working mask: per class against the ground truth and against the model's original
prediction, and the image's mean IoU / Dice. Reads :meth:`ImageSession.scores_vs_truth` and
:meth:`~ImageSession.scores_vs_prediction` (O(classes), kept current by the session from each edit's rectangle);
a refresh requested many times per event-loop turn runs once.

The dataset line underneath is the model against the ground truth over every image that has both (the window's
"dataset metrics" job): accumulated (confusion matrices summed, then scored) and mean of images, naming what was
scored (:func:`segstudio.app.score_sources.dataset_line`)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segstudio.app.score_sources import dataset_line
from segstudio.core.metrics import DatasetScores, Scores
from segstudio.core.session import ImageSession

COLUMNS = (
    "class", "overlap", "combined", "union", "IoU", "Dice",
    "overlap vs pred", "combined vs pred", "union vs pred", "IoU vs pred", "Dice vs pred",
)  # fmt: skip


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
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.summary_truth = QLabel("vs ground truth: n/a", self)
        self.summary_prediction = QLabel("vs prediction: n/a", self)
        self.selected_line = QLabel("", self)
        self.dataset_line = QLabel("dataset (prediction vs truth): n/a", self)
        self.dataset_line.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary_truth)
        layout.addWidget(self.summary_prediction)
        layout.addWidget(self.selected_line)
        layout.addWidget(self.dataset_line)
        layout.addWidget(self.table)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)

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
            self.summary_truth.setText("vs ground truth: n/a")
            self.summary_prediction.setText("vs prediction: n/a")
            self.selected_line.setText("")
            return
        truth = session.scores_vs_truth()
        prediction = session.scores_vs_prediction()
        names = session.labels.names
        if self.table.rowCount() != len(names):
            self.table.setRowCount(len(names))
            for row, name in enumerate(names):
                self.table.setItem(row, 0, QTableWidgetItem(name))
                for column in range(1, len(COLUMNS)):
                    self.table.setItem(row, column, QTableWidgetItem(""))
        for row in range(len(names)):
            cells = self.row_texts(row, truth, prediction)
            for column, text in enumerate(cells, start=1):
                item = self.table.item(row, column)
                if item.text() != text:
                    item.setText(text)
        self.summary_truth.setText(
            "vs ground truth: " + ("no ground truth" if truth is None else
                                   f"mean IoU {fmt_ratio(truth.mean_iou)}, mean Dice {fmt_ratio(truth.mean_dice)}")
        )
        self.summary_prediction.setText(
            "vs prediction: " + ("no prediction" if prediction is None else
                                 f"mean IoU {fmt_ratio(prediction.mean_iou)}, mean Dice {fmt_ratio(prediction.mean_dice)}")
        )
        if self._selected is not None and 0 <= self._selected < len(names) and (truth or prediction) is not None:
            parts = []
            for what, scores in (("vs ground truth", truth), ("vs prediction", prediction)):
                if scores is not None:
                    c = scores.classes[self._selected]
                    parts.append(
                        f"{what}: overlap {fmt_count(c.overlap)}, combined {fmt_count(c.combined)}, "
                        f"union {fmt_count(c.union)}, IoU {fmt_ratio(c.iou)}, Dice {fmt_ratio(c.dice)}"
                    )
            self.selected_line.setText(f"{names[self._selected]} - " + "; ".join(parts))
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
