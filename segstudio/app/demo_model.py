"""The demo project's own model, Qt-free: what it is trained with, where it is cached, and training it.

The window runs :func:`train_demo_model` on a worker (:mod:`segstudio.ui.demo_model`); the stamp beside the
checkpoint (the demo version and the training settings) says whether a cached model still fits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segstudio.core.progress import CancelToken, ProgressCallback
from segstudio.io.demo_dataset import DEMO_VERSION

DEMO_MODEL_FILE = "demo-model.safetensors"
DEMO_STAMP_FILE = "demo-model.stamp"


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
    from segstudio.app.training import train

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
