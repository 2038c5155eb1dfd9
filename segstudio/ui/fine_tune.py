"""Fine-tuning the current model on the accepted masks, from the window: :class:`FineTuneController` runs
:func:`segstudio.app.fine_tune.fine_tune` on the "fine-tune" worker channel and :class:`FineTunePanel` shows it.

The panel says what runs (the model, how many accepted images train and how many are held out), a progress line,
a live plot (:class:`~segstudio.ui.fine_tune_plot.FineTunePlot`, drawn with QPainter) of the training loss and the held-out IoU per epoch with
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

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
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
from segstudio.ui.fine_tune_plot import FineTunePlot
from segstudio.ui.workers import WorkerFailure, WorkerPool

CHANNEL = "fine-tune"
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
