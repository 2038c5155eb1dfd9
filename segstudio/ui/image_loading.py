"""Reading the chosen image on the "load" worker: which image is being read, and its session or why it failed.

The pool keeps one job per channel and drops a stale result, so choosing images quickly shows the last one chosen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from segstudio.app.sample_loader import LoadedSample, load_sample
from segstudio.io.datasets import Dataset, Sample
from segstudio.ui.workers import WorkerFailure, WorkerPool


class ImageLoading(QObject):
    """``loaded(LoadedSample)`` with the session ready to show; ``failed(message)`` when the image cannot be used."""

    loaded = Signal(object)
    failed = Signal(str)

    def __init__(self, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._key: str | None = None
        channel = pool.signals("load")
        channel.finished.connect(self._on_loaded)
        channel.failed.connect(self._on_failed)

    @property
    def key(self) -> str | None:
        """The image being read (None when none); ``loaded`` or ``failed`` follows."""
        return self._key

    def start(self, dataset: Dataset, sample: Sample, *, recovered: np.ndarray | None, prediction: Path | None) -> None:
        """Read ``sample``: ``recovered`` (unsaved work) goes on top as one undo step; ``prediction`` is a mask the
        loaded model wrote, used instead of the dataset's prediction folders."""
        self._key = sample.key
        self._pool.submit("load", lambda progress, cancel: load_sample(
            dataset, sample, recovered=recovered, prediction_path=prediction, progress=progress, cancel=cancel))  # fmt: skip

    def _on_loaded(self, loaded: LoadedSample) -> None:
        self._key = None
        self.loaded.emit(loaded)

    def _on_failed(self, failure: WorkerFailure) -> None:
        self._key = None
        self.failed.emit(failure.message)
