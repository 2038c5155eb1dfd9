"""The demo project's own model: trained on first start on a worker, cached in the demo folder.

The demo folder (:func:`segstudio.io.demo_dataset.ensure_demo_dataset`) holds images and ground truth made by
our own code, plus synthetic imperfect predictions under ``predictions/``. Those synthetic masks are only a
fallback: they are what the window shows while the demo model trains (and what ``segstudio demo`` scores).
:class:`DemoModel` makes the real thing:

1. If ``demo-model.safetensors`` is in the demo folder and its stamp (``demo-model.stamp``: the demo version
   and the training settings) matches, it is loaded at once (on the "model" worker channel) and every demo image
   is predicted (on the "predict" channel). A cached file that fails to load is trained again, once.
2. Otherwise a small U-Net (classic encoder, 8 base channels, 128-pixel crops, a fixed seed, a time budget) is
   trained on the "train demo" worker channel, with progress in the model panel and the status bar
   ("training the demo model: epoch 3/10, val IoU 0.62"); then step 1 follows.

The window's model predictions (``segstudio-predictions/demo-model/``) win over the synthetic ones as soon as they
are written, so the prediction layer, the error map, the file list's IoU/Dice and the metrics panel show the
model's real output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from segstudio.io.demo_dataset import DEMO_VERSION
from segstudio.core.progress import CancelToken, Progress, ProgressCallback
from segstudio.ui.workers import WorkerFailure

if TYPE_CHECKING:
    from segstudio.ui.main_window import MainWindow

DEMO_MODEL_FILE = "demo-model.safetensors"
DEMO_STAMP_FILE = "demo-model.stamp"
TRAIN_CHANNEL = "train demo"


@dataclass(frozen=True)
class DemoTrainingSettings:
    """What the demo model is trained with (part of the cache stamp: change it and the model is trained again)."""

    epochs: int = 30
    crop_size: int = 128
    batch_size: int = 4
    samples_per_epoch: int = 32
    learning_rate: float = 5e-3
    base_channels: int = 8
    max_seconds: float = 35.0
    seed: int = 0

    def config(self) -> Any:
        from segstudio.models.training import TrainingConfig

        return TrainingConfig(
            architecture="unet", encoder="classic", options={"base_channels": self.base_channels},
            epochs=self.epochs, crop_size=self.crop_size, batch_size=self.batch_size,
            samples_per_epoch=self.samples_per_epoch, learning_rate=self.learning_rate,
            max_seconds=self.max_seconds, seed=self.seed, val_fraction=0.2, device="cpu",
        )

    def stamp(self) -> str:
        settings = {k: v for k, v in self.__dict__.items() if k != "max_seconds"}
        return json.dumps({"demo_version": DEMO_VERSION, "settings": settings}, sort_keys=True)


@dataclass(frozen=True)
class DemoTrained:
    checkpoint: Path
    best_epoch: int | None
    mean_iou: float | None
    seconds: float


def cached_checkpoint(folder: Path, settings: DemoTrainingSettings) -> Path | None:
    """The demo model in ``folder`` when it is there and was trained for this demo version and settings."""
    path, stamp = Path(folder) / DEMO_MODEL_FILE, Path(folder) / DEMO_STAMP_FILE
    try:
        if path.is_file() and path.stat().st_size > 0 and stamp.read_text(encoding="utf-8") == settings.stamp():
            return path
    except OSError:
        return None
    return None


def train_demo_model(
    folder: Path, settings: DemoTrainingSettings, *, progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DemoTrained:
    """Train the demo model on the demo folder (a worker job); writes the checkpoint and then its stamp."""
    import torch

    from segstudio.core.atomic import write_bytes_atomic
    from segstudio.models.training import train

    folder = Path(folder)
    (folder / DEMO_STAMP_FILE).unlink(missing_ok=True)
    # One torch thread: on a small shared CPU, torch's spinning thread pool made each step 5-10x slower (0.09 s
    # against 0.3-1 s for a batch of 4 crops of 128 px) and starved the GUI thread. Process-wide, so restored.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(folder, settings.config(), folder / DEMO_MODEL_FILE, progress=progress, cancel=cancel)
    finally:
        torch.set_num_threads(threads)
    write_bytes_atomic(folder / DEMO_STAMP_FILE, settings.stamp().encode("utf-8"))
    iou = result.best_metrics.get("mean_iou")
    return DemoTrained(result.checkpoint, result.best_epoch, None if iou is None else float(iou), result.seconds)


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


class DemoModel(QObject):
    """Gets the demo model into the window: cached, or trained on the worker first. ``ready(path)`` once the
    model is loaded (its predictions follow through the window's "predict all"), ``failed(message)``."""

    ready = Signal(object)
    shown = Signal()  # the model's predictions are written, on screen and scored (screenshots wait for it)
    failed = Signal(str)
    status = Signal(str)  # the training line, for the status bar and tests

    def __init__(self, window: MainWindow, folder: Path, settings: DemoTrainingSettings | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.folder = Path(folder)
        self.settings = settings or DemoTrainingSettings()
        self.trained_now = False
        self._retrained = False
        self._last_iou: float | None = None
        self._active = True
        signals = window.pool.signals(TRAIN_CHANNEL)
        signals.progress.connect(self._on_progress)
        signals.finished.connect(self._on_trained)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(lambda: self._give_up("demo model training cancelled"))
        self._waiting: set[str] = set()
        window.predictions_written.connect(self._on_written)
        window.prediction_applied.connect(lambda _key: self._tick("applied"))
        window.dataset_scored.connect(lambda _result: self._tick("scored"))
        window.model_panel.model_loaded.connect(self._on_loaded)
        window.model_panel.model_failed.connect(self._on_load_failed)

    def start(self) -> None:
        cached = cached_checkpoint(self.folder, self.settings)
        if cached is not None:
            self.status.emit(f"loading the demo model {cached.name}")
            self.window.load_model(cached, predict="all")
        else:
            self._train()

    def cancel(self) -> None:
        self.window.pool.cancel(TRAIN_CHANNEL)

    @property
    def training(self) -> bool:
        return self.window.model_panel.running == "train"

    def _train(self) -> None:
        folder, settings = self.folder, self.settings
        self.window.model_panel.start("training the demo model (about half a minute)...", "train")
        self._show("training the demo model: starting...")
        self.window.pool.submit(TRAIN_CHANNEL, lambda progress, cancel: train_demo_model(
            folder, settings, progress=progress, cancel=cancel))

    def _show(self, text: str) -> None:
        self.window.statusBar().showMessage(text)
        self.status.emit(text)

    def _on_progress(self, progress: Progress) -> None:
        if progress.stage == "validate" and "mean_iou" in progress.metrics:
            self._last_iou = progress.metrics["mean_iou"]
        text = describe(progress, self.settings.epochs)
        if progress.stage == "train" and self._last_iou is not None:
            text += f" (val IoU so far {self._last_iou:.2f})"
        panel = self.window.model_panel
        panel.show_progress(replace(progress, message=""))
        panel.progress.setFormat(text.removeprefix("training the demo model: "))
        panel.message.setText(text)
        self._show(text)

    def _on_trained(self, trained: DemoTrained) -> None:
        self.trained_now = True
        iou = "" if trained.mean_iou is None else f", val IoU {trained.mean_iou:.2f}"
        self.window.model_panel.finish(f"demo model trained in {trained.seconds:.0f} s{iou}")
        self._show(f"demo model trained in {trained.seconds:.0f} s{iou}; predicting the demo images...")
        self.window.load_model(trained.checkpoint, predict="all")

    def _on_failed(self, failure: WorkerFailure) -> None:
        self._give_up(f"could not train the demo model: {failure.message}")

    def _give_up(self, message: str) -> None:
        self._active = False
        self.window.model_panel.finish(message)
        self.window.statusBar().showMessage(message + " (the demo keeps its synthetic predictions)", 15000)
        self.failed.emit(message)

    def _on_loaded(self, handle: Any) -> None:
        if self._active and Path(handle.path).parent == self.folder:
            self._active = False
            self._waiting = {"written"}
            self.ready.emit(handle.path)

    def _on_written(self, _result: Any) -> None:
        if self._waiting == {"written"}:
            self._waiting = {"applied", "scored"} if self.window.current_key is not None else {"scored"}

    def _tick(self, what: str) -> None:
        if what in self._waiting and "written" not in self._waiting:
            self._waiting.discard(what)
            if not self._waiting:
                self.shown.emit()

    def _on_load_failed(self, message: str) -> None:
        if not self._active:
            return
        if self._retrained:
            self._give_up(message)
            return
        self._retrained = True  # a corrupt cached file: train it again, once
        (self.folder / DEMO_STAMP_FILE).unlink(missing_ok=True)
        self._train()
