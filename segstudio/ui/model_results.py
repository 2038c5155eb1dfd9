"""Where the model's results show, and when its scores are counted.

The :class:`~segstudio.ui.predictions.PredictionController` makes predictions and the
:class:`~segstudio.ui.dataset_scores.DatasetScoresController` counts model-vs-truth scores; :class:`ModelResults`
decides when they are counted (the whole folder once its first image is on screen, since the image comes first;
again after "predict all"; the shown image alone after its prediction changed) and shows them: rows in the file
list, the dataset's figures in the metrics panel, each saying what it is of (a model, or the dataset's prediction
folder: :mod:`segstudio.app.score_sources`). When a model's predictions replace another source's, the status bar
says so, and gives both figures once the new ones are counted: scores never change without a word.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from segstudio.app.project_predictions import PredictedFolder
from segstudio.app.score_sources import ScoreSources, fmt_ratio, score_sources
from segstudio.app.scoring import DatasetScoresResult
from segstudio.core.session import ImageSession
from segstudio.io.datasets import Dataset
from segstudio.ui.dataset_scores import DatasetScoresController
from segstudio.ui.metrics_panel import MetricsPanel
from segstudio.ui.predictions import PredictionController
from segstudio.ui.sample_table import SampleTableModel

SWITCH_MS = 20000  # the status line saying the scores are now of another source


class ModelResults(QObject):
    """The model's results in one window (see the module notes).

    ``predictions_written(PredictedFolder)`` after "predict all" (the dataset is scored again);
    ``dataset_scored(DatasetScoresResult)`` once the metrics panel shows the dataset's figures; ``error(message)``;
    ``status(message, ms)`` when the scores change source (for the status bar).
    """

    predictions_written = Signal(object)
    dataset_scored = Signal(object)
    error = Signal(str)
    status = Signal(str, int)

    def __init__(self, predictions: PredictionController, scores: DatasetScoresController, panel: MetricsPanel,
                 rows: SampleTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._predictions = predictions
        self._scores = scores
        self._panel = panel
        self._dataset: Dataset | None = None
        self._key: str | None = None
        self._session: ImageSession | None = None
        self._rows = rows
        self._after_first_image = False  # the folder's scores wait for its first image to be on screen
        self._folder_words: dict[Path, dict[str, str]] = {}  # dataset folder -> its prediction folders in words
        self._sources = ScoreSources("")
        self._last: tuple[str, float | None] | None = None  # the last dataset figure shown: (source, mean IoU)
        self._replaced: tuple[str, float | None] | None = None  # the figure a new source replaces, until counted
        predictions.predicted.connect(rows.set_prediction)
        predictions.uncertain_measured.connect(rows.set_uncertain)
        predictions.folder_written.connect(self._on_written)
        predictions.error.connect(self.error)
        scores.image_scores.connect(rows.set_scores)
        scores.image_score.connect(rows.set_score)
        scores.started.connect(
            lambda total: panel.set_dataset_scores(None, 0, total, running=True, source=self._sources.overall))
        scores.dataset_scored.connect(self._on_scored)
        scores.instances_scored.connect(panel.set_instance_scores)
        scores.failed.connect(self.error)

    def open_dataset(self, dataset: Dataset, found: Mapping[str, Path] | None, *, image_coming: bool) -> None:
        """A folder opened (``found``: masks the app predicted there in earlier runs); ``image_coming``: its first
        image is loading, and the folder is scored once that is on screen; else it is scored now."""
        self._dataset, self._key, self._session = dataset, None, None
        self._sources, self._last, self._replaced = ScoreSources(""), None, None
        self._predictions.open_dataset(dataset, found)
        self._scores.open_dataset(dataset)
        self._after_first_image = image_coming
        if not image_coming:
            self.score_dataset()

    def name_prediction_folders(self, folder: Path, words: Mapping[str, str]) -> None:
        """Words for the prediction folders of the dataset in ``folder`` (mask source name -> e.g. "the demo's
        synthetic predictions/ (made by code, not a model)") wherever the scores say what they are of."""
        self._folder_words[Path(folder).resolve()] = dict(words)

    def _words(self, dataset: Dataset) -> dict[str, str]:
        return self._folder_words.get(dataset.root.resolve(), {})

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
        if self._dataset is not None:
            self._show_sources(score_sources(self._dataset, self._predictions.files, self._words(self._dataset)))
        self._scores.score_dataset(self._predictions.files)

    def score_shown_image(self) -> None:
        """Model vs truth for the image on screen only (after its prediction changed), on a worker."""
        session, key = self._session, self._key
        if session is not None and key is not None and session.prediction is not None and session.ground_truth is not None:
            if self._dataset is not None and key in self._predictions.files:
                self._show_sources(score_sources(self._dataset, self._predictions.files, self._words(self._dataset)))
            self._scores.score_image(key, session.prediction, session.ground_truth)

    def _show_sources(self, sources: ScoreSources) -> None:
        """The scores are (about to be) of ``sources``: the file list and the panel say so, and the status bar says
        when they replace figures of another source."""
        if sources == self._sources:
            return
        self._sources = sources
        self._rows.set_score_source(sources.overall, sources.per_image)
        last = self._last
        if last is not None and last[0] != sources.overall and sources.overall:
            self._replaced = last
            self.status.emit(f"IoU/Dice are now of {sources.overall}, replacing {last[0]}: counting again...",
                             SWITCH_MS)

    def _on_written(self, result: PredictedFolder) -> None:
        self.predictions_written.emit(result)
        self.score_dataset()

    def _on_scored(self, result: DatasetScoresResult) -> None:
        scored = sum(1 for score in result.per_image.values() if score.confusion is not None)
        source = self._sources.overall
        self._panel.set_dataset_scores(result.scores, scored, result.total, source=source)
        self._rows.set_scored_count(scored)
        iou = None if result.scores is None else result.scores.overall.mean_iou
        replaced, self._replaced = self._replaced, None
        if replaced is not None and replaced[0] != source:
            self.status.emit(f"IoU/Dice now of {source}: dataset mean IoU {fmt_ratio(iou)} (it was "
                             f"{fmt_ratio(replaced[1])} with {replaced[0]})", SWITCH_MS)
        self._last = (source, iou) if source else None
        self.dataset_scored.emit(result)


__all__ = ["ModelResults"]
