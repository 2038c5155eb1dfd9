"""The demo project's own model: trained on first start on a worker, cached in the demo folder.

The demo folder (:func:`segstudio.io.demo_dataset.ensure_demo_dataset`) holds images and ground truth made by
our own code, plus synthetic imperfect predictions under ``predictions/``. Those synthetic masks are only a
fallback: they are what the window shows while the demo model trains, named as such wherever their scores show
("the demo's synthetic predictions/ (made by code, not a model)"). :class:`DemoController` makes the real thing,
the same model ``segstudio demo`` uses (:func:`segstudio.app.demo_model.score_demo_model`), so both show the same
figures:

1. If ``demo-model.safetensors`` is in the demo folder and its stamp (``demo-model.stamp``: the demo version
   and the training settings) matches, it is loaded at once (on the "model" worker channel) and every demo image
   is predicted (on the "predict" channel). A cached file that fails to load is trained again, once.
2. Otherwise a small U-Net (classic encoder, 8 base channels, 128-pixel crops, a fixed seed, a time budget) is
   trained on the "train demo" worker channel, with progress in the model panel and the status bar
   ("training the demo model: epoch 3/10, val IoU 0.62"); then step 1 follows.

The window's model predictions (``segstudio-predictions/demo-model/``) win over the synthetic ones as soon as they
are written, so the prediction layer, the error map, the file list's IoU/Dice and the metrics panel show the
model's real output; the status bar says when the scores switch (:mod:`segstudio.ui.model_results`).
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from segstudio.app.demo_model import (
    DEFAULT_SETTINGS,
    DEMO_STAMP_FILE,
    DemoTrained,
    DemoTrainingSettings,
    cached_checkpoint,
    train_demo_model,
)
from segstudio.app.loaded_model import ModelHandle
from segstudio.core.progress import Progress
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.workers import WorkerFailure, WorkerPool

TRAIN_CHANNEL = "train demo"


def describe(progress: Progress, epochs: int) -> str:
    """"training the demo model: epoch 3/10, val IoU 0.62" from a training progress report."""
    if progress.stage == "validate":
        iou = progress.metrics.get("mean_iou")
        tail = "" if iou is None else f", val IoU {iou:.2f}"
        return f"training the demo model: epoch {progress.done}/{progress.total}{tail}"
    if progress.stage == "train":
        epoch = progress.metrics.get("epoch")
        where = f"epoch {int(epoch)}/{epochs}" if epoch is not None else progress.message
        return f"training the demo model: {where}, batch {progress.done}/{progress.total}"
    return f"training the demo model: {progress.stage}..."


class _Stage(Enum):
    """What the demo still waits for before its predictions count as shown."""

    WRITTEN = "written"  # "predict all" wrote the model's masks
    APPLIED = "applied"  # the shown image has the model's prediction
    SCORED = "scored"  # the dataset's scores are counted again


class DemoController(QObject):
    """Gets the demo model in: cached, or trained on the worker first (see the module notes).

    Out: ``load_requested(path)``: load this checkpoint and predict every image with it; ``ready(path)`` once it
    is loaded; ``shown()`` once its predictions are written, on screen and scored (screenshots wait for it);
    ``failed(message)`` (the demo keeps its synthetic predictions); ``status(message, ms)``: the training line and
    the outcome, for the status bar (0 ms: until the next message).
    In (the window connects them): :meth:`predictions_written`, :meth:`prediction_applied`, :meth:`dataset_scored`.
    """

    ready = Signal(object)
    shown = Signal()
    failed = Signal(str)
    status = Signal(str, int)
    load_requested = Signal(object)

    def __init__(self, pool: WorkerPool, panel: ModelPanel, folder: Path, settings: DemoTrainingSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._panel = panel
        self.folder = Path(folder)
        self.settings = settings or DEFAULT_SETTINGS
        self.trained_now = False
        self._retrained = False
        self._last_iou: float | None = None
        self._active = True
        self._waiting: set[_Stage] = set()
        signals = pool.signals(TRAIN_CHANNEL)
        signals.progress.connect(self._on_progress)
        signals.finished.connect(self._on_trained)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(lambda: self._give_up("demo model training cancelled"))
        panel.model_loaded.connect(self._on_loaded)
        panel.model_failed.connect(self._on_load_failed)

    def start(self) -> None:
        cached = cached_checkpoint(self.folder, self.settings)
        if cached is not None:
            self.status.emit(f"loading the demo model {cached.name}", 0)
            self.load_requested.emit(cached)
        else:
            self._train()

    def cancel(self) -> None:
        self._pool.cancel(TRAIN_CHANNEL)

    @property
    def training(self) -> bool:
        return self._panel.running == "train"

    # -- what the window reports ----------------------------------------------------------------------------------

    def predictions_written(self, image_shown: bool) -> None:
        """"Predict all" finished; ``image_shown``: an image is on screen (its new prediction is then awaited)."""
        if self._waiting == {_Stage.WRITTEN}:
            self._waiting = {_Stage.APPLIED, _Stage.SCORED} if image_shown else {_Stage.SCORED}

    def prediction_applied(self) -> None:
        self._tick(_Stage.APPLIED)

    def dataset_scored(self) -> None:
        self._tick(_Stage.SCORED)

    def _tick(self, stage: _Stage) -> None:
        if stage in self._waiting and _Stage.WRITTEN not in self._waiting:
            self._waiting.discard(stage)
            if not self._waiting:
                self.shown.emit()

    # -- training and loading ---------------------------------------------------------------------------------------

    def _train(self) -> None:
        folder, settings = self.folder, self.settings
        self._panel.start("training the demo model (about half a minute)...", "train")
        self.status.emit("training the demo model: starting...", 0)
        self._pool.submit(TRAIN_CHANNEL, lambda progress, cancel: train_demo_model(
            folder, settings, progress=progress, cancel=cancel))

    def _on_progress(self, progress: Progress) -> None:
        if progress.stage == "validate" and "mean_iou" in progress.metrics:
            self._last_iou = progress.metrics["mean_iou"]
        text = describe(progress, self.settings.epochs)
        if progress.stage == "train" and self._last_iou is not None:
            text += f" (val IoU so far {self._last_iou:.2f})"
        panel = self._panel
        panel.show_progress(replace(progress, message=""))
        panel.progress.setFormat(text.removeprefix("training the demo model: "))
        panel.message.setText(text)
        self.status.emit(text, 0)

    def _on_trained(self, trained: DemoTrained) -> None:
        self.trained_now = True
        iou = "" if trained.mean_iou is None else f", val IoU {trained.mean_iou:.2f}"
        self._panel.finish(f"demo model trained in {trained.seconds:.0f} s{iou}")
        self.status.emit(f"demo model trained in {trained.seconds:.0f} s{iou}; predicting the demo images...", 0)
        self.load_requested.emit(trained.checkpoint)

    def _on_failed(self, failure: WorkerFailure) -> None:
        self._give_up(f"could not train the demo model: {failure.message}")

    def _give_up(self, message: str) -> None:
        self._active = False
        self._panel.finish(message)
        self.status.emit(message + " (the demo keeps its synthetic predictions)", 15000)
        self.failed.emit(message)

    def _on_loaded(self, handle: ModelHandle) -> None:
        if self._active and Path(handle.path).parent == self.folder:
            self._active = False
            self._waiting = {_Stage.WRITTEN}
            self.ready.emit(handle.path)

    def _on_load_failed(self, message: str) -> None:
        if not self._active:
            return
        if self._retrained:
            self._give_up(message)
            return
        self._retrained = True  # a corrupt cached file: train it again, once
        (self.folder / DEMO_STAMP_FILE).unlink(missing_ok=True)
        self._train()


__all__ = ["DemoController", "DemoTrained", "DemoTrainingSettings", "cached_checkpoint", "describe",
           "train_demo_model"]
