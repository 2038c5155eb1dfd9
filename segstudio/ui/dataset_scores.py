"""The model-vs-truth scores of every image and of the dataset, computed on workers for the file list and the
metrics panel: the whole dataset after a folder opens or "predict all", one image after its prediction changed.

A :class:`DatasetScoresController` owns the per-image scores and the "dataset metrics" job; it reports through
``image_scores`` (a batch of rows for the file list, at most every 150 ms while the job runs), ``image_score`` (one
row), ``dataset_scored`` (the dataset's result) and ``progress_shown`` (the panel's running state). For a data set
with instance ground truth, the "instance AP" job follows on its own worker: COCO mask AP of the predictions that
hold instances (``instances_scored``, None when no image has both).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from segstudio.core.progress import Progress
from segstudio.io.datasets import Dataset
from segstudio.app.dataset_instance_ap import dataset_instance_scores, has_instance_truth, instance_predictions
from segstudio.app.scoring import DatasetScoresResult, ImageScore, dataset_scores, score_dataset, score_image
from segstudio.ui.workers import WorkerFailure, WorkerPool

BATCH_MS = 150  # rows that arrive while the job runs reach the file list at most this often


class DatasetScoresController(QObject):
    """Model vs truth per image and for the dataset (see the module notes)."""

    image_scores = Signal(object)  # {key: (mean IoU, mean Dice)}: a batch of file-list rows
    image_score = Signal(str, object, object)  # key, mean IoU, mean Dice: one row
    dataset_scored = Signal(object)  # DatasetScoresResult
    instances_scored = Signal(object)  # DatasetInstanceScores | None, for a data set with instance ground truth
    started = Signal(int)  # the number of images being scored
    failed = Signal(str)

    def __init__(self, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._dataset: Dataset | None = None
        self._scores: dict[str, ImageScore] = {}
        self._running = False
        self._pending: dict[str, tuple[float | None, float | None]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(BATCH_MS)
        self._timer.timeout.connect(self._flush)
        signals = pool.signals("dataset metrics")
        signals.progress.connect(self._on_progress)
        signals.finished.connect(self._on_scored)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(self._on_cancelled)

    def open_dataset(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._scores.clear()
        self._pending.clear()

    @property
    def running(self) -> bool:
        return self._running

    def score_dataset(self, predictions: Mapping[str, Path]) -> None:
        """Score every image of the open dataset on the "dataset metrics" worker; ``predictions`` (key -> mask
        the app wrote) win over the dataset's own prediction folders. Rows fill in as images finish."""
        dataset = self._dataset
        if dataset is None:
            return
        self._pending.clear()
        overrides = dict(predictions)
        self._running = True
        self.started.emit(len(dataset.samples))
        self._pool.submit("dataset metrics", lambda progress, cancel: score_dataset(
            dataset, overrides, progress=progress, cancel=cancel))
        if has_instance_truth(dataset):
            handle = self._pool.submit("instance AP", lambda progress, cancel: dataset_instance_scores(
                dataset, instance_predictions(dataset, overrides), progress=progress, cancel=cancel))
            handle.signals.finished.connect(lambda result, d=dataset: self._on_instances(d, result))
            handle.signals.failed.connect(
                lambda failure: self.failed.emit(f"instance AP failed: {failure.message}"))

    def _on_instances(self, dataset: Dataset, result: object) -> None:
        if dataset is self._dataset:
            self.instances_scored.emit(result)

    def score_image(self, key: str, prediction: np.ndarray, truth: np.ndarray) -> None:
        """Score one image again (its prediction changed), on a worker; the dataset's figures follow."""
        dataset = self._dataset
        if dataset is None:
            return
        sample = dataset.sample(key)
        handle = self._pool.submit(f"image metrics {key}", lambda _p, _c: score_image(dataset, sample, prediction, truth))
        handle.signals.finished.connect(self._on_image_scored)

    def _on_progress(self, progress: Progress) -> None:
        if progress.message:
            self._pending[progress.message] = (progress.metrics.get("mean_iou"), progress.metrics.get("mean_dice"))
            if not self._timer.isActive():
                self._timer.start()

    def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, {}
            self.image_scores.emit(batch)

    def _on_failed(self, failure: WorkerFailure) -> None:
        self._running = False
        self.failed.emit(f"dataset metrics failed: {failure.message}")

    def _on_cancelled(self) -> None:
        self._running = False

    def _on_scored(self, result: DatasetScoresResult) -> None:
        self._running = False
        self._scores = dict(result.per_image)
        self._pending.clear()
        self._timer.stop()
        self.image_scores.emit({key: (score.mean_iou, score.mean_dice) for key, score in result.per_image.items()})
        self.dataset_scored.emit(result)

    def _on_image_scored(self, score: ImageScore) -> None:
        if self._dataset is None:
            return
        self._scores[score.key] = score
        self.image_score.emit(score.key, score.mean_iou, score.mean_dice)
        if not self._running:  # else its result (which includes this image) comes soon
            self.dataset_scored.emit(dataset_scores(self._dataset, self._scores))


__all__ = ["DatasetScoresController"]
