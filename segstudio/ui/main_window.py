"""The main window: composes the canvas, the panels and the controllers, and wires their signals.

It holds no pixels and computes nothing. What it owns is what is open: the folder (listed and paired on the
"scan" worker, :func:`segstudio.app.project.open_project`) and the image on screen (read on the "load" worker,
:mod:`~segstudio.ui.image_loading`; its :class:`ImageSession` owns the masks and the scores); every part is told
when either changes. The parts:
saving, autosave and the folder lock (:mod:`~segstudio.ui.saving`), offering a crashed session's work back
(:mod:`~segstudio.ui.recovery`), the model's predictions, scores and when they are counted
(:mod:`~segstudio.ui.predictions`, :mod:`~segstudio.ui.dataset_scores`, :mod:`~segstudio.ui.model_results`), class
edits and instances (:mod:`~segstudio.ui.class_editing`), the demo's own model (:mod:`~segstudio.ui.demo_model`),
the commands, menus and toolbar (:mod:`~segstudio.ui.actions`), what the editing commands do
(:mod:`~segstudio.ui.editing`), the layer styles (:mod:`~segstudio.ui.layers`), the status bar
(:mod:`~segstudio.ui.status`) and what is remembered between runs (:mod:`~segstudio.ui.window_settings`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow

from segstudio.app.demo_model import SYNTHETIC_WORDS, DemoTrainingSettings
from segstudio.app.project import Project, open_project
from segstudio.app.sample_loader import LoadedSample
from segstudio.app.scoring import DatasetScoresResult
from segstudio.core.layers import LayerKind
from segstudio.core.review import ReviewStatus
from segstudio.core.session import ImageSession
from segstudio.io.autosave_files import Recoverable
from segstudio.io.datasets import Dataset
from segstudio.ui.about import show_about
from segstudio.ui.actions import Command, WindowActions
from segstudio.ui.canvas import Canvas
from segstudio.ui.class_editing import ClassEditingController
from segstudio.ui.cluster_setting import ClusterSetting
from segstudio.ui.class_panel import ClassPanel
from segstudio.ui.comparison import ComparisonController
from segstudio.ui.correction_tools import CorrectionTools
from segstudio.ui.comparison import command_slots as comparison_slots
from segstudio.ui.dataset_scores import DatasetScoresController
from segstudio.ui.dataset_view import DatasetView
from segstudio.ui.demo_model import DemoController
from segstudio.ui.docks import Panel, WindowDocks
from segstudio.ui.editing import EditingCommands
from segstudio.ui.export import ExportController
from segstudio.ui.file_list import FileList
from segstudio.ui.fine_tune import WINDOW_SETTINGS, FineTuneController, FineTunePanel
from segstudio.ui.image_loading import ImageLoading
from segstudio.ui.instance_panel import InstancePanel
from segstudio.ui.layer_panel import LayerPanel
from segstudio.ui.layers import LayerController
from segstudio.ui.metrics_panel import MetricsPanel
from segstudio.ui.model_doubt import ModelDoubt
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.model_results import ModelResults
from segstudio.ui.predictions import PredictionController
from segstudio.ui.recovery import RecoveryController
from segstudio.ui.review import ReviewController
from segstudio.ui.review_panel import ReviewPanel
from segstudio.ui.resources import app_icon, style_sheet
from segstudio.ui.saving import SaveController
from segstudio.ui.status import StatusLine
from segstudio.ui.tools import Tool
from segstudio.ui.unsaved import CloseGuard, window_title
from segstudio.ui.window_settings import WindowSettings, app_settings
from segstudio.ui.workers import WorkerFailure, WorkerPool

AUTOSAVE_INTERVAL_MS = 5000


class MainWindow(QMainWindow):
    """``sample_loaded(key)`` once an image is on screen; ``load_failed(message)`` when it could not be read.

    ``interactive=False`` (screenshots, tests) never opens a dialog: unsaved work of an earlier session is then
    brought back through :attr:`recovery` (``pending()``, ``resolve()``) or :meth:`recover` only.
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
        self.setWindowTitle(window_title(None, None))
        self.setWindowIcon(app_icon())
        self.setStyleSheet(style_sheet())
        self.interactive = interactive
        self.settings = settings if settings is not None else app_settings()
        self.remembered = WindowSettings(self.settings)
        self.pool = WorkerPool(self)
        self.dataset: Dataset | None = None
        self.current_key: str | None = None
        self.demo: DemoController | None = None  # when the demo project is open

        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.file_list = FileList(self)
        self.file_list.enable_thumbnails(self.pool)
        self.class_panel = ClassPanel(self)
        self.layer_panel = LayerPanel({kind: self.canvas.layer_style(kind) for kind in LayerKind}, self)
        self.metrics_panel = MetricsPanel(self)
        self.model_panel = ModelPanel(self.pool, self)
        self.review_panel = ReviewPanel(self)
        self.dataset_view = DatasetView(self)
        self.fine_tune_panel = FineTunePanel(self)
        self.instance_panel = InstancePanel(self)
        self.docks = WindowDocks(self, {
            Panel.IMAGES: self.file_list, Panel.CLASSES: self.class_panel, Panel.INSTANCES: self.instance_panel,
            Panel.LAYERS: self.layer_panel,
            Panel.METRICS: self.metrics_panel, Panel.MODEL: self.model_panel, Panel.REVIEW: self.review_panel,
            Panel.DATASET: self.dataset_view, Panel.FINE_TUNE: self.fine_tune_panel,
        })

        self.loading = ImageLoading(self.pool, self)
        self.saving = SaveController(self.pool, interactive=interactive, dialog_parent=self)
        self.recovery = RecoveryController(self.saving, interactive=interactive, dialog_parent=self)
        self.close_guard = CloseGuard(self.saving, interactive=interactive, name_of=self._image_label, dialog_parent=self)
        self.cluster = ClusterSetting(self.settings, self)
        self.predictions = PredictionController(self.pool, self.model_panel, self, cluster=lambda: self.cluster.address)
        self.model_panel.show_cluster(self.cluster.address)
        self.scores = DatasetScoresController(self.pool, self)
        self.results = ModelResults(self.predictions, self.scores, self.metrics_panel, self.file_list.model, self)
        self.class_editing = ClassEditingController(self.class_panel, self.canvas, self.saving, self)
        self.editing = EditingCommands(self.canvas, self.saving, self)
        self.correction_tools = CorrectionTools(self.pool, self.canvas, self.predictions, self.model_panel,
                                                self.instance_panel, self.settings, self)
        tools = self.correction_tools  # the names tests and scripts reach them by
        self.instance_editing, self.region_fixing = tools.instances, tools.regions
        self.box_to_mask, self.uncertain_pixels = tools.box_to_mask, tools.uncertain
        self.layers = LayerController(self.canvas, self.layer_panel, self)
        self.model_doubt = ModelDoubt(self.canvas, self.predictions, self.layer_panel, self)
        self.review = ReviewController(self.pool, self.file_list, self.saving, self)
        self.review.bind(self.review_panel)
        self.exporter = ExportController(self.pool, interactive=interactive, dialog_parent=self)
        self.fine_tuning = FineTuneController(self.pool, self.fine_tune_panel, self)
        self.comparison = ComparisonController(self.pool, self.file_list, self.canvas, interactive=interactive,
                                               dialog_parent=self)
        self.status_line = StatusLine(self.statusBar(), self.canvas, interactive=interactive, dialog_parent=self)
        self.commands = WindowActions(self, self._command_slots())
        self.commands.show_tool(self.canvas.tools.tool)
        self.commands.add_panel_toggles(self.docks.toggle_actions())
        self._wire()
        if not self.remembered.restore(self, self.canvas, self.layers, self.file_list.view):
            self.docks.size_default()  # for the size the window has now
        self.commands.set_recent_folders(self.remembered.recent_folders)
        self.commands.show_brush_size(self.canvas.tools.size)  # also when the size did not change
        self._show_layer_toggles()
        self.status_line.refresh()

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.autosave_timer.timeout.connect(self.saving.autosave_now)
        self.autosave_timer.start()

    # -- wiring ------------------------------------------------------------------------------------------------

    def _command_slots(self) -> dict[Command, Callable[[], object]]:
        editing, layers, canvas = self.editing, self.layers, self.canvas
        slots: dict[Command, Callable[[], object]] = {
            Command.OPEN_FOLDER: self.choose_folder,
            Command.LOAD_MODEL: self.choose_model,
            Command.SAVE: self.saving.save,
            Command.EXPORT_ACCEPTED: self.export_accepted,
            Command.QUIT: self.close,
            Command.PREVIOUS_IMAGE: lambda: self.step_image(-1),
            Command.NEXT_IMAGE: lambda: self.step_image(1),
            Command.UNDO: editing.undo,
            Command.REDO: editing.redo,
            Command.ACCEPT_PREDICTION: editing.accept_prediction,
            Command.RESET_TO_GROUND_TRUTH: editing.reset_to_ground_truth,
            Command.SAVE_AS_GROUND_TRUTH: self.saving.save_as_ground_truth,
            Command.SMALLER_BRUSH: lambda: editing.step_brush(-1),
            Command.LARGER_BRUSH: lambda: editing.step_brush(1),
            Command.KEEP_OTHER_CLASSES: editing.toggle_keep_other_classes,
            Command.TOGGLE_PREDICTION: lambda: layers.toggle(LayerKind.PREDICTION),
            Command.TOGGLE_ERROR_MAP: lambda: layers.toggle(LayerKind.ERROR_MAP),
            Command.TOGGLE_CERTAINTY: lambda: layers.toggle(LayerKind.CERTAINTY),
            Command.FIT: canvas.fit,
            Command.ACTUAL_SIZE: canvas.actual_size,
            Command.RESET_LAYOUT: self.docks.arrange_default,
            Command.DATASET_FIGURES: lambda: self.docks.show_large(Panel.DATASET),
            Command.FINE_TUNE: self.fine_tune,
            Command.CLUSTER_FOR_PREDICT_ALL: lambda: self.cluster.choose(self),
            Command.HELP: lambda: self.commands.show_help(self),
            Command.ABOUT: lambda: show_about(self),
        }
        slots |= self.review.command_slots(lambda: (self.current_key, self.canvas.session), self)
        slots |= comparison_slots(self.comparison, lambda: self.dataset, lambda: self.predictions.files,
                                  lambda: self.current_key)
        slots |= self.correction_tools.command_slots()
        slots |= {Command.for_tool(tool): (lambda t=tool: editing.set_tool(t)) for tool in Tool}
        slots |= {Command.for_class(n): (lambda n=n: self.class_panel.select(n)) for n in range(1, 10)}
        return slots

    def _wire(self) -> None:
        show = self.status_line.show
        self.file_list.sample_chosen.connect(self.load)
        self.class_panel.class_selected.connect(self.editing.set_class)
        self.class_panel.class_selected.connect(self.metrics_panel.set_selected_class)
        self.canvas.class_picked.connect(self.class_panel.select)
        self.canvas.stroke_ended.connect(self.saving.unsaved.note)
        self.canvas.brush_size_changed.connect(self.commands.show_brush_size)
        self.canvas.brush_size_changed.connect(lambda _size: self.status_line.refresh())
        self.commands.brush_size_chosen.connect(self.canvas.set_brush_size)
        self.commands.peek_changed.connect(self.canvas.set_peek_truth)
        self.commands.recent_folder_chosen.connect(self.open_folder)
        self.commands.recent_cleared.connect(self._clear_recent)
        self.layer_panel.style_changed.connect(lambda _kind, _style: self._show_layer_toggles())
        self.dataset_opened.connect(lambda _dataset: self.docks.fit_list_columns(self.file_list.view, "Dice"))
        self.file_list.columns_changed.connect(lambda last: self.docks.fit_list_columns(self.file_list.view, last))
        self.editing.tool_changed.connect(self.commands.show_tool)
        self.editing.tools_changed.connect(self.status_line.refresh)
        self.editing.status.connect(show)
        self.sample_loaded.connect(self.class_editing.show_instances)
        self.correction_tools.status.connect(show)
        self.model_doubt.status.connect(show)
        self.correction_tools.instances_shown.connect(self.docks.show_instances)
        self.correction_tools.class_chosen.connect(self.class_panel.select)
        self.correction_tools.painted.connect(self.saving.unsaved.note)
        self.correction_tools.show_checks(lambda command, checked: self.commands.action(command).setChecked(checked))
        self.correction_tools.show_availability(self.commands.offer)
        self.editing.tool_changed.connect(self.correction_tools.click.tool_chosen)
        self.class_editing.dataset_changed.connect(self._on_relabelled)
        self.class_editing.session_relabelled.connect(self.metrics_panel.set_session)
        self.class_editing.status.connect(show)
        self.recovery.recovered.connect(self._open_recovered)
        self.loading.loaded.connect(self._on_loaded)
        self.loading.failed.connect(self._on_load_failed)
        self.saving.status.connect(show)
        self.saving.corrected.connect(self.file_list.model.set_corrected)
        self.saving.unsaved.changed.connect(self.file_list.model.set_unsaved)
        self.saving.unsaved.changed.connect(lambda _key, _unsaved: self._show_title())
        self.results.status.connect(show)
        self.review.status.connect(show)
        self.exporter.status.connect(show)
        self.comparison.status.connect(show)
        self.fine_tuning.status.connect(show)
        self.fine_tuning.repredict_requested.connect(self._repredict_open_images)
        self.sample_loaded.connect(lambda key: self.comparison.shown(self.dataset, key))
        self.review.go_to.connect(self.load)
        self.sample_loaded.connect(self.review.shown)
        self.saving.state_changed.connect(self.status_line.refresh)
        self.saving.read_only_changed.connect(self._on_read_only_changed)
        self.predictions.session_ready.connect(self._on_prediction_ready)
        self.predictions.status.connect(show)
        self.cluster.status.connect(show)
        self.cluster.changed.connect(self.model_panel.show_cluster)
        self.predictions.stroke_interrupted.connect(self.canvas.tools.cancel)
        self.results.predictions_written.connect(self.predictions_written)
        self.results.dataset_scored.connect(self.dataset_scored)
        self.results.dataset_scored.connect(self.file_list.show_dataset_scores)
        self.results.dataset_scored.connect(self._show_dataset_figures)
        self.dataset_view.image_chosen.connect(self.load)
        self.scores.instances_scored.connect(self.dataset_view.show_instance_scores)
        self.results.error.connect(self._report_worker_error)

    # -- folder and images -------------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a dataset folder", str(self.remembered.last_folder or ""))
        if folder:
            self.open_folder(Path(folder))

    def choose_model(self) -> None:
        """File > Load model...: the Model panel comes forward and asks for the file."""
        self.docks.bring_forward(Panel.MODEL)
        self.model_panel.choose_file()

    def export_accepted(self) -> None:
        """File > Export accepted masks...: the accepted images, in the list's order."""
        self.exporter.ask(self.dataset, self._keys_with(ReviewStatus.ACCEPTED))

    def _clear_recent(self) -> None:
        self.remembered.clear_recent()
        self.commands.set_recent_folders([])

    def _show_layer_toggles(self) -> None:
        self.commands.show_layers(self.layers.style(LayerKind.PREDICTION).visible,
                                  self.layers.style(LayerKind.ERROR_MAP).visible,
                                  self.layers.style(LayerKind.CERTAINTY).visible)

    def open_folder(self, folder: Path, *, image: str | None = None) -> None:
        """Open a dataset folder: it is listed and paired on the "scan" worker (a network drive or a first-time
        layout detection must not freeze the window); then ``image`` or the first one loads, also on a worker.
        ``dataset_opened`` follows the scan, ``sample_loaded`` the image; a folder that cannot be opened gives a
        readable message and ``load_failed``."""
        self.saving.leave()
        self.status_line.show(f"reading {folder}...")

        handle = self.pool.submit("scan", lambda _progress, _cancel: open_project(folder))
        handle.signals.finished.connect(lambda project: self._show_project(project, image))
        handle.signals.failed.connect(self._on_scan_failed)

    def _on_scan_failed(self, failure: WorkerFailure) -> None:
        self.status_line.report(f"could not open the folder: {failure.message}")
        self.load_failed.emit(failure.message)

    def _show_project(self, project: Project, image: str | None) -> None:
        """Show the project's dataset; the app's predictions from earlier runs are used as the model's, as if just
        made."""
        dataset = project.dataset
        self._adopt(dataset)
        self.saving.open_dataset(dataset)
        self.current_key = None
        self.canvas.set_session(None)
        self.metrics_panel.set_session(None)
        self.class_panel.set_labels(dataset.spec.labels)
        self.class_panel.select(min(1, dataset.spec.labels.num_classes - 1))
        self.file_list.set_dataset(dataset)
        self.review.open_dataset(dataset, project.review, project.review_problem)
        self.comparison.clear()
        self.model_panel.set_dataset_labels(dataset.spec.labels)
        self.commands.set_recent_folders(self.remembered.remember_folder(dataset.root))
        try:
            first = dataset.sample(image).key if image else (self.file_list.neighbour(0) if dataset.samples else None)
        except KeyError as missing:
            self.status_line.show(str(missing.args[0]), 15000)
            first = self.file_list.neighbour(0) if dataset.samples else None
        self.results.open_dataset(dataset, project.app_predictions, image_coming=first is not None)
        self.dataset_opened.emit(dataset)
        if first is not None:
            self.load(first)
        if self.saving.read_only_reason is not None:
            self.status_line.report(self.saving.read_only_reason)
        else:
            self.recovery.folder_opened()

    def _adopt(self, dataset: Dataset) -> None:
        """``dataset`` is the open folder now (or the same one with another label set)."""
        self.dataset = dataset
        self.class_editing.open_dataset(dataset)
        self.status_line.set_labels(dataset.spec.labels)

    def _on_relabelled(self, dataset: Dataset) -> None:
        self._adopt(dataset)
        self.saving.relabelled(dataset)
        self.scores.open_dataset(dataset)  # counts of another class count start again

    def _on_read_only_changed(self, reason: str) -> None:
        self._show_title()
        self.canvas.tools.read_only = bool(reason)
        self.predictions.read_only = bool(reason)  # predictions are shown there, never written
        self.status_line.set_read_only(reason)

    @property
    def loading_key(self) -> str | None:
        """The image being read on the "load" worker (None when none); ``sample_loaded`` or ``load_failed`` follows."""
        return self.loading.key

    def load(self, key: str) -> None:
        """Show sample ``key``: its masks are read on the "load" worker; ``sample_loaded`` follows."""
        if self.dataset is None or key == self.current_key and self.canvas.session is not None:
            return
        self.saving.leave()
        sample = self.dataset.sample(key)
        self.file_list.select_key(sample.key)
        self.status_line.show(f"loading {sample.name}...")
        self.predictions.leaving_for(sample.key)  # a prediction of the image the user left is dropped
        self.loading.start(
            self.dataset, sample, recovered=self.saving.unsaved_work(sample.key), prediction=self.predictions.files.get(sample.key)
        )

    def _on_loaded(self, loaded: LoadedSample) -> None:
        self.saving.loaded(loaded)
        self.show_session(loaded.key, loaded.session)
        if loaded.confidence is not None:
            self.predictions.keep_saved_certainty(loaded.key, loaded.confidence)
        self.model_panel.show_prediction_notes(loaded.notes)
        if loaded.notes:  # every note is in the Model panel; the status bar has room for one
            more = f" (and {len(loaded.notes) - 1} more note(s) in the Model panel)" if len(loaded.notes) > 1 else ""
            self.status_line.show(loaded.notes[0] + more, 15000)

    def show_session(self, key: str, session: ImageSession) -> None:
        self.current_key = key
        self.saving.show(key, session)
        self.results.show(key, session)
        self.canvas.set_session(session)
        self.metrics_panel.set_session(session)
        self.file_list.select_key(key)
        self.status_line.show(f"{key}: working mask from {self.saving.unsaved.describe_start(key, session)}", 5000)
        self._show_title()
        self.status_line.refresh()
        self.layers.show_main_view(session)
        self._show_layer_toggles()
        self.sample_loaded.emit(key)
        self.results.image_shown()

    def _image_label(self, key: str) -> str:
        """How the title and questions name image ``key``: its name, with its split when there are several."""
        try:
            sample = self.dataset.sample(key) if self.dataset is not None else None
        except KeyError:  # an image of the folder just left
            sample = None
        if sample is None or self.dataset is None:
            return key
        return f"{sample.name} ({sample.split})" if len(self.dataset.spec.splits) > 1 else sample.name

    def _show_title(self) -> None:
        """The image on screen, the folder, and "*" while the image has unsaved changes."""
        root = self.dataset.root if self.dataset is not None else None
        image = self._image_label(self.current_key) if self.current_key is not None else None
        self.setWindowTitle(window_title(root, image, read_only=self.saving.read_only_reason is not None))
        self.setWindowModified(self.saving.unsaved.has(self.current_key))

    def _on_load_failed(self, message: str) -> None:
        self.status_line.show(f"could not open the image: {message}", 15000)
        self.load_failed.emit(message)
        self.results.image_failed()

    def step_image(self, delta: int) -> None:
        key = self.file_list.neighbour(delta)
        if key is not None:
            self.load(key)

    # -- recovery ----------------------------------------------------------------------------------------------

    def recover(self, entry: Recoverable) -> None:
        """Bring back an autosave: its image opens with the recovered mask as one undo step (not saved yet)."""
        self.recovery.recover(entry)

    def _open_recovered(self, key: str) -> None:
        if key == self.current_key:
            self.current_key = None  # force a reload with the recovered mask
            self.canvas.set_session(None)
        self.load(key)

    # -- model, predictions, dataset metrics -------------------------------------------------------------------

    def start_demo(self, folder: Path, settings: DemoTrainingSettings | None = None) -> DemoController:
        """The demo project: load its cached model, or train one on the worker first (see
        :mod:`segstudio.ui.demo_model`); its predictions then replace the synthetic ones."""
        demo = DemoController(self.pool, self.model_panel, Path(folder), settings, self)
        self.results.name_prediction_folders(Path(folder), SYNTHETIC_WORDS)  # its predictions/ are not a model's
        demo.load_requested.connect(lambda path: self.load_model(path, predict="all"))
        demo.status.connect(self.status_line.show)
        self.predictions_written.connect(lambda _result: demo.predictions_written(self.current_key is not None))
        self.prediction_applied.connect(lambda _key: demo.prediction_applied())
        self.dataset_scored.connect(lambda _result: demo.dataset_scored())
        self.demo = demo
        demo.start()
        if demo.training:  # the first start: its progress is in the Model panel, then the scores are what to see
            self.docks.bring_forward(Panel.MODEL)
            demo.shown.connect(lambda: self.docks.bring_forward(Panel.METRICS) if self.docks.in_front(Panel.MODEL) else None)
        return demo

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
        self.model_panel.show_prediction_notes(())  # the model's own prediction, at the image's size
        self.prediction_applied.emit(key)
        self.results.score_shown_image()

    def fine_tune(self) -> None:
        """Review > Fine-tune on accepted masks: the loaded model, the accepted images (a part held out)."""
        model = self.model_panel.model
        if self.dataset is None or model is None:
            self.status_line.show("load a model first (File > Load model): fine-tuning starts from its weights", 10000)
            return
        self.docks.bring_forward(Panel.FINE_TUNE)
        settings = replace(WINDOW_SETTINGS, device=str(model.device))  # where the Model panel runs it
        self.fine_tuning.start(self.dataset, self._keys_with(ReviewStatus.ACCEPTED), model.path, settings)

    def _repredict_open_images(self, checkpoint: Path) -> None:
        """The fine-tuned model predicts the images still to do (or in progress)."""
        keys = [key for key in self.file_list.model.keys_in_order() if self.review.status_of(key).is_open]
        self.predictions.load_model(Path(checkpoint), predict="all", keys=keys)

    def _keys_with(self, status: ReviewStatus) -> list[str]:
        return [key for key in self.file_list.model.keys_in_order() if self.review.status_of(key) is status]

    def _show_dataset_figures(self, result: DatasetScoresResult) -> None:
        if self.dataset is not None:
            source = self.file_list.model.score_source or "the predictions"
            self.dataset_view.show_result(result, self.dataset.spec.labels, title=f"{source} vs ground truth")

    def _report_worker_error(self, message: str) -> None:
        self.worker_error.emit(message)
        self.status_line.report(message)

    # -- closing -----------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.close_guard.may_close():  # asks about unsaved work when interactive
            event.ignore()
            return
        self.autosave_timer.stop()
        self.saving.close()  # a pending save finishes (and marks the work saved) before the last autosave
        self.review.flush()
        self.remembered.save(self, self.canvas, self.layers, self.file_list.view)
        self.pool.shutdown(5000)
        self.saving.closed()
        super().closeEvent(event)
