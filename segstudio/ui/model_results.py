"""Where the model's results show, and when its scores are counted.

The :class:`~segstudio.ui.predictions.PredictionController` makes predictions and the
:class:`~segstudio.ui.dataset_scores.DatasetScoresController` counts model-vs-truth scores; :class:`ModelResults`
decides when they are counted (the whole folder once its first image is on screen, since the image comes first;
again after "predict all"; the shown image alone after its prediction changed) and shows them: rows in the file
list, the dataset's figures in the metrics panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from segstudio.app.project_predictions import PredictedFolder
from segstudio.app.scoring import DatasetScoresResult
from segstudio.core.session import ImageSession
from segstudio.io.datasets import Dataset
from segstudio.ui.dataset_scores import DatasetScoresController
from segstudio.ui.file_list import SampleTableModel
from segstudio.ui.metrics_panel import MetricsPanel
from segstudio.ui.predictions import PredictionController


class ModelResults(QObject):
    """The model's results in one window (see the module notes).

    ``predictions_written(PredictedFolder)`` after "predict all" (the dataset is scored again);
    ``dataset_scored(DatasetScoresResult)`` once the metrics panel shows the dataset's figures; ``error(message)``.
    """

    predictions_written = Signal(object)
    dataset_scored = Signal(object)
    error = Signal(str)

    def __init__(self, predictions: PredictionController, scores: DatasetScoresController, panel: MetricsPanel,
                 rows: SampleTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._predictions = predictions
        self._scores = scores
        self._panel = panel
        self._dataset: Dataset | None = None
        self._key: str | None = None
        self._session: ImageSession | None = None
        self._after_first_image = False  # the folder's scores wait for its first image to be on screen
        predictions.predicted.connect(rows.set_prediction)
        predictions.folder_written.connect(self._on_written)
        predictions.error.connect(self.error)
        scores.image_scores.connect(rows.set_scores)
        scores.image_score.connect(rows.set_score)
        scores.started.connect(lambda total: panel.set_dataset_scores(None, 0, total, running=True))
        scores.dataset_scored.connect(self._on_scored)
        scores.failed.connect(self.error)

    def open_dataset(self, dataset: Dataset, found: Mapping[str, Path] | None, *, image_coming: bool) -> None:
        """A folder opened (``found``: masks the app predicted there in earlier runs); ``image_coming``: its first
        image is loading, and the folder is scored once that is on screen; else it is scored now."""
        self._dataset, self._key, self._session = dataset, None, None
        self._predictions.open_dataset(dataset, found)
        self._scores.open_dataset(dataset)
        self._after_first_image = image_coming
        if not image_coming:
            self.score_dataset()

    def show(self, key: str, session: ImageSession) -> None:
        """``session`` of image ``key`` goes on screen."""
        self._key, self._session = key, session
        self._predictions.show(key, session)

    def image_shown(self) -> None:
        """The image is on screen (after ``sample_loaded``): the folder's scores may start, and a prediction asked
        for before the image (or the model) was in."""
        self._start_waiting_scores()
        self._predictions.image_ready()

    def image_failed(self) -> None:
        """The image could not be read: the folder's scores start anyway."""
        self._start_waiting_scores()

    def _start_waiting_scores(self) -> None:
        if self._after_first_image:
            self._after_first_image = False
            dataset = self._dataset
            # At the next turn: the image's first paint comes before the job's first rows.
            QTimer.singleShot(0, self, lambda: self.score_dataset() if self._dataset is dataset else None)

    def score_dataset(self) -> None:
        """Score the model against the truth for every image (rows fill in as images finish)."""
        self._after_first_image = False
        self._scores.score_dataset(self._predictions.files)

    def score_shown_image(self) -> None:
        """Model vs truth for the image on screen only (after its prediction changed), on a worker."""
        session, key = self._session, self._key
        if session is not None and key is not None and session.prediction is not None and session.ground_truth is not None:
            self._scores.score_image(key, session.prediction, session.ground_truth)

    def _on_written(self, result: PredictedFolder) -> None:
        self.predictions_written.emit(result)
        self.score_dataset()

    def _on_scored(self, result: DatasetScoresResult) -> None:
        scored = sum(1 for score in result.per_image.values() if score.confusion is not None)
        self._panel.set_dataset_scores(result.scores, scored, result.total)
        self.dataset_scored.emit(result)


__all__ = ["ModelResults"]
