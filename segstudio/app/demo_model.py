"""The demo project's own model, Qt-free: what it is trained with, where it is cached, training it, and scoring it.

The window runs :func:`train_demo_model` on a worker (:mod:`segstudio.ui.demo_model`); the stamp beside the
checkpoint (the demo version and the training settings) says whether a cached model still fits.
``segstudio demo`` runs :func:`score_demo_model`: the same cached model (trained first when there is none), its
predictions written where the window writes them, scored the way the window scores them, so the command line and
the window show the same figures. The demo's ``predictions/`` folder is synthetic (made by code, not by a model):
:data:`SYNTHETIC_WORDS` says so wherever its scores are shown.
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
SYNTHETIC_PREDICTIONS = "the demo's synthetic predictions/ (made by code, not a model)"
SYNTHETIC_WORDS = {"predictions": SYNTHETIC_PREDICTIONS}  # the demo project's mask source of those synthetic masks


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


DEFAULT_SETTINGS = DemoTrainingSettings()  # the window's demo and ``segstudio demo`` train and look up the same model


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


@dataclass(frozen=True)
class DemoModelScores:
    """What :func:`score_demo_model` did: the model used (``trained``: trained now, else the cached one), where its
    predictions went, and their scores against the ground truth; ``source`` names the model as the window does."""

    checkpoint: Path
    trained: DemoTrained | None
    predicted: Any  # segstudio.app.project_predictions.PredictedFolder
    result: Any  # segstudio.app.scoring.DatasetScoresResult
    source: str


def score_demo_model(
    folder: Path, settings: DemoTrainingSettings | None = None, *, device: str | None = None,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
) -> DemoModelScores:
    """The demo model's scores, as the window counts them: the cached model for ``settings`` (trained now when
    there is none), every demo image predicted into ``segstudio-predictions/<model>/`` (where the window writes and
    finds them) and scored against the ground truth with the window's scoring. ``device``: the window's default
    (CUDA when torch sees a GPU, else the CPU) when not given."""
    from segstudio.app.loaded_model import available_devices, load_model
    from segstudio.app.project import open_project
    from segstudio.app.project_predictions import predict_all
    from segstudio.app.score_sources import score_sources
    from segstudio.app.scoring import score_dataset

    folder = Path(folder)
    settings = settings or DEFAULT_SETTINGS
    checkpoint = cached_checkpoint(folder, settings)
    trained = None
    if checkpoint is None:
        trained = train_demo_model(folder, settings, progress=progress, cancel=cancel)
        checkpoint = trained.checkpoint
    model = load_model(checkpoint, device or available_devices()[0], progress=progress, cancel=cancel)
    project = open_project(folder)
    dataset = project.dataset
    predicted = predict_all(model, dataset, progress=progress, cancel=cancel)
    # What the window scores: masks found from earlier runs, overwritten by the ones written now.
    overrides = {**project.app_predictions, **predicted.written}
    result = score_dataset(dataset, overrides, progress=progress, cancel=cancel)
    source = score_sources(dataset, overrides, SYNTHETIC_WORDS).overall
    return DemoModelScores(checkpoint, trained, predicted, result, source)
