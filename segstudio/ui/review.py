"""The review workflow in the window: statuses in the file list, "next to do", accept / reject and move on, comments,
and the writes of the project file's review table (on the "review" worker, merged with what other windows wrote).

The rules that move a status by themselves are :class:`~segstudio.app.review.ReviewKeeper`'s: the first edit of a
to-do image puts it in progress, saving a correction of an open image makes it corrected. Accepting saves the
working mask first when the accepted mask would not otherwise be on disk (unsaved edits, or a mask that came from
the model's prediction), and measures how much of the prediction it changed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QObject, QThread, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from segstudio.app.review import ReviewKeeper, measure_effort, write_review
from segstudio.io.review_file import read_review
from segstudio.core.errors import FileProblem
from segstudio.core.review import CorrectionEffort, ReviewBook, ReviewStatus, next_open
from segstudio.core.session import ImageSession
from segstudio.core.working_source import WorkingSource
from segstudio.io.datasets import Dataset
from segstudio.ui.actions import Command
from segstudio.ui.file_list import FileList
from segstudio.ui.review_panel import ReviewPanel
from segstudio.ui.saving import SaveController
from segstudio.ui.workers import WorkerFailure, WorkerPool

WRITE_DELAY_MS = 400  # statuses set in a quick run (accept, accept, accept) go out in one write
REVIEW_CHANNEL = "review"
STATUS_MS = 6000


class ReviewController(QObject):
    """``go_to(key)``: the window should show image ``key``; ``changed()``: statuses or comments changed (the Review
    panel redraws); ``status(message, ms)`` for the status bar."""

    go_to = Signal(str)
    changed = Signal()
    status = Signal(str, int)

    def __init__(self, pool: WorkerPool, file_list: FileList, saving: SaveController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._files = file_list
        self._saving = saving
        self.keeper: ReviewKeeper | None = None
        self.dataset: Dataset | None = None
        self._problem: str | None = None  # why statuses cannot be written (a malformed review table)
        self._writing: ReviewBook | None = None
        self._panel: ReviewPanel | None = None
        self.shown_key: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(WRITE_DELAY_MS)
        self._timer.timeout.connect(self._write)
        signals = pool.signals(REVIEW_CHANNEL)
        signals.finished.connect(self._on_written)
        signals.failed.connect(self._on_write_failed)
        saving.unsaved.changed.connect(self._on_unsaved)
        saving.corrected.connect(self._on_corrected)

    # -- the open folder ------------------------------------------------------------------------------------------

    def open_dataset(self, dataset: Dataset, book: ReviewBook | None = None, problem: str | None = None) -> None:
        """Show the folder's review table (``book``, read with the folder on the "scan" worker; None: read it now)
        in the list, after the list has the folder's rows (and with them which images have a saved correction). ``problem``: why the table could not be read; statuses
        then work for this run and are never written over it."""
        self.flush()
        self.dataset = dataset
        corrected = self._files.model.corrected_keys()  # the list read the corrections folder already
        if book is None and problem is None:
            try:
                book = read_review(dataset.project_file)
            except FileProblem as error:
                problem = str(error)
        self.keeper = ReviewKeeper(dataset.project_file, book or ReviewBook(), corrected)
        self._problem = None if problem is None else f"review statuses are not saved: {problem}"
        if self._problem is not None:
            self.status.emit(self._problem, 0)
        self.shown_key = None
        keys = [sample.key for sample in dataset.samples]
        self._show(keys)
        self.changed.emit()

    def bind(self, panel: ReviewPanel) -> None:
        """Show the review in ``panel`` and take the shown image's status, comment and the list filter from it."""
        self._panel = panel
        panel.status_chosen.connect(lambda status: self.set_status(self.shown_key, status) if self.shown_key else None)
        panel.comment_edited.connect(lambda text: self.set_comment(self.shown_key, text) if self.shown_key else None)
        panel.filter_chosen.connect(self._files.set_status_filter)
        self.changed.connect(self._refresh_panel)
        self._refresh_panel()

    def shown(self, key: str | None) -> None:
        """Image ``key`` is on screen now."""
        self.shown_key = key
        self._refresh_panel()

    def _refresh_panel(self) -> None:
        panel, keeper, dataset = self._panel, self.keeper, self.dataset
        if panel is None:
            return
        if keeper is None or dataset is None:
            panel.show_counts(None)
            panel.show_image(None, ReviewStatus.TO_DO, "")
            return
        labels = dataset.spec.labels
        panel.show_counts(keeper.counts(sample.key for sample in dataset.samples))
        key = self.shown_key
        editable = self._saving.read_only_reason is None
        panel.show_image(key, keeper.status_of(key) if key else ReviewStatus.TO_DO,
                         keeper.comment_of(key) if key else "", editable=editable)
        panel.show_effort(labels.names, *keeper.book.effort_per_class(labels.num_classes))

    def _show(self, keys: list[str]) -> None:
        keeper = self.keeper
        if keeper is None:
            return
        self._files.model.set_review({key: keeper.status_of(key) for key in keys},
                                     {key: keeper.comment_of(key) for key in keys},
                                     {key: keeper.effort_of(key) for key in keys})
        self._files.refilter()

    @property
    def problem(self) -> str | None:
        return self._problem

    def status_of(self, key: str) -> ReviewStatus:
        return ReviewStatus.TO_DO if self.keeper is None else self.keeper.status_of(key)

    def comment_of(self, key: str) -> str:
        return "" if self.keeper is None else self.keeper.comment_of(key)

    # -- commands ---------------------------------------------------------------------------------------------

    def set_status(self, key: str, status: ReviewStatus, *, comment: str | None = None,
                   effort: CorrectionEffort | None = None) -> bool:
        keeper = self.keeper
        if keeper is None or self._saving.refuse_when_read_only("change statuses"):
            return False
        if not keeper.set_status(key, status, comment=comment, effort=effort):
            return False
        self._changed(key)
        return True

    def set_comment(self, key: str, comment: str) -> bool:
        keeper = self.keeper
        if keeper is None or self._saving.refuse_when_read_only("comment"):
            return False
        if not keeper.set_comment(key, comment):
            return False
        self._changed(key)
        return True

    def command_slots(self, shown: Callable[[], tuple[str | None, ImageSession | None]],
                      dialog_parent: QWidget | None) -> dict[Command, Callable[[], object]]:
        """The Review menu's commands, acting on the image ``shown()`` returns (key and session)."""
        def mark(status: ReviewStatus) -> Callable[[], object]:
            return lambda: self.set_status(shown()[0], status) if shown()[0] is not None else None

        return {
            Command.NEXT_TO_DO: lambda: self.next_to_do(shown()[0]),
            Command.ACCEPT_AND_NEXT: lambda: self.decide(*shown(), ReviewStatus.ACCEPTED),
            Command.REJECT_AND_NEXT: lambda: self.decide(*shown(), ReviewStatus.REJECTED),
            Command.COMMENT: lambda: self.ask_comment(shown()[0], dialog_parent),
            Command.MARK_TO_DO: mark(ReviewStatus.TO_DO),
            Command.MARK_IN_PROGRESS: mark(ReviewStatus.IN_PROGRESS),
            Command.MARK_CORRECTED: mark(ReviewStatus.CORRECTED),
        }

    def ask_comment(self, key: str | None, parent: QWidget | None) -> bool:
        """Review > Comment...: edit the shown image's comment in a dialog."""
        if key is None:
            return False
        text, ok = QInputDialog.getMultiLineText(parent, "Comment", f"Comment on {key} (kept in the project file):",
                                                 self.comment_of(key))
        return ok and self.set_comment(key, text)

    def next_to_do(self, current: str | None) -> str | None:
        """Show the next image still to do (or in progress) after ``current`` in the list's order; says when none is."""
        keeper = self.keeper
        if keeper is None:
            return None
        key = next_open(self._files.model.keys_in_order(), current, keeper.status_of)
        if key is None:
            self.status.emit("nothing left to do: every image is corrected, accepted or rejected", STATUS_MS)
        elif key != current:
            self.go_to.emit(key)
        return key

    def decide(self, key: str | None, session: ImageSession | None, status: ReviewStatus) -> bool:
        """Accept or reject the image on screen, then go to the next one to do. Accepting saves the mask first when
        needed and records the correction effort. False (and a status message) when it could not be done."""
        if key is None or session is None or self.keeper is None or self._saving.refuse_when_read_only("review"):
            return False
        effort = None
        if status is ReviewStatus.ACCEPTED:
            if self._needs_save(key, session):
                if self._saving.save(wait=True) is None:
                    self.status.emit(f"{key} not accepted: its mask could not be saved", STATUS_MS)
                    return False
            labels = self.dataset.spec.labels if self.dataset is not None else session.labels
            effort = measure_effort(session.prediction, session.mask, labels)
        self.set_status(key, status, effort=effort)
        self.status.emit(f"{key}: {status.value}", STATUS_MS)
        self.next_to_do(key)
        return True

    def _needs_save(self, key: str, session: ImageSession) -> bool:
        """Whether accepting must write the working mask: it has unsaved changes, or it is the model's (or a blank)
        mask that no file holds yet."""
        if session.dirty or self._saving.unsaved.has(key):
            return True
        return session.working_source in (WorkingSource.PREDICTION, WorkingSource.BLANK, WorkingSource.AUTOSAVE)

    # -- automatic moves --------------------------------------------------------------------------------------

    def _on_unsaved(self, key: str, unsaved: bool) -> None:
        # A read-only window shows edits but writes nothing: its statuses stay as the other window sets them.
        if unsaved and self.keeper is not None and self._saving.read_only_reason is None and self.keeper.edited(key):
            self._changed(key)

    def _on_corrected(self, key: str) -> None:
        if self.keeper is not None and self.keeper.saved(key):
            self._changed(key)
        elif self.keeper is not None:
            self._show([key])

    # -- writing ----------------------------------------------------------------------------------------------

    def _changed(self, key: str) -> None:
        self._show([key])
        self.changed.emit()
        if self._problem is None:
            self._timer.start()

    def _write(self) -> None:
        keeper = self.keeper
        if keeper is None or self._writing is not None or not len(keeper.pending) or self._problem is not None:
            return
        pending = keeper.take_pending()
        self._writing = pending
        path = keeper.project_file
        self._pool.submit(REVIEW_CHANNEL, lambda _progress, _cancel: write_review(path, pending), cancel_previous=False)

    def _on_written(self, merged: ReviewBook) -> None:
        self._writing = None
        keeper = self.keeper
        if keeper is None:
            return
        changed = keeper.adopt(merged)
        if changed:
            self._show(changed)
            self.changed.emit()
        if len(keeper.pending):
            self._timer.start()

    def _on_write_failed(self, failure: WorkerFailure) -> None:
        pending, self._writing = self._writing, None
        if self.keeper is not None and pending is not None:
            self.keeper.give_back(pending)
        self.status.emit(f"could not save review statuses (kept, tried again with the next change): {failure.message}", 0)

    def flush(self) -> None:
        """Write what is pending now, on this thread (leaving the folder, closing the window)."""
        self._timer.stop()
        clock = QElapsedTimer()
        clock.start()
        while self._writing is not None and clock.elapsed() < 10000:  # the write in flight lands first
            QCoreApplication.processEvents()
            QThread.msleep(2)
        keeper = self.keeper
        if keeper is None or not len(keeper.pending) or self._problem is not None:
            return
        pending = keeper.take_pending()
        try:
            keeper.adopt(write_review(keeper.project_file, pending))
        except FileProblem as problem:
            keeper.give_back(pending)
            self.status.emit(f"could not save review statuses: {problem}", 0)


__all__ = ["ReviewController"]
