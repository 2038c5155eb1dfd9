"""The main window: composes the canvas and the panels, wires their signals, owns the actions.

It holds no pixels and computes nothing: the :class:`ImageSession` (built on a worker by
:mod:`segstudio.ui.sample_loader`) owns the masks and the scores; the canvas renders; the panels show.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSlider,
    QToolBar,
    QWidget,
)

from segstudio.core.compositing import LayerKind, LayerStyle
from segstudio.core.session import ImageSession
from segstudio.io.autosave import Recoverable
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.io.project_file import user_data_dir
from segstudio.ui.canvas import Canvas
from segstudio.ui.class_panel import ClassPanel
from segstudio.ui.file_list import FileList
from segstudio.ui.layer_panel import LayerPanel
from segstudio.ui.metrics_panel import MetricsPanel
from segstudio.ui.model_jobs import DatasetScoresResult, PredictedFolder, app_predictions
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.sample_loader import LoadedSample, load_sample
from segstudio.ui.dataset_scores import DatasetScoresController
from segstudio.ui.predictions import PredictionController
from segstudio.ui.saving import SaveController
from segstudio.ui.tools import MIN_BRUSH_SIZE, Tool
from segstudio.ui.workers import WorkerFailure, WorkerPool

AUTOSAVE_INTERVAL_MS = 5000
PEEK_KEY = Qt.Key.Key_G  # hold to see the ground truth


def app_settings() -> QSettings:
    """The app's settings file, in the user data folder (so tests with SEGSTUDIO_DATA_DIR stay isolated)."""
    return QSettings(str(user_data_dir() / "segstudio.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    """``sample_loaded(key)`` once an image is on screen; ``load_failed(message)`` when it could not be read.

    ``interactive=False`` (screenshots, tests) never opens a dialog: recovery is then offered through
    ``saving.pending_recoveries()`` / :meth:`recover` only. Saving, autosave, recovery and the folder lock
    live in :attr:`saving` (:class:`~segstudio.ui.saving.SaveController`).
    """

    sample_loaded = Signal(str)
    load_failed = Signal(str)
    dataset_opened = Signal(object)  # the Dataset, once the "scan" worker has listed and paired the folder
    prediction_applied = Signal(str)  # the session of this key now holds a new model prediction
    predictions_written = Signal(object)  # PredictedFolder, after "predict all"
    dataset_scored = Signal(object)  # DatasetScoresResult, after the "dataset metrics" job
    worker_error = Signal(str)  # a readable message (also in the status bar, and a message box when interactive)

    def __init__(self, *, interactive: bool = True, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("segstudio")
        self.interactive = interactive
        self.settings = settings if settings is not None else app_settings()
        self.pool = WorkerPool(self)
        self.dataset: Dataset | None = None
        self.saving = SaveController(self.pool, interactive=interactive, dialog_parent=self)
        self.current_key: str | None = None
        self._loading_key: str | None = None
        self._actions: list[QAction] = []
        self._menus: dict[str, QMenu] = {}
        self.demo = None  # segstudio.ui.demo_model.DemoModel when the demo project is open
        self._layers_touched: set[LayerKind] = set()  # layers whose visibility the user changed this run
        self._metrics_after_load: object | None = None  # the dataset whose metrics start once its first image shows
        self.scores = DatasetScoresController(self.pool, self)

        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.file_list = FileList(self)
        self.file_list.enable_thumbnails(self.pool)
        self.class_panel = ClassPanel(self)
        self.layer_panel = LayerPanel({kind: self.canvas.layer_style(kind) for kind in LayerKind}, self)
        self.metrics_panel = MetricsPanel(self)
        self.model_panel = ModelPanel(self.pool, self)
        self.predictions = PredictionController(self.pool, self.model_panel, self)
        self._dock("Images", self.file_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Classes", self.class_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Layers", self.layer_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Metrics", self.metrics_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("Model", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea)

        self.status_class = QLabel(self)
        self.status_brush = QLabel(self)
        self.status_cursor = QLabel(self)
        self.status_source = QLabel(self)
        for label in (self.status_source, self.status_class, self.status_brush, self.status_cursor):
            self.statusBar().addPermanentWidget(label)
        self.brush_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.brush_slider.setRange(MIN_BRUSH_SIZE, 200)
        self.brush_slider.setFixedWidth(120)
        self.brush_slider.setToolTip("brush size ([ and ])")

        self._wire()
        self._wire_class_editing()  # class add/rename/recolour, instance list (segstudio.ui.class_editing)
        self._make_actions()
        self._restore_settings()
        self._update_status()

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.autosave_timer.timeout.connect(self.saving.autosave_now)
        self.autosave_timer.start()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- wiring ----------------------------------------------------------------------------------------

    def _wire_class_editing(self) -> None:
        """Class panel edits -> project file, session, canvas palette; instance list and its highlight."""
        from segstudio.ui import class_editing

        self.class_panel.labels_changed.connect(lambda labels: class_editing.apply_labels(self, labels))
        self.sample_loaded.connect(lambda key: class_editing.show_instances(self, key))
        self.class_panel.instance_selected.connect(lambda iid: class_editing.highlight_instance(self, iid))

    def _wire(self) -> None:
        self.file_list.sample_chosen.connect(self.load)
        self.class_panel.class_selected.connect(self._on_class_selected)
        self.canvas.class_picked.connect(self.class_panel.select)
        self.canvas.cursor_moved.connect(self._on_cursor)
        self.canvas.tool_refused.connect(lambda message: self.statusBar().showMessage(message, 8000))
        self.canvas.brush_size_changed.connect(self._on_brush_size)
        self.brush_slider.valueChanged.connect(self.canvas.set_brush_size)
        self.layer_panel.style_changed.connect(self.canvas.set_layer_style)
        self.layer_panel.style_changed.connect(self._on_layer_touched)
        self._wire_model()
        load = self.pool.signals("load")
        load.finished.connect(self._on_loaded)
        load.failed.connect(self._on_load_failed)
        self.pool.signals("prepare prediction").failed.connect(
            lambda failure: self._report_worker_error(f"could not apply the prediction: {failure.message}"))
        saving = self.saving
        saving.status.connect(lambda message, timeout: self.statusBar().showMessage(message, timeout))
        saving.corrected.connect(self.file_list.model.set_corrected)
        saving.state_changed.connect(self._update_status)
        saving.read_only_changed.connect(self._on_read_only_changed)

    def _make_actions(self) -> None:
        tools = QToolBar("Tools", self)
        tools.setObjectName("toolbar-tools")
        self.addToolBar(tools)
        add = self._action
        add("Open folder...", "Ctrl+O", self.choose_folder, menu="File")
        add("Save correction", "Ctrl+S", self.saving.save, menu="File")
        add("Previous image", ["A", "Left"], lambda: self.step_image(-1), menu="Image")
        add("Next image", ["D", "Right"], lambda: self.step_image(1), menu="Image")
        add("Undo", "Ctrl+Z", self.undo, menu="Edit")
        add("Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], self.redo, menu="Edit")
        add("Accept prediction as working mask", "Ctrl+Shift+A", self.accept_prediction, menu="Edit")
        add("Reset to ground truth", "Ctrl+Shift+R", self.reset_to_ground_truth, menu="Edit")
        add("Save as ground truth...", [], self.saving.save_as_ground_truth, menu="Edit")  # no shortcut: never by accident
        for tool, key in ((Tool.BRUSH, "B"), (Tool.ERASER, "E"), (Tool.FILL, "F"), (Tool.POLYGON, "P"), (Tool.PICK, "I")):
            action = add(tool.value.capitalize(), key, lambda t=tool: self.set_tool(t), menu="Tools", toolbar=tools)
            action.setCheckable(True)
            action.setChecked(tool is self.canvas.tools.tool)
            action.setData(tool)
        add("Smaller brush", "[", lambda: self.canvas.set_brush_size(self.canvas.tools.size - max(1, self.canvas.tools.size // 8)), menu="Tools")
        add("Larger brush", "]", lambda: self.canvas.set_brush_size(self.canvas.tools.size + max(1, self.canvas.tools.size // 8)), menu="Tools")
        keep = add("Keep other classes", "K", self._toggle_keep, menu="Tools", toolbar=tools)
        keep.setCheckable(True)
        tools.addWidget(self.brush_slider)
        for number in range(1, 10):
            add(f"Class {number}", str(number), lambda n=number: self.class_panel.select(n), menu=None)
        add("Toggle prediction", "V", lambda: self.layer_panel.toggle(LayerKind.PREDICTION), menu="View")
        add("Toggle error map", "X", lambda: self.layer_panel.toggle(LayerKind.ERROR_MAP), menu="View")
        add("Fit to window", "Ctrl+0", self.canvas.fit, menu="View")
        add("Actual size (1:1)", "Ctrl+1", self.canvas.actual_size, menu="View")
        add("Keyboard shortcuts", "F1", self.show_help, menu="Help")

    def _action(
        self,
        text: str,
        keys: str | list[str],
        slot: Callable[[], object],
        *,
        menu: str | None,
        toolbar: QToolBar | None = None,
    ) -> QAction:
        action = QAction(text, self)
        sequences = [QKeySequence(k) for k in ([keys] if isinstance(keys, str) else keys)]
        action.setShortcuts(sequences)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        if menu is not None:
            if menu not in self._menus:
                self._menus[menu] = self.menuBar().addMenu(menu)
            self._menus[menu].addAction(action)
        if toolbar is not None:
            toolbar.addAction(action)
        self._actions.append(action)
        return action

    def shortcuts(self) -> list[tuple[str, str]]:
        """(action, keys) for every action: what the help dialog lists."""
        rows = [(a.text(), ", ".join(s.toString() for s in a.shortcuts())) for a in self._actions]
        rows += [
            ("Peek at ground truth (hold)", QKeySequence(PEEK_KEY).toString()),
            ("Pan", "Space + drag, or middle-drag"),
            ("Zoom", "mouse wheel (around the cursor)"),
            ("Close polygon", "double-click, right-click or Enter; Esc drops it"),
        ]
        return rows

    def show_help(self) -> None:
        rows = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in self.shortcuts())
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellspacing=4>{rows}</table>")

    # -- folder and images -------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a dataset folder", str(self.settings.value("last_folder", "")))
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path, *, image: str | None = None) -> None:
        """Open a dataset folder: it is listed and paired on the "scan" worker (a network drive or a first-time
        layout detection must not freeze the window); then ``image`` or the first one loads, also on a worker.
        ``dataset_opened`` follows the scan, ``sample_loaded`` the image; a folder that cannot be opened gives a
        readable message and ``load_failed``."""
        self._leave_current()
        self.statusBar().showMessage(f"reading {folder}...")
        def scan(_progress, _cancel):
            dataset = open_dataset(folder)
            return dataset, app_predictions(dataset)  # masks the app predicted in earlier runs

        handle = self.pool.submit("scan", scan)
        handle.signals.finished.connect(lambda found: self._show_dataset(found[0], image, found[1]))
        handle.signals.failed.connect(self._on_scan_failed)

    def _on_scan_failed(self, failure: WorkerFailure) -> None:
        message = f"could not open the folder: {failure.message}"
        self.statusBar().showMessage(message, 15000)
        if self.interactive:
            QMessageBox.warning(self, "segstudio", message)
        self.load_failed.emit(failure.message)

    def _show_dataset(self, dataset: Dataset, image: str | None, predicted: dict[str, Path] | None = None) -> None:
        """Show ``dataset``; ``predicted`` (key -> mask under segstudio-predictions/, see ``app_predictions``) are
        the app's predictions from earlier runs: used as the model's predictions, as if just made."""
        self.dataset = dataset
        self.saving.open_dataset(dataset)
        self.current_key = None
        self.canvas.set_session(None)
        self.metrics_panel.set_session(None)
        self.class_panel.set_labels(dataset.spec.labels)
        self.class_panel.select(min(1, dataset.spec.labels.num_classes - 1))
        self.file_list.set_dataset(dataset)
        self.predictions.open_dataset(dataset, predicted)
        self.scores.open_dataset(dataset)
        self.model_panel.set_dataset_labels(dataset.spec.labels)
        self.settings.setValue("last_folder", str(dataset.root))
        try:
            first = dataset.sample(image).key if image else (self.file_list.neighbour(0) if dataset.samples else None)
        except KeyError as missing:
            self.statusBar().showMessage(str(missing.args[0]), 15000)
            first = self.file_list.neighbour(0) if dataset.samples else None
        self.dataset_opened.emit(dataset)
        if first is not None:
            # The first image comes first: the metrics job (reading every mask) starts once it is on screen.
            self._metrics_after_load = dataset
            self.load(first)
        else:
            self._metrics_after_load = None
            self.compute_dataset_metrics()
        if self.saving.read_only_reason is not None:
            self._report(self.saving.read_only_reason)
        elif self.interactive and self.saving.pending_recoveries():
            QTimer.singleShot(0, self._offer_recovery)

    def _on_read_only_changed(self, reason: str) -> None:
        root = self.dataset.root if self.dataset is not None else ""
        self.setWindowTitle(f"segstudio - {root}" + (" [read-only]" if reason else ""))
        self.canvas.tools.read_only = bool(reason)

    def load(self, key: str) -> None:
        """Show sample ``key``: its masks are read on the "load" worker; ``sample_loaded`` follows."""
        if self.dataset is None or key == self.current_key and self.canvas.session is not None:
            return
        self._leave_current()
        sample = self.dataset.sample(key)
        recovered = self.saving.unsaved_work(sample.key)
        dataset = self.dataset
        self._loading_key = sample.key
        self.file_list.select_key(sample.key)
        self.statusBar().showMessage(f"loading {sample.name}...")
        self.predictions.leaving_for(sample.key)  # a prediction of the image the user left is dropped
        predicted = self.predictions.files.get(sample.key)
        self.pool.submit("load", lambda progress, cancel: load_sample(
            dataset, sample, recovered=recovered, prediction_path=predicted, progress=progress, cancel=cancel))

    def _on_loaded(self, loaded: LoadedSample) -> None:
        self.saving.loaded(loaded)
        self._loading_key = None
        self.show_session(loaded.key, loaded.session)
        if loaded.notes:
            self.statusBar().showMessage("; ".join(loaded.notes), 15000)

    def show_session(self, key: str, session: ImageSession) -> None:
        self.current_key = key
        self.saving.show(key, session)
        self.predictions.show(key, session)
        self.canvas.set_session(session)
        self.metrics_panel.set_session(session)
        self.file_list.select_key(key)
        self.statusBar().showMessage(f"{key}: working mask from {session.working_source.value}", 5000)
        self._update_status()
        self._show_main_view(session)
        self.sample_loaded.emit(key)
        self._start_metrics_after_load()
        self.predictions.image_ready()

    def _start_metrics_after_load(self) -> None:
        if self._metrics_after_load is not None:
            dataset, self._metrics_after_load = self._metrics_after_load, None
            QTimer.singleShot(0, self, lambda: self.compute_dataset_metrics() if self.dataset is dataset else None)

    def _on_load_failed(self, failure: WorkerFailure) -> None:
        self._loading_key = None
        self.statusBar().showMessage(f"could not open the image: {failure.message}", 15000)
        self.load_failed.emit(failure.message)
        self._start_metrics_after_load()

    def step_image(self, delta: int) -> None:
        key = self.file_list.neighbour(delta)
        if key is not None:
            self.load(key)

    def _leave_current(self) -> None:
        self.saving.leave()

    # -- editing ---------------------------------------------------------------------------------------

    def set_tool(self, tool: Tool) -> None:
        self.canvas.tools.cancel()
        self.canvas.tools.tool = tool
        for action in self._actions:
            if isinstance(action.data(), Tool):
                action.setChecked(action.data() is tool)
        self.canvas.update()
        self._update_status()

    def _toggle_keep(self) -> None:
        self.canvas.tools.keep_other_classes = not self.canvas.tools.keep_other_classes
        self._update_status()

    def _on_class_selected(self, class_id: int) -> None:
        self.canvas.tools.value = class_id
        self.metrics_panel.set_selected_class(class_id)
        self._update_status()

    def _edit(self, operation: Callable[[ImageSession], object]) -> None:
        session = self.canvas.session
        if session is None or self.saving.refuse_when_read_only("change the mask"):
            return
        try:
            operation(session)
        except ValueError as error:
            self.statusBar().showMessage(str(error), 8000)

    def undo(self) -> None:
        self.canvas.tools.cancel()
        self._edit(lambda s: s.undo())

    def redo(self) -> None:
        self._edit(lambda s: s.redo())

    def accept_prediction(self) -> None:
        self._edit(lambda s: s.accept_prediction())

    def reset_to_ground_truth(self) -> None:
        self._edit(lambda s: s.reset_to_ground_truth())

    # -- recovery --------------------------------------------------------------------------------------

    def recover(self, entry: Recoverable) -> None:
        """Bring back an autosave: its image opens with the recovered mask as one undo step (not saved yet)."""
        if self.dataset is None:
            return
        key = self.saving.take_recovery(entry)
        if key == self.current_key:
            self.current_key = None  # force a reload with the recovered mask
            self.canvas.set_session(None)
        self.load(key)

    def _offer_recovery(self) -> None:
        entries = self.saving.pending_recoveries()
        if not entries:
            return
        good = [e for e in entries if e.problem is None]
        text = "\n".join(str(e) for e in entries[:10]) + ("\n..." if len(entries) > 10 else "")
        answer = QMessageBox.question(
            self, "Recover unsaved work?",
            f"segstudio found unsaved work from an earlier session:\n\n{text}\n\nRestore it? (No discards it.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            for entry in good[1:]:
                self.saving.take_recovery(entry)
            if good:
                self.recover(good[0])
        elif answer == QMessageBox.StandardButton.No:
            for entry in entries:
                self.saving.discard_recovery(entry)

    # -- model, predictions, dataset metrics ------------------------------------------------------------
    # Channels: "model" (the panel loads a checkpoint), "predict" (this image, or all images: one at a time),
    # "apply prediction" (read back the current image's mask after "predict all"), "dataset metrics" (model vs
    # truth for every image) and "image metrics <key>" (one image again, after its prediction changed).

    def _wire_model(self) -> None:
        predictions = self.predictions
        predictions.session_ready.connect(self._on_prediction_ready)
        predictions.predicted.connect(self.file_list.model.set_prediction)
        predictions.folder_written.connect(self._on_predictions_written)
        predictions.status.connect(lambda message, timeout: self.statusBar().showMessage(message, timeout))
        predictions.error.connect(self._report_worker_error)
        predictions.stroke_interrupted.connect(self.canvas.tools.cancel)
        scores = self.scores
        scores.image_scores.connect(self.file_list.model.set_scores)
        scores.image_score.connect(self.file_list.model.set_score)
        scores.started.connect(lambda total: self.metrics_panel.set_dataset_scores(None, 0, total, running=True))
        scores.dataset_scored.connect(self._show_dataset_scores)
        scores.failed.connect(self._report_worker_error)

    def start_demo(self, folder: Path, settings: object | None = None) -> object:
        """The demo project: load its cached model, or train one on the worker first (see
        :mod:`segstudio.ui.demo_model`); its predictions then replace the synthetic ones."""
        from segstudio.ui.demo_model import DemoModel

        self.demo = DemoModel(self, Path(folder), settings)  # type: ignore[arg-type]
        self.demo.start()
        return self.demo

    def load_model(self, path: Path, *, predict: bool | str = False) -> None:
        """Load a checkpoint (``predict``: then predict the shown image; ``"all"``: every image)."""
        self.predictions.load_model(path, predict=predict)

    def predict_current(self) -> None:
        self.predictions.predict_current()

    def predict_all_images(self) -> None:
        self.predictions.predict_all()

    def _on_prediction_ready(self, key: str, session: ImageSession) -> None:
        if key != self.current_key:
            return
        self.show_session(key, session)
        self.prediction_applied.emit(key)
        self.score_current_image()

    def _on_predictions_written(self, result: PredictedFolder) -> None:
        self.predictions_written.emit(result)
        self.compute_dataset_metrics()

    def _on_layer_touched(self, kind: LayerKind, _style: LayerStyle) -> None:
        self._layers_touched.add(kind)

    def _show_main_view(self, session: ImageSession) -> None:
        """With both ground truth and a prediction, show the prediction and the error map (the product's main
        view), unless the user changed those layers' visibility this run."""
        if session.ground_truth is None or session.prediction is None:
            return
        for kind in (LayerKind.PREDICTION, LayerKind.ERROR_MAP):
            style = self.canvas.layer_style(kind)
            if kind in self._layers_touched or style.visible:
                continue
            style = LayerStyle(True, style.opacity, style.outline_only)
            self.canvas.set_layer_style(kind, style)
            self.layer_panel.set_style(kind, style)

    def compute_dataset_metrics(self) -> None:
        """Score the model against the truth for every image (rows fill in as images finish)."""
        self._metrics_after_load = None
        self.scores.score_dataset(self.predictions.files)

    def score_current_image(self) -> None:
        """Model vs truth for the image on screen only (after its prediction changed), on a worker."""
        session, key = self.canvas.session, self.current_key
        if session is not None and key is not None and session.prediction is not None and session.ground_truth is not None:
            self.scores.score_image(key, session.prediction, session.ground_truth)

    def _show_dataset_scores(self, result: DatasetScoresResult) -> None:
        scored = sum(1 for s in result.per_image.values() if s.confusion is not None)
        self.metrics_panel.set_dataset_scores(result.scores, scored, result.total)
        self.dataset_scored.emit(result)

    def _report_worker_error(self, message: str) -> None:
        self.worker_error.emit(message)
        self._report(message)

    # -- status, keys, settings, closing ---------------------------------------------------------------

    def _on_cursor(self, x: int, y: int, value: int) -> None:
        session = self.canvas.session
        if value < 0 or session is None:
            self.status_cursor.setText("")
            return
        try:
            name = session.labels.name_of(value)
        except KeyError:
            name = f"value {value}"
        self.status_cursor.setText(f"x {x}, y {y}: {name}")

    def _on_brush_size(self, size: int) -> None:
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(min(self.brush_slider.maximum(), size))
        self.brush_slider.blockSignals(False)
        self._update_status()

    def _update_status(self) -> None:
        tools = self.canvas.tools
        labels = self.dataset.spec.labels if self.dataset is not None else None
        try:
            name = labels.name_of(tools.value) if labels is not None else str(tools.value)
        except KeyError:
            name = str(tools.value)
        keep = ", keep other classes" if tools.keep_other_classes else ""
        self.status_class.setText(f"class: {name}")
        if tools.tool is Tool.ERASER and tools.eraser_status:
            self.status_brush.setText(f"{tools.eraser_status}, size {tools.size}{keep}")
        else:
            self.status_brush.setText(f"{tools.tool.value}, size {tools.size}{keep}")
        session = self.canvas.session
        state = "" if session is None else ("modified" if session.dirty else "")
        if self.saving.read_only_reason is not None:
            state = "read-only (open in another window)"
        self.status_source.setText(state)

    def _report(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        if self.interactive:
            QMessageBox.warning(self, "segstudio", message)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == PEEK_KEY and not event.isAutoRepeat():
            self.canvas.set_peek_truth(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == PEEK_KEY and not event.isAutoRepeat():
            self.canvas.set_peek_truth(False)
            return
        super().keyReleaseEvent(event)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        size = int(self.settings.value("brush_size", 15))
        self.canvas.set_brush_size(size)
        self._on_brush_size(self.canvas.tools.size)
        for kind in LayerKind:
            opacity = self.settings.value(f"opacity/{kind.name}")
            if opacity is not None:
                style = self.canvas.layer_style(kind)
                try:
                    style = LayerStyle(style.visible, min(1.0, max(0.0, float(opacity))), style.outline_only)
                except (TypeError, ValueError):
                    continue
                self.canvas.set_layer_style(kind, style)
                self.layer_panel.set_style(kind, style)

    def save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("brush_size", self.canvas.tools.size)
        for kind in LayerKind:
            self.settings.setValue(f"opacity/{kind.name}", self.canvas.layer_style(kind).opacity)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.autosave_timer.stop()
        self.saving.close()  # a pending save finishes (and marks the work saved) before the last autosave
        self.save_settings()
        self.pool.shutdown(5000)
        self.saving.closed()
        super().closeEvent(event)
