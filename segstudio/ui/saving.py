"""The window's saving: correction saves and "save as ground truth" on the "save" worker, autosaves, unsaved work
kept across images, recovery of a crashed session's work, and the folder lock that makes a second window read-only.

A :class:`SaveController` is told which dataset is open (:meth:`open_dataset`) and which image is on screen
(:meth:`show`); the window's actions call :meth:`save`, :meth:`save_as_ground_truth` and :meth:`autosave_now`.
Its :attr:`~SaveController.unsaved` (:mod:`segstudio.ui.unsaved_state`) knows which images hold unsaved work; the
work left on other images can be saved (:meth:`save_left`) or dropped (:meth:`discard_unsaved`) when the window
closes. It reports through typed signals; the window decides how to show them. Qt only for signals, the worker
pool and the questions it must ask (a save over a file somebody else wrote, a save that drops instances). The save
itself: :mod:`segstudio.app.saving`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QObject, QThread, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from segstudio.core.instances import InstanceMask
from segstudio.io.mask_files import class_mask_dtype
from segstudio.core.session import ImageSession
from segstudio.io.autosave import AutosaveStore
from segstudio.io.autosave_files import Recoverable
from segstudio.io.corrections import SavedWork
from segstudio.io.datasets import Dataset, Sample
from segstudio.core.errors import FileProblem
from segstudio.io.file_state import UNCHECKED, Expected, FileState
from segstudio.io.project_lock import ProjectLock, ProjectLocked
from segstudio.app.sample_loader import LoadedSample
from segstudio.app.saving import SaveOutcome, SaveRequest, save_work
from segstudio.ui.unsaved_state import UnsavedState
from segstudio.ui.workers import WorkerFailure, WorkerPool


class SaveController(QObject):
    """Saves, autosaves, recovery and the folder lock of one window (see the module notes).

    ``saved(key, path)`` after a save; ``save_failed(message)`` when nothing was written (the work stays, dirty
    and autosaved); ``corrected(key)`` when an image got a correction file; ``status(message, milliseconds)`` for
    the status bar; ``read_only_changed(reason)`` when a folder opens ("" when this window may write);
    ``unsaved.changed(key, unsaved)`` when an image starts or stops holding unsaved work.
    """

    saved = Signal(str, object)
    save_failed = Signal(str)
    corrected = Signal(str)
    status = Signal(str, int)
    read_only_changed = Signal(str)
    state_changed = Signal()  # the shown session was marked saved

    def __init__(self, pool: WorkerPool, *, interactive: bool, dialog_parent: QWidget | None = None) -> None:
        super().__init__(dialog_parent)
        self._pool = pool
        self._interactive = interactive
        self._dialog_parent = dialog_parent
        self.dataset: Dataset | None = None
        self.store: AutosaveStore | None = None
        self.lock: ProjectLock | None = None
        self.read_only_reason: str | None = None  # set when another window holds this folder: nothing is written
        self.last_saved_path: Path | None = None
        self._key: str | None = None
        self._session: ImageSession | None = None
        self._work_id = ""  # names the editing session on screen, for autosaves (AutosaveStore.discard_saved)
        self._autosaved_revision: int | None = None
        self.unsaved = UnsavedState(self)  # the shown image's unsaved changes, and the work left on others
        self._discarded = False  # the user chose to drop the unsaved work: nothing more is autosaved
        # What each file a save may replace looked like when its image was read: a save refuses to replace a file
        # that somebody else wrote since (segstudio.io.file_state).
        self._disk_states: dict[Path, FileState | None] = {}
        self._instances: dict[str, InstanceMask] = {}  # instance samples: what the working mask started from
        self._pending: tuple[str, int] | None = None  # (key, revision) being written by the "save" worker
        self._save_again = False
        pool.signals("save").finished.connect(self._on_saved)
        pool.signals("save").failed.connect(self._on_save_failed)
        pool.signals("autosave").failed.connect(
            lambda failure: self.status.emit(f"autosave failed: {failure.message}", 10000))

    # -- the folder and the image on screen -------------------------------------------------------------------

    def open_dataset(self, dataset: Dataset) -> None:
        """A new folder: the previous one's save finishes under its lock, which is then given up; this one's is
        taken, or the folder opens read-only when another window holds it."""
        self.wait_for_save()
        self.release_lock()
        self.dataset = dataset
        self.store = AutosaveStore.for_dataset(dataset)
        self._disk_states.clear()
        self._instances.clear()
        self._key, self._session = None, None
        self.unsaved.clear()
        self._discarded = False
        self.read_only_reason = None
        try:
            self.lock = ProjectLock.acquire(dataset.project_file.parent)
        except ProjectLocked as locked:
            self.read_only_reason = (
                f"{dataset.root} is open in {locked.holder.describe()}. It opens read-only here: you can look "
                "and compare, but nothing is painted, saved or autosaved in this window. Close the other window "
                "and open the folder again to edit it."
            )
        except FileProblem as problem:
            self.read_only_reason = f"{dataset.root} opens read-only: {problem}"
        self.read_only_changed.emit(self.read_only_reason or "")

    def relabelled(self, dataset: Dataset) -> None:
        """The same folder with an edited label set (the project file was rewritten)."""
        self.dataset = dataset

    def release_lock(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def refuse_when_read_only(self, what: str) -> bool:
        """True (and the user told why) when this window may not write."""
        if self.read_only_reason is None:
            return False
        self.status.emit(f"cannot {what}: read-only, this folder is open in another window", 10000)
        return True

    def loaded(self, loaded: LoadedSample) -> None:
        """An image was read: note its files' states and instances (before :meth:`show`)."""
        resumed = self.unsaved.resume(loaded.key) is not None
        for path, state in loaded.file_states.items():
            if resumed:
                # Unsaved work from earlier in this run goes on top: it was made against the files as they were
                # then, so a file written since (by somebody else) must still count as a change at save time.
                self._disk_states.setdefault(path, state)
            else:
                self._disk_states[path] = state
        if loaded.instances is not None:
            self._instances[loaded.key] = loaded.instances

    def show(self, key: str, session: ImageSession) -> None:
        """``session`` of image ``key`` is now the one the user edits."""
        self._key, self._session = key, session
        self.unsaved.follow(key, session)
        self._work_id = uuid.uuid4().hex
        if self.dataset is not None:
            sample = self.dataset.sample(key)
            for path in (self._correction_path(sample), self.dataset.ground_truth(sample)):
                if path is not None and path not in self._disk_states:
                    self._disk_states[path] = FileState.of(path)
        self._autosaved_revision = None if session.dirty else session.revision

    def leave(self) -> None:
        """The user leaves the shown image: keep its unsaved work (in memory for this run, and in an autosave)."""
        if self._session is not None and self.unsaved.keep_shown(SavedWork(self._work_id, self._session.revision)):
            self.autosave_now()

    def instances_of(self, key: str) -> InstanceMask | None:
        """The instances image ``key``'s working mask stands for (its saved correction's, else its ground truth's;
        after a save, the ones written); None for a class-mask image."""
        return self._instances.get(key)

    def unsaved_work(self, key: str) -> np.ndarray | InstanceMask | None:
        """Work left unsaved on image ``key`` earlier in this run (to put on top when it loads again): its class
        mask, or the instances of an instance session."""
        left = self.unsaved.left.get(key)
        return None if left is None else left.on_top

    @property
    def shown_key(self) -> str | None:
        """The image being edited (None when none)."""
        return self._key

    # -- saving -------------------------------------------------------------------------------------------------

    def save(self, *, wait: bool = False, overwrite: bool = False, allow_instance_loss: bool = False) -> Path | None:
        """Write the working mask as the image's correction (atomic) and drop its autosave, on the "save" worker.

        The mask is copied here (cheap) and written there; ``saved(key, path)`` follows, and the session is marked
        saved only if it still holds the revision that was written (later strokes stay dirty, and so does their
        autosave). Saves run one at a time: a save asked for while one is writing follows it. A correction file
        that somebody else wrote since the image was read is not replaced: the user is asked (``overwrite``
        replaces it anyway), or, not interactive, told through ``save_failed``. Instance samples are saved as
        instances; a save that would drop instances asks first the same way (``allow_instance_loss`` agrees).
        ``wait``: block (running the event loop) until written and return the path.
        """
        if self._session is None or self.dataset is None or self._key is None or self.refuse_when_read_only("save"):
            return None
        if self._pending is not None:
            self._save_again = True
            if not wait:
                return None
            self.wait_for_save()
            return self.save(wait=True) if self._save_again else self.last_saved_path
        return self._submit(ground_truth=False, wait=wait, overwrite=overwrite, allow_instance_loss=allow_instance_loss)

    def save_as_ground_truth(self, *, wait: bool = False, overwrite: bool = False) -> Path | None:
        """Write the working mask OVER the image's ground-truth file, in that file's own convention (see
        :func:`segstudio.io.corrections.save_as_ground_truth`), after a confirmation when interactive. The original
        is backed up once, beside the project file. ``wait``: block until written and return the path."""
        dataset, key = self.dataset, self._key
        if self._session is None or dataset is None or key is None or self.refuse_when_read_only("save"):
            return None
        truth = dataset.ground_truth(dataset.sample(key))
        if truth is None:
            self._tell(f"{key} has no ground truth file to save over; use Save correction")
            return None
        if self._interactive and not overwrite:
            answer = QMessageBox.question(
                self._dialog_parent, "Save as ground truth?",
                f"Overwrite the ground truth of {key}?\n\n{truth}\n\nThe original is kept once in "
                f"{dataset.project_file.parent / 'segstudio-ground-truth-backup'}.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                return None
        if self._pending is not None:
            self.wait_for_save()  # one write at a time; the ground truth waits for the save in flight
            if self._pending is not None:
                self._tell("a save is still running; try again")
                return None
        return self._submit(ground_truth=True, wait=wait, overwrite=overwrite)

    @property
    def saving(self) -> bool:
        """True while a save is being written."""
        return self._pending is not None

    def wait_for_save(self, timeout_ms: int = 10000) -> bool:
        """Run the event loop until the pending save (if any) has been handled; False on timeout."""
        clock = QElapsedTimer()
        clock.start()
        while self._pending is not None and clock.elapsed() < timeout_ms:
            QCoreApplication.processEvents()
            QThread.msleep(2)
        return self._pending is None

    def _correction_path(self, sample: Sample) -> Path | None:
        assert self.dataset is not None
        try:
            return self.dataset.correction_path(sample)
        except FileProblem:
            return None  # the save reports it

    def _submit(self, *, ground_truth: bool, wait: bool, overwrite: bool, allow_instance_loss: bool = False,
                left: str | None = None) -> Path | None:
        """Save the shown image's working mask, or (``left``) the work left on that image."""
        session, dataset, store = self._session, self.dataset, self.store
        key = self._key if left is None else left
        assert dataset is not None and key is not None
        self._save_again = False
        sample = dataset.sample(key)
        kept = None if left is None else self.unsaved.left.get(left)
        if kept is not None:
            mask, revision, labels, work_id = kept.mask, kept.work.revision, dataset.spec.labels, kept.work.session
            instances = kept.instances
        else:
            assert session is not None
            mask, revision, labels, work_id = session.mask.copy(), session.revision, session.labels, self._work_id
            instances = None if session.instances is None else session.instances.snapshot()
        target = dataset.ground_truth(sample) if ground_truth else self._correction_path(sample)
        expected: Expected = UNCHECKED if overwrite or target is None else self._disk_states.get(target, UNCHECKED)
        request = SaveRequest(
            dataset, sample, mask, labels, SavedWork(work_id, revision), expected, ground_truth,
            self._instances.get(key), store, allow_instance_loss, None if ground_truth else instances,
        )  # fmt: skip
        self._pending = (key, revision)
        self.last_saved_path = None
        self.status.emit(f"saving {key}" + (" as ground truth..." if ground_truth else "..."), 0)
        self._pool.submit("save", lambda _progress, _cancel: save_work(request), cancel_previous=False)
        if wait:
            self.wait_for_save()
            return self.last_saved_path
        return None

    def _on_saved(self, outcome: SaveOutcome) -> None:
        self._pending = None
        if outcome.lost:
            self._save_again = False
            self._on_instance_loss(outcome)
            return
        if outcome.conflict is not None or outcome.path is None:
            self._save_again = False
            self._on_conflict(outcome)
            return
        key, path = outcome.key, outcome.path
        self._disk_states[path] = outcome.state
        if outcome.carry is not None:
            self._instances[key] = outcome.carry.instances
        self.last_saved_path = path
        session = self._session
        if session is not None and key == self._key and session.revision == outcome.revision:
            session.mark_saved()
            self._autosaved_revision = outcome.revision
            self.state_changed.emit()
            self.unsaved.note()
        else:
            self.unsaved.left_saved(key, outcome.revision)
        if not outcome.ground_truth:
            self.corrected.emit(key)
        detail = f" as instances: {outcome.carry.describe()}" if outcome.carry is not None else ""
        self.status.emit(f"saved {path}" + (" (ground truth)" if outcome.ground_truth else detail), 8000)
        self.saved.emit(key, path)
        if self._save_again:
            self.save()

    def _on_instance_loss(self, outcome: SaveOutcome) -> None:
        """The save would drop instances (or unlabelled pixels an instance mask cannot hold): ask, never guess."""
        assert outcome.carry is not None
        message = f"{outcome.key}: saving would lose instance information: {outcome.carry.describe()}."
        if self._ask(outcome, "Save and lose instances?", f"{message}\n\nSave anyway?"):
            self._submit(ground_truth=False, wait=False, overwrite=False, allow_instance_loss=True)
            return
        self.autosave_now()
        self.status.emit(message + " Not saved; your work is kept.", 15000)
        self.save_failed.emit(message)

    def _on_conflict(self, outcome: SaveOutcome) -> None:
        """Somebody else wrote the file since it was read: keep the user's work (dirty, autosaved) and ask."""
        assert outcome.conflict is not None
        self.autosave_now()
        message = f"{outcome.conflict}. Your work is kept in this window (and in its autosave)."
        question = (f"{message}\n\nReplace the file on disk with your version? (Cancel keeps both as they are; you "
                    "can save again later.)")
        if self._ask(outcome, "The file changed on disk", question):
            self._submit(ground_truth=outcome.ground_truth, wait=False, overwrite=True)
            return
        self.status.emit(message, 15000)
        self.save_failed.emit(message)

    def _ask(self, outcome: SaveOutcome, title: str, question: str) -> bool:
        if not self._interactive or outcome.key != self._key:
            return False
        answer = QMessageBox.warning(self._dialog_parent, title, question,
                                     QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
                                     QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Save

    def _on_save_failed(self, failure: WorkerFailure) -> None:
        key = self._pending[0] if self._pending is not None else ""
        self._pending = None
        self._save_again = False
        self._tell(f"could not save {key}: {failure.message}")
        self.save_failed.emit(failure.message)

    def _tell(self, message: str) -> None:
        self.status.emit(message, 15000)
        if self._interactive:
            QMessageBox.warning(self._dialog_parent, "segstudio", message)

    # -- autosave and recovery ----------------------------------------------------------------------------------

    def autosave_now(self, *, wait: bool = False) -> bool:
        """Autosave the shown image on a worker when it changed since the last autosave; True if started.
        ``wait``: block until written (closing the window, tests)."""
        session, store, key = self._session, self.store, self._key
        if session is None or store is None or key is None or not session.dirty or self.read_only_reason is not None:
            return False
        if self._autosaved_revision == session.revision or self._discarded:
            return False
        mask, revision, labels, work = session.mask.copy(), session.revision, session.labels, self._work_id
        instances = None if session.instances is None else session.instances.snapshot()
        image_path = self.dataset.sample(key).image if self.dataset is not None else None
        self._autosaved_revision = revision
        if wait:
            store.save(key, mask, revision=revision, labels=labels, image_path=image_path, session=work,
                       instances=instances)
            return True
        self._pool.submit("autosave", lambda progress, cancel: store.save(
            key, mask, revision=revision, labels=labels, image_path=image_path, session=work, instances=instances),
            cancel_previous=False)
        return True

    def pending_recoveries(self) -> list[Recoverable]:
        """Unsaved work from an earlier session of this folder (corrupt autosaves included, with their problem);
        none in a read-only window: the autosaves there are the other window's live work."""
        if self.store is None or self.read_only_reason is not None:
            return []
        return self.store.pending()

    def take_recovery(self, entry: Recoverable) -> str:
        """Bring back ``entry``'s work: it goes on top of its image when that loads next; returns its key."""
        assert self.store is not None
        work = self.store.load(entry)
        self.store.adopt(entry)
        if isinstance(work, InstanceMask):
            labels = self.dataset.spec.labels if self.dataset is not None else None
            classes = work.to_class_mask(class_mask_dtype(labels)) if labels is not None else work.to_class_mask()
            self.unsaved.recovered(entry.sample_key, classes, work)
        else:
            self.unsaved.recovered(entry.sample_key, work)
        return entry.sample_key

    def discard_recovery(self, entry: Recoverable) -> None:
        if self.store is not None:
            self.store.discard_entry(entry)

    def save_left(self, key: str, *, wait: bool = False) -> Path | None:
        """Save the unsaved work left on image ``key`` (not the shown one) as its correction, as :meth:`save` does;
        ``unsaved.changed(key, False)`` follows once written. ``wait``: block until written and return the path."""
        if key == self._key or key not in self.unsaved.left or self.dataset is None or self.refuse_when_read_only("save"):
            return None
        self.wait_for_save()  # one write at a time
        return self._submit(ground_truth=False, wait=wait, overwrite=False, left=key)

    def discard_unsaved(self) -> list[str]:
        """The user drops every unsaved change (closing without saving): the work left on other images and the
        shown image's changes are forgotten with the autosaves that hold them, and nothing more is autosaved.
        Saved corrections and another window's autosaves are untouched. Returns the keys whose work was dropped."""
        self.wait_for_save()
        self._discarded = True
        dropped = self.unsaved.discard(self.store, self._work_id)
        self._key, self._session = None, None  # the window closes on it: nothing of it is kept or saved
        return dropped

    def close(self) -> None:
        """The window closes: a pending save finishes (and marks the work saved), the last autosave is written, and
        the folder lock is given up."""
        self.wait_for_save()
        try:
            self.autosave_now(wait=True)
        except (ValueError, OSError) as error:
            self.status.emit(f"autosave failed: {error}", 0)

    # after the workers stop
    def closed(self) -> None:
        self.release_lock()


__all__ = ["SaveController"]
