"""Fine-tuning the current model on the accepted masks, from the window: :class:`FineTuneController` runs
:func:`segstudio.app.fine_tune.fine_tune` on the "fine-tune" worker channel and :class:`FineTunePanel` shows it.

The panel says what runs (the model, how many accepted images train and how many are held out), a progress line,
a live plot (:class:`FineTunePlot`, drawn with QPainter) of the training loss and the held-out IoU per epoch with
the IoU before fine-tuning as a dashed line, and Cancel. When it ends: held-out mean IoU before and after and per
class, where the new model was saved, and "Re-predict the images still to do", which emits the new checkpoint's
path (the window loads it and predicts the images still to do).

Use (the window wires it)::

    controller = FineTuneController(pool, panel, parent)
    controller.start(dataset, accepted_keys, checkpoint_path, settings)   # False (and failed) when refused at once
    controller.finished.connect(...)            # FineTuneResult
    controller.failed.connect(...)              # a readable message
    controller.cancelled.connect(...)
    controller.repredict_requested.connect(...) # Path of the new checkpoint
    controller.status.connect(status_bar.showMessage)   # (text, ms; 0 = until the next message)
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segstudio.app.fine_tune import (
    AFTER_STAGE,
    BEFORE_STAGE,
    EPOCH_STAGE,
    TRAIN_STAGE,
    FineTuneResult,
    FineTuneSettings,
    fine_tune,
    plan_fine_tune,
)
from segstudio.core.progress import Progress
from segstudio.io.datasets import Dataset
from segstudio.ui.workers import WorkerFailure, WorkerPool

CHANNEL = "fine-tune"
LOSS_COLOUR = QColor("#2e6fba")
IOU_COLOUR = QColor("#d35400")
BEFORE_COLOUR = QColor("#7f8c8d")
BETTER_STYLE = "color: #1e8449"
WORSE_STYLE = "color: #c0392b"
ERROR_STYLE = "color: #c0392b"
# The window's fine-tune: one torch thread, as the demo's training (on a small shared CPU torch's spinning thread
# pool starved the GUI thread and made small steps slower, see segstudio.ui.demo_model).
WINDOW_SETTINGS = FineTuneSettings(threads=1)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.3f}"


class FineTunePlot(QWidget):
    """Training loss (left axis) and held-out mean IoU (right axis) per epoch; the IoU before fine-tuning dashed.

    Data (read by tests): ``points`` ``[(epoch, loss, iou or None)]``, ``before_iou``, ``epochs_planned``, ``live``
    ``(fractional epoch, running loss)`` while an epoch runs, ``best_epoch`` once known.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int, float, float | None]] = []
        self.before_iou: float | None = None
        self.epochs_planned = 1
        self.live: tuple[float, float] | None = None
        self.best_epoch: int | None = None
        self.setMinimumSize(260, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(380, 220)

    def reset(self, epochs: int) -> None:
        self.points, self.before_iou, self.live, self.best_epoch = [], None, None, None
        self.epochs_planned = max(1, int(epochs))
        self.update()

    def set_before(self, iou: float | None) -> None:
        self.before_iou = iou
        self.update()

    def add_epoch(self, epoch: int, loss: float, iou: float | None) -> None:
        self.points = [p for p in self.points if p[0] != epoch] + [(int(epoch), float(loss), iou)]
        self.points.sort()
        self.live = None
        self.update()

    def set_live(self, position: float, loss: float) -> None:
        self.live = (float(position), float(loss))
        self.update()

    # -- drawing -------------------------------------------------------------------------------------------------

    def _loss_top(self) -> float:
        losses = [p[1] for p in self.points] + ([self.live[1]] if self.live else [])
        top = max(losses, default=1.0)
        return _nice_ceiling(top if math.isfinite(top) and top > 0 else 1.0)

    def _iou_top(self) -> float:
        values = [p[2] for p in self.points if p[2] is not None] + ([self.before_iou] if self.before_iou else [])
        return min(1.0, max(0.1, math.ceil(max(values, default=0.1) * 10 + 0.5) / 10))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), self.palette().base())
        metrics = painter.fontMetrics()
        line = metrics.height()
        margin = metrics.horizontalAdvance("0.00") + 12
        legend = self._legend_rows(self.width() - 2 * margin, metrics.horizontalAdvance)
        area = QRectF(self.rect()).adjusted(margin, line * (0.5 + 1.3 * len(legend)), -margin, -(line * 2.2))
        if area.width() < 40 or area.height() < 30:
            return
        text_pen = QPen(self.palette().text().color())
        painter.setPen(QPen(self.palette().mid().color()))
        painter.drawRect(area)
        loss_top, iou_top, epochs = self._loss_top(), self._iou_top(), self.epochs_planned

        def x_of(epoch: float) -> float:
            return area.left() + area.width() * epoch / epochs

        def y_loss(value: float) -> float:
            return area.bottom() - area.height() * min(value, loss_top) / loss_top

        def y_iou(value: float) -> float:
            return area.bottom() - area.height() * min(value, iou_top) / iou_top

        # axes: ticks and labels (loss left, IoU right, epochs below)
        for i in range(5):
            fraction = i / 4
            y = area.bottom() - area.height() * fraction
            painter.setPen(QPen(self.palette().midlight().color(), 1, Qt.PenStyle.DotLine))
            if 0 < i < 4:
                painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(QPen(LOSS_COLOUR))
            painter.drawText(QRectF(0, y - line / 2, area.left() - 4, line), Qt.AlignmentFlag.AlignRight
                             | Qt.AlignmentFlag.AlignVCenter, _tick(loss_top * fraction))
            painter.setPen(QPen(IOU_COLOUR))
            painter.drawText(QRectF(area.right() + 4, y - line / 2, self.width() - area.right() - 4, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{iou_top * fraction:.2f}")
        painter.setPen(text_pen)
        step = max(1, math.ceil(epochs / 10))
        for epoch in range(0, epochs + 1, step):
            x = x_of(epoch)
            painter.drawText(QRectF(x - 20, area.bottom() + 2, 40, line), Qt.AlignmentFlag.AlignHCenter, str(epoch))
        painter.drawText(QRectF(area.left(), area.bottom() + line, area.width(), line), Qt.AlignmentFlag.AlignHCenter,
                         "epoch")

        # the legend above the plot, wrapped into rows that fit
        for row, items in enumerate(legend):
            x, y = area.left(), line * (0.8 + 1.3 * row)
            for colour, style, text in items:
                if style is Qt.PenStyle.NoPen:  # a marker: the kept epoch's ring, or this epoch's running loss
                    painter.setPen(QPen(colour, 2 if "kept" in text else 1.5))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawEllipse(QPointF(x + 8, y), 5 if "kept" in text else 3, 5 if "kept" in text else 3)
                else:
                    painter.setPen(QPen(colour, 2, style))
                    painter.drawLine(QPointF(x, y), QPointF(x + 16, y))
                painter.setPen(text_pen)
                painter.drawText(QPointF(x + 20, y + metrics.ascent() / 2 - 1), text)
                x += 20 + metrics.horizontalAdvance(text) + 14

        if self.before_iou is not None:
            painter.setPen(QPen(BEFORE_COLOUR, 1.5, Qt.PenStyle.DashLine))
            y = y_iou(self.before_iou)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.setClipRect(area.adjusted(-4, -4, 4, 4))
        self._series(painter, [(x_of(e), y_loss(loss)) for e, loss, _ in self.points], LOSS_COLOUR)
        ious = [(x_of(e), y_iou(iou)) for e, _, iou in self.points if iou is not None]
        if self.before_iou is not None:
            ious.insert(0, (x_of(0), y_iou(self.before_iou)))
        self._series(painter, ious, IOU_COLOUR)
        if self.best_epoch is not None:
            best = [p for p in self.points if p[0] == self.best_epoch and p[2] is not None]
            if best:
                painter.setPen(QPen(IOU_COLOUR, 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(QPointF(x_of(best[0][0]), y_iou(best[0][2])), 6, 6)
        if self.live is not None:
            painter.setPen(QPen(LOSS_COLOUR, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(x_of(self.live[0]), y_loss(self.live[1])), 3, 3)
        painter.setClipping(False)
        if not self.points:
            painter.setPen(text_pen)
            font = QFont(painter.font())
            font.setItalic(True)
            painter.setFont(font)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "the first epoch's point appears when it ends")

    def _legend_rows(self, width: float, advance) -> list[list[tuple[QColor, Qt.PenStyle, str]]]:  # noqa: ANN001
        items = [(LOSS_COLOUR, Qt.PenStyle.SolidLine, "training loss (left)"),
                 (IOU_COLOUR, Qt.PenStyle.SolidLine, "held-out IoU (right)")]
        if self.before_iou is not None:
            items.append((BEFORE_COLOUR, Qt.PenStyle.DashLine, f"IoU before {self.before_iou:.3f}"))
        if self.live is not None:
            items.append((LOSS_COLOUR, Qt.PenStyle.NoPen, "loss so far this epoch"))
        if self.best_epoch is not None:
            items.append((IOU_COLOUR, Qt.PenStyle.NoPen, f"kept: epoch {self.best_epoch}"))
        rows: list[list[tuple[QColor, Qt.PenStyle, str]]] = [[]]
        used = 0.0
        for item in items:
            size = 20 + advance(item[2]) + 14
            if rows[-1] and used + size > width:
                rows.append([])
                used = 0.0
            rows[-1].append(item)
            used += size
        return rows

    @staticmethod
    def _series(painter: QPainter, points: list[tuple[float, float]], colour: QColor) -> None:
        if not points:
            return
        painter.setPen(QPen(colour, 2))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            painter.drawLine(QPointF(x0, y0), QPointF(x1, y1))
        painter.setBrush(colour)
        for x, y in points:
            painter.drawEllipse(QPointF(x, y), 2.5, 2.5)
        painter.setBrush(Qt.BrushStyle.NoBrush)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10 x a power of ten that is at least ``value``: a top
    whose quarters (the axis' ticks) are round numbers too."""
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10):
        if step * power >= value * 0.999:
            return step * power
    return 10 * power


def _tick(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


class FineTunePanel(QWidget):
    """Progress, the live plot, Cancel, and the before/after IoU with "Re-predict the images still to do".

    Signals: ``cancel_requested()``, ``repredict_clicked()``.
    """

    cancel_requested = Signal()
    repredict_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.running = False
        self.epochs = 1
        title = QLabel("<b>Fine-tune on accepted masks</b>", self)
        self.summary = QLabel("Fine-tunes the loaded model on the accepted images; a part of them is held out to "
                              "measure it.", self)
        self.summary.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("stop; a cancelled fine-tune saves nothing")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.plot = FineTunePlot(self)
        self.outcome = QLabel("", self)
        self.outcome.setWordWrap(True)
        self.outcome.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels(["class", "before", "after", "change"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("IoU per class on the held-out images (n/a: the class is in neither the truth nor "
                              "the prediction)")
        self.repredict_button = QPushButton("Re-predict the images still to do", self)
        self.repredict_button.setToolTip("load the fine-tuned model and predict the images not yet accepted or rejected")
        self.repredict_button.clicked.connect(self.repredict_clicked)

        self.running_row = QWidget(self)
        row = QHBoxLayout(self.running_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(title)
        layout.addWidget(self.summary)
        layout.addWidget(self.running_row)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.outcome)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.repredict_button)
        self._show_outcome(False)
        self.running_row.hide()

    def _show_outcome(self, shown: bool) -> None:
        self.outcome.setVisible(shown)
        self.table.setVisible(shown)
        self.repredict_button.setVisible(shown)

    # -- states ----------------------------------------------------------------------------------------------------

    def start(self, summary: str, epochs: int) -> None:
        self.running = True
        self.epochs = max(1, int(epochs))
        self.summary.setText(summary)
        self.message.setStyleSheet("")
        self.message.setText("scoring the held-out images with the current model...")
        self.progress.setRange(0, 0)
        self.plot.reset(epochs)
        self._show_outcome(False)
        self.running_row.show()
        self.cancel_button.setEnabled(True)

    def show_progress(self, progress: Progress) -> str:
        """Take one report; returns the line shown (for the status bar)."""
        metrics = progress.metrics
        if progress.stage in (BEFORE_STAGE, AFTER_STAGE):
            which = "current" if progress.stage == BEFORE_STAGE else "fine-tuned"
            text = f"scoring the {progress.total} held-out images with the {which} model: {progress.done} of {progress.total}"
            if progress.stage == BEFORE_STAGE and progress.done >= progress.total and "mean_iou" in metrics:
                self.plot.set_before(metrics["mean_iou"])
                text = f"held-out IoU before fine-tuning: {metrics['mean_iou']:.3f}; training..."
            self._set_bar(progress.fraction)
        elif progress.stage == EPOCH_STAGE:
            epoch = int(metrics.get("epoch", 0))
            self.plot.add_epoch(epoch, float(metrics.get("loss", math.nan)), metrics.get("mean_iou"))
            text = (f"epoch {epoch} of {self.epochs} done: training loss {metrics.get('loss', math.nan):.3f}, "
                    f"held-out IoU {_fmt(metrics.get('mean_iou'))}")
            self._set_bar(epoch / self.epochs)
        elif progress.stage == TRAIN_STAGE:
            epoch = int(metrics.get("epoch", 1))
            position = epoch - 1 + progress.fraction
            if "loss" in metrics and progress.done > 0:
                self.plot.set_live(position, metrics["loss"])
            loss = f", loss {metrics['loss']:.3f}" if "loss" in metrics else ""
            text = f"training: epoch {epoch} of {self.epochs}, batch {progress.done} of {progress.total}{loss}"
            self._set_bar(position / self.epochs)
        else:
            text = f"{progress.stage}: {progress.done} of {progress.total}"
        self.message.setText(text)
        return text

    def _set_bar(self, fraction: float) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(min(1.0, max(0.0, fraction)) * 1000))

    def show_result(self, result: FineTuneResult) -> None:
        self.running = False
        self.running_row.hide()
        self.plot.best_epoch = result.best_epoch
        self.plot.update()
        change = result.change
        style = BETTER_STYLE if result.improved else WORSE_STYLE
        verdict = ("better" if result.improved else "no better") if change is not None else ""
        lines = [
            f"Held-out mean IoU ({len(result.held_out_keys)} images): <b>{_fmt(result.before.mean_iou)}</b> before "
            f"&rarr; <b>{_fmt(result.after.mean_iou)}</b> after "
            f"<span style='{style}'>({_signed(change)}, {verdict})</span>",
            f"Trained on {len(result.train_keys)} accepted images for {result.epochs} of {result.epochs_planned} "
            f"epochs in {result.seconds:.0f} s.",
            f"Saved as <b>{html.escape(result.checkpoint.name)}</b> beside {html.escape(result.base_checkpoint.name)} "
            f"(left unchanged), in {html.escape(str(result.checkpoint.parent))}",
        ]
        if not result.improved:
            lines.append(f"<span style='{WORSE_STYLE}'>The fine-tuned model does not score better on the held-out "
                         "images: you may keep the current one.</span>")
        lines += [f"<span style='color:#7f8c8d'>{html.escape(note)}</span>" for note in result.notes
                  if not note.startswith("fine-tuning from")]
        self.outcome.setText("<br>".join(lines))
        self._fill_table(result)
        self.message.setStyleSheet("")
        self.message.setText(f"fine-tuning finished in {result.seconds:.0f} s")
        self._show_outcome(True)

    def _fill_table(self, result: FineTuneResult) -> None:
        rows = list(zip(result.class_names, result.before.class_iou, result.after.class_iou))
        self.table.setRowCount(len(rows))
        for row, (name, before, after) in enumerate(rows):
            change = None if before is None or after is None else after - before
            cells = [name, _fmt(before), _fmt(after), _signed(change)]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 3 and change is not None and abs(change) >= 0.0005:
                    item.setForeground(QColor("#1e8449" if change > 0 else "#c0392b"))
                self.table.setItem(row, column, item)

    def show_ended(self, message: str, *, error: bool = False) -> None:
        """Cancelled or failed: ``message`` says so; the plot keeps what it had."""
        self.running = False
        self.running_row.hide()
        self.plot.live = None
        self.plot.update()
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(message)


class FineTuneController(QObject):
    """Runs a fine-tune on the "fine-tune" worker channel and keeps its panel up to date (see the module notes).

    Signals: ``finished(FineTuneResult)``, ``failed(str)``, ``cancelled()``, ``repredict_requested(Path)``,
    ``status(str, int)``.
    """

    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    repredict_requested = Signal(object)
    status = Signal(str, int)

    def __init__(self, pool: WorkerPool, panel: FineTunePanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self.panel = panel
        self.result: FineTuneResult | None = None
        signals = pool.signals(CHANNEL)
        signals.progress.connect(self._on_progress)
        signals.finished.connect(self._on_finished)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(self._on_cancelled)
        panel.cancel_requested.connect(self.cancel)
        panel.repredict_clicked.connect(self._repredict)

    @property
    def running(self) -> bool:
        return self.panel.running

    def start(self, dataset: Dataset, accepted_keys: Iterable[str], checkpoint_path: Path | str,
              settings: FineTuneSettings | None = None) -> bool:
        """Fine-tune ``checkpoint_path`` on ``accepted_keys`` on a worker. False (with ``failed``) when refused at
        once: too few accepted images, or a fine-tune already running."""
        settings = settings or WINDOW_SETTINGS
        keys = tuple(accepted_keys)
        checkpoint = Path(checkpoint_path)
        if self.running:
            self._refuse("a fine-tune is already running")
            return False
        try:
            plan = plan_fine_tune(keys, held_out_fraction=settings.held_out_fraction, seed=settings.seed)
        except ValueError as error:
            self._refuse(str(error))
            return False
        self.result = None
        budget = f", at most {settings.max_seconds / 60:.0f} min" if settings.max_seconds else ""
        self.panel.start(
            f"Fine-tuning <b>{checkpoint.name}</b> on {len(plan.train_keys)} accepted images; "
            f"{len(plan.held_out_keys)} held out to measure it ({settings.epochs} epochs{budget}).",
            settings.epochs,
        )
        self.status.emit(f"fine-tuning {checkpoint.name} on {plan.accepted} accepted images...", 0)
        self._pool.submit(CHANNEL, lambda progress, cancel: fine_tune(
            dataset, keys, checkpoint, settings, progress=progress, cancel=cancel))
        return True

    def cancel(self) -> None:
        if self.running:
            self.panel.message.setText("cancelling...")
            self.panel.cancel_button.setEnabled(False)
            self._pool.cancel(CHANNEL)

    def _refuse(self, message: str) -> None:
        if not self.running:
            self.panel.show_ended(f"cannot fine-tune: {message}", error=True)
        self.status.emit(f"cannot fine-tune: {message}", 15000)
        self.failed.emit(message)

    def _on_progress(self, progress: Progress) -> None:
        if self.running:
            self.status.emit(f"fine-tuning: {self.panel.show_progress(progress)}", 0)

    def _on_finished(self, result: FineTuneResult) -> None:
        self.result = result
        self.panel.show_result(result)
        self.status.emit(
            f"fine-tuned in {result.seconds:.0f} s: held-out IoU {_fmt(result.before.mean_iou)} -> "
            f"{_fmt(result.after.mean_iou)}; saved as {result.checkpoint.name}", 15000)
        self.finished.emit(result)

    def _on_failed(self, failure: WorkerFailure) -> None:
        message = failure.message
        self.panel.show_ended(f"fine-tuning failed: {message}", error=True)
        self.status.emit(f"fine-tuning failed: {message}", 15000)
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self.panel.show_ended("fine-tuning cancelled; nothing was saved")
        self.status.emit("fine-tuning cancelled; nothing was saved", 15000)
        self.cancelled.emit()

    def _repredict(self) -> None:
        if self.result is not None:
            self.repredict_requested.emit(self.result.checkpoint)


__all__ = ["CHANNEL", "WINDOW_SETTINGS", "FineTuneController", "FineTunePanel", "FineTunePlot"]
