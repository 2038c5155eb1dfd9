"""View > Compare predictions with...: the predictions the window shows against another set (an older model's, or a
prediction folder of the dataset), scored image by image on the "compare" worker into the list's "Δ IoU" column; and
View > Show where predictions disagree (Z): the pixels of the shown image where the two differ, in cyan on the
canvas."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from segstudio.app.model_comparison import (
    ComparisonResult,
    PredictionSet,
    compare_sets,
    disagreement,
    prediction_sets,
    read_set_prediction,
)
from segstudio.core.errors import FileProblem
from segstudio.core.progress import Progress
from segstudio.io.datasets import Dataset
from segstudio.io.images import image_size
from segstudio.ui.canvas import Canvas
from segstudio.ui.canvas_compositing import DISAGREEMENT_COLOUR
from segstudio.ui.file_list import FileList
from segstudio.ui.workers import WorkerFailure, WorkerPool

COMPARE_CHANNEL = "compare"


class ComparisonController(QObject):
    """``status(message, ms)`` for the status bar; ``compared(ComparisonResult)`` once the list has its column."""

    status = Signal(str, int)
    compared = Signal(object)

    def __init__(self, pool: WorkerPool, file_list: FileList, canvas: Canvas, *, interactive: bool,
                 dialog_parent: QWidget | None = None) -> None:
        super().__init__(dialog_parent)
        self._pool = pool
        self._files = file_list
        self._canvas = canvas
        self._interactive = interactive
        self._parent = dialog_parent
        self.other: PredictionSet | None = None
        self.show_disagreement = False
        self._marked = False  # the canvas's highlight is ours (an instance's is left alone otherwise)
        signals = pool.signals(COMPARE_CHANNEL)
        signals.progress.connect(self._on_progress)
        signals.finished.connect(self._on_compared)
        signals.failed.connect(lambda failure: self._on_failed(failure))

    def clear(self) -> None:
        """Another folder: no comparison."""
        self._pool.cancel(COMPARE_CHANNEL, drop=True)
        self.other = None
        self._unmark()
        self._files.show_comparison(None)

    def choose(self, dataset: Dataset | None, shown: Mapping[str, Path]) -> None:
        """Ask which set to compare the shown predictions with, then compare."""
        if dataset is None:
            return
        sets = prediction_sets(dataset)
        if len(sets) < 2:
            self.status.emit("nothing to compare with: the folder holds one set of predictions (predict all with "
                             "another model, or add a prediction folder)", 10000)
            return
        names = [s.name for s in sets]
        chosen = names[1] if self._interactive is False else None
        if self._interactive:
            chosen, ok = QInputDialog.getItem(self._parent, "Compare predictions",
                                              "Compare the shown predictions with:", names, 1, False)
            if not ok:
                return
        self.compare(dataset, shown, sets[names.index(chosen)])

    def compare(self, dataset: Dataset, shown: Mapping[str, Path], other: PredictionSet) -> None:
        self.other = other
        shown = dict(shown)
        self.status.emit(f"comparing the shown predictions with {other.name}...", 0)
        self._pool.submit(COMPARE_CHANNEL, lambda progress, cancel: compare_sets(
            dataset, shown, other, progress=progress, cancel=cancel))

    def _on_progress(self, progress: Progress) -> None:
        self.status.emit(f"comparing predictions: {progress.done} of {progress.total} images", 0)

    def _on_compared(self, result: ComparisonResult) -> None:
        self._files.show_comparison(result)
        scored = [c.iou_gain for c in result.per_image.values() if c.iou_gain is not None]
        worse = sum(1 for gain in scored if gain < 0)
        self.status.emit(f"compared with {result.other}: {len(scored)} image(s) scored by both, the shown predictions "
                         f"worse on {worse} (sorted first in the Δ IoU column)", 15000)
        self.compared.emit(result)

    def _on_failed(self, failure: WorkerFailure) -> None:
        self.status.emit(f"the comparison failed: {failure.message}", 0)

    def set_show_disagreement(self, on: bool, dataset: Dataset | None, key: str | None) -> None:
        self.show_disagreement = on
        self.shown(dataset, key)

    def shown(self, dataset: Dataset | None, key: str | None) -> None:
        """Image ``key`` is on screen: mark where the two predictions disagree on it (when asked to)."""
        session = self._canvas.session
        if not self.show_disagreement or session is None or dataset is None or key is None:
            self._unmark()
            return
        if self.other is None:
            self.status.emit("choose what to compare with first: View > Compare predictions with...", 8000)
            self._unmark()
            return
        try:
            sample = dataset.sample(key)
            theirs = read_set_prediction(dataset, sample, self.other, image_size(sample.image))
        except (FileProblem, KeyError) as problem:
            self.status.emit(f"cannot show the disagreement: {problem}", 8000)
            self._unmark()
            return
        differ = disagreement(session.prediction, theirs)
        self._canvas.set_highlight(differ, DISAGREEMENT_COLOUR)
        self._marked = differ is not None
        if differ is None:
            what = "no prediction shown" if session.prediction is None else f"{self.other.name} has none"
            self.status.emit(f"{key}: nothing to compare ({what})", 8000)
        else:
            self.status.emit(f"{key}: the shown prediction and {self.other.name} disagree on {int(differ.sum()):,} px "
                             f"({100 * differ.mean():.1f} %), in cyan", 8000)


    def _unmark(self) -> None:
        if self._marked:
            self._canvas.set_highlight(None)
            self._marked = False


def command_slots(controller: ComparisonController, dataset: Callable[[], Dataset | None],
                  shown: Callable[[], Mapping[str, Path]], key: Callable[[], str | None]) -> dict:  # noqa: ANN001
    """Slots for the View menu's comparison commands."""
    from segstudio.ui.actions import Command

    return {
        Command.COMPARE_PREDICTIONS: lambda: controller.choose(dataset(), shown()),
        Command.SHOW_DISAGREEMENT: lambda: controller.set_show_disagreement(
            not controller.show_disagreement, dataset(), key()),
    }


__all__ = ["ComparisonController", "command_slots"]
