"""The model panel: load a checkpoint (on the "model" worker channel), pick the device, predict this image or
all images (the window runs those on the "predict" channel), with a progress bar and Cancel while a job runs.
An instance model (Mask R-CNN) also gets its score and mask thresholds, shown only for such a model: changing
one re-reads the shown image's kept detections without running the model again (the window does that), and the
panel says how many detections the thresholds keep.

The file dialog offers only files a model can be loaded from (segstudio's ``.safetensors`` checkpoints, PyTorch
weight files), never a training run's ``*.resume.pt``; a file refused anyway is said in a user's words, the
technical reason going to the log. Texts wrap in a label instead of being clipped in the progress bar, and the
bar and Cancel show only while something runs.

Signals: ``model_loaded(ModelHandle)``, ``model_failed(str)`` (a readable message), ``predict_image_requested()``,
``predict_all_requested()``, ``cancel_requested()``, ``thresholds_changed(InstanceThresholds)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFileSystemModel,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from segstudio.core.labels import LabelSet
from segstudio.core.progress import Progress
from segstudio.core.confidence import Confidence
from segstudio.app.loaded_model import (
    InstanceThresholds,
    ModelHandle,
    available_devices,
    label_mismatch,
    label_name_warning,
    load_model,
)
from segstudio.ui.workers import WorkerFailure, WorkerPool

# segstudio checkpoints, torchvision's and smp's PyTorch weight files; what a training run leaves beside its
# checkpoint (``<name>.resume.pt``) matches "*.pt" too and is hidden by :class:`LoadableModelFiles`.
MODEL_FILE_FILTER = "Model weights (*.safetensors *.pth *.pt *.bin)"
NOT_A_MODEL_SUFFIXES = (".resume.pt",)
ERROR_STYLE = "color: #c0392b"
NOTE_STYLE = "color: #9a6700"
_log = logging.getLogger(__name__)
DEFAULT_CERTAINTY = 0.5  # below an even chance, a pixel is uncertain


class LoadableModelFiles(QSortFilterProxyModel):
    """The file dialog's listing without the files no model loads from (a training run's resume state)."""

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        files = self.sourceModel()
        if not isinstance(files, QFileSystemModel):
            return True
        index = files.index(source_row, 0, source_parent)
        return files.isDir(index) or not files.fileName(index).lower().endswith(NOT_A_MODEL_SUFFIXES)


def model_file_dialog(parent: QWidget | None, start: str = "") -> QFileDialog:
    """The "Load a model" dialog: Qt's own (a platform dialog would not take the listing filter), one file."""
    dialog = QFileDialog(parent, "Load a model", start, MODEL_FILE_FILTER)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    dialog.setProxyModel(LoadableModelFiles(dialog))
    return dialog


class ModelPanel(QWidget):
    model_loaded = Signal(object)
    model_failed = Signal(str)
    predict_image_requested = Signal()
    predict_all_requested = Signal()
    cancel_requested = Signal()
    thresholds_changed = Signal(object)  # InstanceThresholds
    certainty_changed = Signal(float)  # a semantic model's certainty threshold

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None, *, devices: list[str] | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.model: ModelHandle | None = None
        self._dataset_labels: LabelSet | None = None
        self._running: str | None = None  # what the progress bar shows: "model", "predict", or None
        self._cluster: str | None = None  # the Ray cluster "predict all" is handed to (None: this machine)

        self.load_button = QPushButton("Load model...", self)
        self.load_button.clicked.connect(self.choose_file)
        self.device = QComboBox(self)
        for device in devices if devices is not None else ["cpu"]:
            self.device.addItem(device)
        self.device.setToolTip("where the model runs (CUDA when a GPU is present)")
        self.device.currentTextChanged.connect(self._device_changed)
        self.info = QLabel("no model loaded", self)
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        # How the prediction on screen was read when it is not the file as stored (resized, thresholded): it stays
        # while the image does, since every "vs prediction" figure is computed on it.
        self.prediction_note = QLabel("", self)
        self.prediction_note.setWordWrap(True)
        self.prediction_note.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.prediction_note.setStyleSheet(NOTE_STYLE)
        self.prediction_note.hide()
        self.predict_image_button = QPushButton("Predict this image", self)
        self.predict_image_button.clicked.connect(self.predict_image_requested)
        self.predict_all_button = QPushButton("Predict all images", self)
        self.predict_all_button.clicked.connect(self.predict_all_requested)
        # What runs is said in the wrapping label below; the bar's own text would be clipped in a narrow dock.
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        # An instance model's thresholds (shown only for one); defaults are the predictor's.
        defaults = InstanceThresholds()
        self.score_threshold = _threshold_box(self, defaults.score,
                                              "detections scoring below this are left out (no model run)")
        self.mask_threshold = _threshold_box(self, defaults.mask,
                                             "a detection covers the pixels where its mask probability exceeds "
                                             "this (no model run)")
        self.score_threshold.valueChanged.connect(self._thresholds_changed)
        self.mask_threshold.valueChanged.connect(self._thresholds_changed)
        self.detections = QLabel("", self)  # "12 of 40 detections kept"
        self.detections.setWordWrap(True)
        self.threshold_row = QWidget(self)
        thresholds = QVBoxLayout(self.threshold_row)
        thresholds.setContentsMargins(0, 0, 0, 0)
        boxes = QHBoxLayout()
        boxes.addWidget(QLabel("score \u2265", self.threshold_row))
        boxes.addWidget(self.score_threshold)
        boxes.addWidget(QLabel("mask >", self.threshold_row))
        boxes.addWidget(self.mask_threshold)
        thresholds.addLayout(boxes)
        thresholds.addWidget(self.detections)
        self.threshold_row.hide()
        # A semantic model's certainty: pixels it gave less than this are uncertain (shown only with a prediction).
        self.certainty = _threshold_box(self, DEFAULT_CERTAINTY,
                                        "pixels whose class the model gave a lower probability are uncertain: U shows "
                                        "them, and the prediction leaves them unlabelled where the data set has an "
                                        "unlabelled value (no model run)")
        self.certainty.valueChanged.connect(lambda value: self.certainty_changed.emit(float(value)))
        self.uncertain = QLabel("", self)
        self.uncertain.setWordWrap(True)
        self.certainty_row = QWidget(self)
        certainty = QVBoxLayout(self.certainty_row)
        certainty.setContentsMargins(0, 0, 0, 0)
        sure = QHBoxLayout()
        sure.addWidget(QLabel("uncertain below", self.certainty_row))
        sure.addWidget(self.certainty)
        sure.addStretch(1)
        certainty.addLayout(sure)
        certainty.addWidget(self.uncertain)
        self.certainty_row.hide()
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self._activity = ""  # what start() said is running, kept above each progress line

        top = QHBoxLayout()
        top.addWidget(self.load_button)
        top.addWidget(QLabel("device:", self))
        top.addWidget(self.device)
        buttons = QHBoxLayout()
        buttons.addWidget(self.predict_image_button)
        buttons.addWidget(self.predict_all_button)
        self.running_row = QWidget(self)  # the bar and Cancel: shown only while a job runs
        running = QHBoxLayout(self.running_row)
        running.setContentsMargins(0, 0, 0, 0)
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.info)
        layout.addWidget(self.prediction_note)
        layout.addLayout(buttons)
        layout.addWidget(self.threshold_row)
        layout.addWidget(self.certainty_row)
        layout.addWidget(self.running_row)
        layout.addWidget(self.message)
        layout.addStretch(1)

        signals = pool.signals("model")
        signals.progress.connect(lambda p: self.show_progress(p) if self._running == "model" else None)
        signals.finished.connect(self._on_loaded)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(lambda: self.finish("model loading cancelled"))
        self._update_buttons()
        if devices is None:  # ask torch on a worker (importing it takes a second): CUDA first when present
            pool.signals("devices").finished.connect(self._set_devices)
            pool.submit("devices", lambda _progress, _cancel: available_devices())

    def _set_devices(self, devices: list[str]) -> None:
        current = self.device.currentText()
        self.device.blockSignals(True)
        self.device.clear()
        for device in devices:
            self.device.addItem(device)
        if self.model is not None and current in devices:
            self.device.setCurrentText(current)  # keep the device the loaded model is on
        self.device.blockSignals(False)

    # -- loading -------------------------------------------------------------------------------------------------

    def choose_file(self) -> None:
        start = str(self.model.path.parent) if self.model is not None else ""
        dialog = model_file_dialog(self, start)
        if dialog.exec() and dialog.selectedFiles():
            self.load(Path(dialog.selectedFiles()[0]))

    def load(self, path: Path) -> None:
        """Load ``path`` on the "model" worker channel; ``model_loaded`` or ``model_failed`` follows."""
        device = self.device.currentText() or "cpu"
        path = Path(path)
        self.start(f"loading {path.name} on {device}...", "model")
        self.pool.submit("model", lambda progress, cancel: load_model(path, device, progress=progress, cancel=cancel))

    def _device_changed(self, _device: str) -> None:
        if self.model is not None and self._running is None:
            self.load(self.model.path)  # the model lives on the device: load it again there

    def _on_loaded(self, handle: ModelHandle) -> None:
        self.model = handle
        self.finish(f"loaded {handle.path.name}")
        self._show_info()
        self.threshold_row.setVisible(self.instance_model)
        self.show_detections(None, None)
        self.model_loaded.emit(handle)

    # -- an instance model's thresholds ----------------------------------------------------------------------------

    @property
    def instance_model(self) -> bool:
        return self.model is not None and str(self.model.task) == "instance"

    @property
    def thresholds(self) -> InstanceThresholds:
        return InstanceThresholds(self.score_threshold.value(), self.mask_threshold.value())

    def set_thresholds(self, thresholds: InstanceThresholds) -> None:
        """Set both boxes; ``thresholds_changed`` follows once (when they changed)."""
        if thresholds == self.thresholds:
            return
        for box, value in ((self.score_threshold, thresholds.score), (self.mask_threshold, thresholds.mask)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self._thresholds_changed()

    def show_detections(self, kept: int | None, total: int | None) -> None:
        """Say how many of the shown image's detections the thresholds keep (None: no detections kept yet)."""
        if kept is None or total is None:
            self.detections.setText("predict this image to adjust its detections")
        else:
            self.detections.setText(f"{kept} of {total} detection{'' if total == 1 else 's'} kept")

    def show_confidence(self, confidence: Confidence | None) -> None:
        """The shown image's certainty (None: none kept): the row and how much of the image is uncertain."""
        self.certainty_row.setVisible(confidence is not None)
        if confidence is not None:
            share = confidence.uncertain_share(self.certainty.value())
            self.uncertain.setText(f"{100 * share:.1f} % of the pixels uncertain (U shows them); unlabelled in the "
                                   "prediction where the data set has an unlabelled value, so out of its IoU")

    def _thresholds_changed(self, _value: float = 0.0) -> None:
        self.thresholds_changed.emit(self.thresholds)

    def _on_failed(self, failure: WorkerFailure) -> None:
        _log.warning("could not load a model: %s\n%s", failure.message, failure.details)
        message = f"could not load the model: {failure.message}"
        kept = f" (still using {self.model.path.name})" if self.model is not None else ""
        self.finish(message + kept)
        self.message.setStyleSheet(ERROR_STYLE)
        self.model_failed.emit(message)

    def show_prediction_notes(self, notes: Sequence[str]) -> None:
        """Say how the prediction on screen was read from its file ("prediction resized from 256x256 to 512x512
        (nearest neighbour): 3_predict.png"); no notes (the file as stored, or the model's own): nothing shown."""
        self.prediction_note.setText("\n".join(note[:1].upper() + note[1:] for note in notes))
        self.prediction_note.setVisible(bool(notes))

    def set_dataset_labels(self, labels: LabelSet | None) -> None:
        self._dataset_labels = labels
        self._show_info()
        self._update_buttons()

    def mismatch(self) -> str | None:
        """Why this model cannot predict for the open dataset (None: it can, or nothing to compare)."""
        if self.model is None or self._dataset_labels is None:
            return None
        return label_mismatch(self.model.labels, self._dataset_labels)

    def _show_info(self) -> None:
        handle = self.model
        if handle is None:
            self.info.setText("no model loaded")
            return
        names = ", ".join(handle.labels.names[:12]) + (", ..." if handle.num_classes > 12 else "")
        lines = [
            f"<b>{handle.path.name}</b> on {handle.device}",
            f"architecture: {handle.architecture}, {handle.task}",
            f"classes ({handle.num_classes}): {names}",
        ]
        lines += [f"note: {note}" for note in handle.notes]
        if self._dataset_labels is not None:
            problem = label_mismatch(handle.labels, self._dataset_labels)
            warning = label_name_warning(handle.labels, self._dataset_labels)
            if problem:
                lines.append(f"<span style='color:#c0392b'><b>cannot predict here:</b> {problem}</span>")
            elif warning:
                lines.append(f"<span style='color:#b9770e'>{warning}</span>")
        self.info.setText("<br>".join(lines))

    # -- running -------------------------------------------------------------------------------------------------

    def start(self, text: str, what: str = "predict") -> None:
        """Show a job running (progress bar busy, Cancel enabled, buttons disabled); an earlier error goes."""
        self._running = what
        self._activity = text
        self.progress.setRange(0, 0)  # busy until the first report
        self.message.setStyleSheet("")
        self.message.setText(text)
        self._update_buttons()

    def show_progress(self, progress: Progress) -> None:
        if self._running is None:
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(progress.fraction * 1000))
        line = f"{progress.stage} {progress.done} of {progress.total}" + (f": {progress.message}" if progress.message else "")
        self.message.setText(f"{self._activity}\n{line}" if self._activity else line)

    def finish(self, message: str) -> None:
        """The job ended: the bar and Cancel go, ``message`` says how it ended."""
        self._running = None
        self._activity = ""
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.message.setStyleSheet("")
        self.message.setText(message)
        self._update_buttons()

    @property
    def running(self) -> str | None:
        return self._running

    def cancel(self) -> None:
        if self._running == "model":
            self.pool.cancel("model")
        elif self._running == "train":
            self.pool.cancel("train demo")
        elif self._running is not None:
            self.cancel_requested.emit()

    def _update_buttons(self) -> None:
        idle = self._running is None
        can_predict = idle and self.model is not None and self.mismatch() is None
        self.load_button.setEnabled(idle)
        self.device.setEnabled(idle)
        self.predict_image_button.setEnabled(can_predict)
        self.predict_all_button.setEnabled(can_predict)
        self.cancel_button.setEnabled(not idle)
        self.running_row.setVisible(not idle)
        tip = self.mismatch() or ("" if self.model is not None else "load a model first")
        self.predict_image_button.setToolTip(tip)
        where = (f"on the Ray cluster at {self._cluster} (File > Ray cluster for Predict all...)" if self._cluster
                 else "on this machine")
        self.predict_all_button.setToolTip(tip or f"predict every image {where}, writing the masks into "
                                           "segstudio-predictions/")
        self.predict_all_button.setText("Predict all images on Ray" if self._cluster else "Predict all images")

    def show_cluster(self, address: str | None) -> None:
        """Where "Predict all images" runs: ``address`` names the Ray cluster it is handed to, None this machine."""
        self._cluster = address
        self._update_buttons()


def _threshold_box(parent: QWidget, value: float, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setRange(0.0, 1.0)
    box.setDecimals(2)
    box.setSingleStep(0.05)
    box.setValue(value)
    box.setKeyboardTracking(False)  # typing "0.35" is one change, not three
    box.setToolTip(tip)
    return box
