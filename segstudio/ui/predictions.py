"""The window's model predictions: predict the image on screen or every image on the "predict" worker, attach a new
prediction to the session (counted on a worker, the work and its undo history kept), and remember which masks the
app wrote this run (they win over the dataset's own prediction folders).

A :class:`PredictionController` is told the open dataset (:meth:`open_dataset`) and the image on screen
(:meth:`show`); the model comes from the model panel it is given. It reports through typed signals; the window
shows the session it hands over (``session_ready``) and wires the rest to the file list and the status bar.

An instance model's prediction of the shown image keeps every detection (:class:`PredictedImage.candidates`);
changing the panel's score or mask threshold reads them again on the GUI thread (a few milliseconds, see
bench/bench_instance_thresholds.py) and hands the result to the session exactly as a new prediction is handed over,
without running the model. The mask file written when the image was predicted is rewritten with the new thresholds
on the "write thresholded" worker, one write at a time, the latest thresholds last (so coming back to the image
shows them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from segstudio.core.prediction_handover import PreparedPrediction, StalePrediction
from segstudio.core.session import ImageSession
from segstudio.io.datasets import Dataset
from segstudio.core.confidence import Confidence
from segstudio.app.loaded_model import InstanceThresholds, ModelHandle, PredictedImage, predict_image, rethresholded
from segstudio.app.project_predictions import (
    PredictedFolder,
    predict_all,
    prediction_path,
    read_prediction,
    uncertain_shares,
)
from segstudio.io.certainty_files import certainty_path
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.workers import WorkerPool


class PredictKind(Enum):
    IMAGE = "this image"
    ALL = "every image"


class PredictionController(QObject):
    """Predictions of one window (see the module notes).

    ``session_ready(key, session)``: show this session (the same one with its new prediction, or an untouched
    image's fresh start); ``predicted(key)``: image ``key`` has a mask the app wrote; ``folder_written(result)``:
    "predict all" finished (a :class:`PredictedFolder`); ``status(message, ms)``; ``error(message)``;
    ``stroke_interrupted()``: end the stroke in progress (a prediction is counted against a finished mask).
    """

    session_ready = Signal(str, object)
    confidence_changed = Signal(object)  # the shown image's Confidence (None: none kept)
    uncertain_measured = Signal(object)  # {key: share of the image the model was unsure of}, for the list
    predicted = Signal(str)
    folder_written = Signal(object)
    status = Signal(str, int)
    error = Signal(str)
    stroke_interrupted = Signal()  # end the stroke in progress now: the prediction is counted against the mask

    def __init__(self, pool: WorkerPool, panel: ModelPanel, parent: QObject | None = None, *,
                 cluster: Callable[[], str | None] = lambda: None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._panel = panel
        self._cluster = cluster  # the Ray cluster "predict all" is handed to (None: this process)
        self._ran_on: str | None = None  # the cluster of the "predict all" running or last run
        self._dataset: Dataset | None = None
        self._key: str | None = None
        self._session: ImageSession | None = None
        self._loading = False  # another image is being read: "predict when ready" waits for it
        self.read_only = False  # another window holds the folder: predictions are shown, never written
        self._files: dict[str, Path] = {}  # key -> mask the app wrote (this run, or found from earlier runs)
        self._running: PredictKind | None = None
        self._running_key: str | None = None
        self._when_ready = False  # predict the shown image once both the model and the image are in
        self._all_when_loaded = False  # predict every image once the model is in
        self._only_keys: list[str] | None = None  # ...or only these
        self._kept: PredictedImage | None = None  # the shown image's prediction with its detections (instance model)
        self._kept_file: Path | None = None  # where that prediction was written (rewritten on a threshold change)
        self._to_write: tuple[Path, object] | None = None  # (file, class mask) waiting for the write in flight
        self._writing = False
        panel.model_loaded.connect(self._on_model_loaded)
        panel.model_failed.connect(self.error)
        panel.predict_image_requested.connect(self.predict_current)
        panel.predict_all_requested.connect(lambda: self.predict_all())
        panel.cancel_requested.connect(self.cancel)
        panel.thresholds_changed.connect(self.rethreshold)
        panel.certainty_changed.connect(self.recertain)
        predict = pool.signals("predict")
        predict.progress.connect(panel.show_progress)
        predict.finished.connect(self._on_predicted)
        predict.failed.connect(lambda failure: self._ended(f"prediction failed: {failure.message}", error=True))
        predict.cancelled.connect(lambda: self._ended("prediction cancelled"))
        apply = pool.signals("apply prediction")
        apply.finished.connect(self._apply_read)
        apply.failed.connect(lambda failure: self.error.emit(f"could not read the prediction: {failure.message}"))
        pool.signals("prepare prediction").failed.connect(
            lambda failure: self.error.emit(f"could not apply the prediction: {failure.message}"))

    # -- what is open ---------------------------------------------------------------------------------------------

    @property
    def files(self) -> Mapping[str, Path]:
        """Key -> the mask the app wrote for that image (wins over the dataset's prediction folders)."""
        return self._files

    def open_dataset(self, dataset: Dataset, found: Mapping[str, Path] | None = None) -> None:
        """A new folder; ``found``: masks the app predicted there in earlier runs."""
        self._dataset = dataset
        self._key, self._session, self._loading = None, None, False
        self._forget_detections()
        self._files = dict(found or {})
        for key in self._files:
            self.predicted.emit(key)
        kept = {key: certainty_path(path) for key, path in self._files.items()}
        if kept:  # the list's "uncertain" column, from the certainty earlier runs kept (looked for on a worker)
            threshold = self._panel.certainty.value()
            handle = self._pool.submit("uncertain shares", lambda _progress, cancel: uncertain_shares(kept, threshold,
                                                                                                   cancel))
            handle.signals.finished.connect(lambda shares: self.uncertain_measured.emit(dict(shares)) if shares else None)

    def show(self, key: str, session: ImageSession) -> None:
        self._key, self._session, self._loading = key, session, False
        if self._kept is not None and self._kept.key != key:
            self._forget_detections()

    def leaving_for(self, key: str) -> None:
        """The user opens image ``key``: a prediction of another image in flight is dropped."""
        self._loading = True
        if self._running is PredictKind.IMAGE and self._running_key != key:
            self.cancel()

    # -- the model --------------------------------------------------------------------------------------------------

    def load_model(self, path: Path, *, predict: bool | str = False, keys: Sequence[str] | None = None) -> None:
        """Load a checkpoint in the model panel (on the worker); ``predict``: then predict the shown image
        (``"all"``: every image of the folder, or only ``keys``)."""
        self._all_when_loaded = predict == "all"
        self._only_keys = None if keys is None else list(keys)
        self._when_ready = bool(predict) and predict != "all"
        self._panel.load(Path(path))

    def _on_model_loaded(self, handle: ModelHandle) -> None:
        problem = self._panel.mismatch()
        if problem is not None:
            self._when_ready = self._all_when_loaded = False
            self.error.emit(f"{handle.path.name}: {problem}")
            return
        self._forget_detections()
        self.status.emit(f"model {handle.path.name} loaded on {handle.device}", 5000)
        if self._all_when_loaded:
            self._all_when_loaded = False
            self.predict_all()
        self.image_ready()

    def image_ready(self) -> None:
        """The shown image finished loading: predict it if that was asked for before it (or the model) was in."""
        if self._when_ready and self._panel.model is not None and self._session is not None and not self._loading:
            self._when_ready = False
            self.predict_current()

    # -- predicting -------------------------------------------------------------------------------------------------

    def predict_current(self) -> None:
        """Predict the image on screen on the "predict" worker; the mask is also written under
        segstudio-predictions/ so the image keeps it when the user comes back."""
        model, session, dataset, key = self._panel.model, self._session, self._dataset, self._key
        if model is None or session is None or dataset is None or key is None:
            self.status.emit("load a model and an image first", 5000)
            return
        problem = self._panel.mismatch()
        if problem is not None:
            self.error.emit(problem)
            return
        image, labels = session.image, dataset.spec.labels
        target = None if self.read_only else prediction_path(dataset, model.name, dataset.sample(key))
        thresholds = self._panel.thresholds if self._panel.instance_model else None

        def job(progress, cancel):  # noqa: ANN001, ANN202
            result = predict_image(model, image, key, labels, thresholds=thresholds, progress=progress, cancel=cancel)
            cancel.raise_if_cancelled()
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_prediction(target, result.classes, result.instances, labels)
            return PredictedImage(result.key, result.classes, result.model, target, result.candidates,
                                  result.instances, result.confidence)

        self._running, self._running_key = PredictKind.IMAGE, key
        self._panel.start(f"predicting {key}...")
        self._pool.submit("predict", job)

    def predict_all(self, keys: Sequence[str] | None = None) -> None:
        """Predict every image (``keys``: only those) on the "predict" worker, writing masks under
        segstudio-predictions/<model>/."""
        keys = self._only_keys if keys is None else list(keys)
        self._only_keys = None
        model, dataset = self._panel.model, self._dataset
        if model is None or dataset is None:
            self.status.emit("load a model and a folder first", 5000)
            return
        if self.read_only:
            self.status.emit("cannot write predictions for every image: read-only, this folder is open in another "
                             "window", 10000)
            return
        self._running, self._running_key = PredictKind.ALL, None
        count = len(dataset.samples) if keys is None else len(keys)
        cluster = self._ran_on = self._cluster()
        self._panel.start(f"predicting {count} images" + (f" on the Ray cluster at {cluster}..." if cluster else "..."))
        thresholds = self._panel.thresholds if self._panel.instance_model else None
        certainty = None if self._panel.instance_model else self._panel.certainty.value()
        self._pool.submit("predict", lambda progress, cancel: predict_all(
            model, dataset, keys=keys, thresholds=thresholds, certainty=certainty, progress=progress, cancel=cancel,
            cluster=cluster))

    def cancel(self) -> None:
        if self._running is not None:
            self._pool.cancel("predict", drop=True)
            self._ended("prediction cancelled")

    def _ended(self, message: str, *, error: bool = False) -> None:
        self._running, self._running_key = None, None
        self._panel.finish(message)
        if error:
            self.error.emit(message)
        else:
            self.status.emit(message, 8000)

    def _on_predicted(self, result: PredictedImage | PredictedFolder) -> None:
        if isinstance(result, PredictedFolder):
            if result.uncertain:
                self.uncertain_measured.emit(dict(result.uncertain))
            where = f" on the Ray cluster at {self._ran_on}" if self._ran_on else ""
            self._ended(f"predicted {len(result.written)} images{where} into {result.folder}"
                        + (f"; skipped {len(result.skipped)}" if result.skipped else ""))
            self._files.update(result.written)
            for key in result.written:
                self.predicted.emit(key)
            if result.skipped:
                first = next(iter(result.skipped.items()))
                self.error.emit(f"{len(result.skipped)} images were not predicted, e.g. {first[0]}: {first[1]}")
            dataset, current = self._dataset, self._key
            if dataset is not None and current in result.written:
                self._forget_detections()  # the shown image now comes from the file just written
                path = result.written[current]
                model = self._panel.model.name if self._panel.model is not None else None
                self._pool.submit("apply prediction", lambda _p, _c: read_prediction(dataset, current, path, model))
            self.folder_written.emit(result)
            return
        self._ended(f"predicted {result.key}")
        if result.candidates is not None and result.key == self._key:
            self._keep_detections(result)
            self._kept_file = result.path
        if result.confidence is not None and result.key == self._key:
            self._kept = result
            self._panel.show_confidence(result.confidence)
            self.confidence_changed.emit(result.confidence)
            self._measure(result)
        if result.path is not None:
            self._files[result.key] = result.path
            self.predicted.emit(result.key)
        self.apply(result)

    def apply(self, result: PredictedImage) -> None:
        """Give the image on screen its new prediction: counted against a copy of the working mask on the "prepare
        prediction" worker, then attached (the work and its undo history stay; an untouched image starts again
        from the new prediction). A result for an image the user already left is dropped (the file on disk still
        has it); one the user painted over meanwhile is prepared again from the newer mask."""
        session = self._session
        if session is None or result.key != self._key:
            return
        if session.in_stroke:
            self.stroke_interrupted.emit()
        try:
            build = session.prepare_prediction(result.classes, result.instances)
        except ValueError as problem:
            self.error.emit(f"the prediction does not fit {result.key}: {problem}")
            return
        handle = self._pool.submit("prepare prediction", lambda _progress, _cancel: build())
        handle.signals.finished.connect(
            lambda prepared, old=session, res=result: self._on_prepared(res, old, prepared))

    # -- an instance model's thresholds -------------------------------------------------------------------------------

    @property
    def detections(self) -> PredictedImage | None:
        """The shown image's last instance prediction with its kept detections (None: none kept)."""
        return self._kept

    def rethreshold(self, thresholds: InstanceThresholds) -> None:
        """Read the shown image's kept detections again under ``thresholds`` (no model run) and hand the result
        to the session as a new prediction (its work and undo history kept the same way)."""
        kept, dataset = self._kept, self._dataset
        if kept is None or dataset is None or kept.key != self._key or self._session is None:
            return
        try:
            result = rethresholded(kept, thresholds, dataset.spec.labels)
        except ValueError as problem:
            self.error.emit(f"could not apply the thresholds to {kept.key}: {problem}")
            return
        self._keep_detections(result)
        self.apply(result)
        if self._kept_file is not None and not self.read_only:
            self._write_thresholded(self._kept_file, (result.classes, result.instances))

    def _keep_detections(self, result: PredictedImage) -> None:
        self._kept = result
        candidates = result.candidates
        kept = result.instances.num_instances if result.instances is not None else None
        self._panel.show_detections(kept, None if candidates is None else len(candidates))

    def _write_thresholded(self, path: Path, classes: object) -> None:
        """Rewrite ``path`` with ``classes``: one write at a time, only the latest waiting one follows."""
        self._to_write = (path, classes)
        if self._writing or self._dataset is None:
            return
        path, classes = self._to_write
        self._to_write = None
        labels = self._dataset.spec.labels

        def job(_progress, _cancel):  # noqa: ANN001, ANN202
            masks, instances = classes  # type: ignore[misc]
            _write_prediction(path, masks, instances, labels)
            return path

        def done(_result: object = None) -> None:
            self._writing = False
            if self._to_write is not None:
                self._write_thresholded(*self._to_write)

        def failed(failure) -> None:  # noqa: ANN001
            self.error.emit(f"could not write the thresholded prediction {path.name}: {failure.message}")
            done()

        self._writing = True
        handle = self._pool.submit("write thresholded", job, cancel_previous=False)
        handle.signals.finished.connect(done)
        handle.signals.failed.connect(failed)
        handle.signals.cancelled.connect(done)

    def recertain(self, threshold: float) -> None:
        """Read the shown image's prediction again at a certainty threshold (no model run): its uncertain pixels
        unlabelled where the data set has an unlabelled value; handed over like a new prediction."""
        kept, dataset = self._kept, self._dataset
        if kept is None or kept.confidence is None or dataset is None or kept.key != self._key:
            return
        classes = kept.confidence.classes_at(threshold, unlabelled=dataset.spec.labels.ignore_index)
        self._panel.show_confidence(kept.confidence)
        self.confidence_changed.emit(kept.confidence)
        self._measure(kept)
        self.apply(PredictedImage(kept.key, classes, kept.model, None, None, None, kept.confidence))

    def _measure(self, result: PredictedImage) -> None:
        if result.confidence is not None:
            share = result.confidence.uncertain_share(self._panel.certainty.value())
            self.uncertain_measured.emit({result.key: share})

    def _apply_read(self, result: PredictedImage) -> None:
        """A prediction read back from its file (after "Predict all"), with the certainty kept beside it."""
        self.apply(result)
        if result.confidence is not None:
            self.keep_saved_certainty(result.key, result.confidence)

    def keep_saved_certainty(self, key: str, confidence: Confidence) -> None:
        """The shown image ``key`` came with the certainty "Predict all" kept beside its prediction: keep it as if
        predicted this run (the threshold re-derives the prediction from it, U and the doubt layer show it)."""
        if key != self._key:
            return
        path = self._files.get(key)
        model = path.parent.name if path is not None else "saved prediction"
        self._kept = PredictedImage(key, confidence.classes, model, path, None, None, confidence)
        self._panel.show_confidence(confidence)
        self.confidence_changed.emit(confidence)
        self.uncertain_measured.emit({key: confidence.uncertain_share(self._panel.certainty.value())})

    @property
    def confidence(self) -> Confidence | None:
        """The shown image's certainty per pixel (None: no semantic prediction of it kept this run)."""
        kept = self._kept
        return None if kept is None or kept.key != self._key else kept.confidence

    def _forget_detections(self) -> None:
        self._kept = None
        self._kept_file = None
        self._panel.show_detections(None, None)
        self._panel.show_confidence(None)
        self.confidence_changed.emit(None)

    def _on_prepared(self, result: PredictedImage, old: ImageSession, prepared: PreparedPrediction) -> None:
        if self._session is not old or result.key != self._key:
            return  # the user left the image
        try:
            shown = old.set_prediction(prepared)
        except StalePrediction:
            self.apply(result)  # painted meanwhile: again, from the newer mask
            return
        self.status.emit(f"{result.key}: prediction of {result.model}", 8000)
        self.session_ready.emit(result.key, shown)


def _write_prediction(path: Path, classes: object, instances: object, labels: object) -> None:
    """An instance model's objects as an instance PNG (ids, classes, scores: it reads back as classes too, and as the
    model's instances when the image opens again), else the class mask."""
    from segstudio.io.mask_files import write_class_mask, write_instance_mask

    if instances is not None:
        write_instance_mask(path, instances)  # type: ignore[arg-type]
    else:
        write_class_mask(path, classes, labels)  # type: ignore[arg-type]


__all__ = ["PredictKind", "PredictionController"]
