"""Which images hold unsaved work: the image on screen while its working mask differs from what is saved (followed
through its session's listeners), and the work left on other images this run or recovered from an autosave
(:class:`~segstudio.app.unsaved_work.LeftWorks`). The window's :class:`~segstudio.ui.saving.SaveController` owns
one and tells it what is shown, left, saved and discarded; the title and the file list follow ``changed``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from segstudio.app.sample_loader import ResumedWork, describe_start
from segstudio.app.unsaved_work import LeftWork, LeftWorks
from segstudio.core.instances import InstanceMask
from segstudio.core.session import ImageSession
from segstudio.io.autosave import AutosaveStore
from segstudio.io.corrections import SavedWork


class UnsavedState(QObject):
    """``changed(key, unsaved)`` when image ``key`` starts or stops holding unsaved work."""

    changed = Signal(str, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.left = LeftWorks()
        self._key: str | None = None
        self._session: ImageSession | None = None
        self._shown = False  # what ``changed`` last said of the shown image
        self._resumed: tuple[str, ResumedWork | None] = ("", None)  # the image read last, how its work came back

    def follow(self, key: str | None, session: ImageSession | None) -> None:
        """``session`` of image ``key`` is the one on screen now (None: none)."""
        if self._session is not None:
            self._session.remove_listener(self._on_edited)
        self._key, self._session = key, session
        if session is not None:
            session.add_listener(self._on_edited)
        self._shown = key is not None and key in self.left
        self.note()

    def clear(self) -> None:
        """Another folder: nothing is shown or left."""
        self.left.clear()
        self.follow(None, None)

    def _on_edited(self, _rect: object) -> None:
        self.note()

    def note(self) -> None:
        """Say whether the shown image holds unsaved work now (after an edit, an undo to the saved state, a save)."""
        session, key = self._session, self._key
        # A stroke counts from its first dab: the session calls its listeners while painting, not when it ends.
        unsaved = session is not None and key is not None and (session.dirty or session.in_stroke)
        if key is not None and unsaved != self._shown:
            self._shown = unsaved
            self.changed.emit(key, unsaved)

    def keep_shown(self, work: SavedWork) -> bool:
        """The user leaves the shown image: keep a copy of its unsaved work (``work``: what made it). True if any."""
        session, key = self._session, self._key
        if session is None or key is None or not session.dirty:
            return False
        layer = session.instances
        self.left.keep(key, session.mask, work, None if layer is None else layer.snapshot())  # packed: a copy
        return True

    def resume(self, key: str) -> LeftWork | None:
        """Image ``key`` was read again: its left work (if any) goes on top of it."""
        left = self.left.take(key)
        self._resumed = (key, None if left is None else left.how)
        return left

    def recovered(self, key: str, mask: np.ndarray, instances: InstanceMask | None = None) -> None:
        self.left.recovered(key, mask, instances)
        self.changed.emit(key, True)

    def left_saved(self, key: str, revision: int) -> None:
        """A save of the work left on ``key`` at ``revision`` was written."""
        if key != self._key and self.left.saved(key, revision):
            self.changed.emit(key, False)

    def keys(self) -> list[str]:
        """Every image holding unsaved work: the shown one first when it has changes, then those left."""
        shown = [self._key] if self._key is not None and self._session is not None and self._shown else []
        return shown + [key for key in self.left.keys() if key != self._key]

    def has(self, key: str | None) -> bool:
        return key is not None and key in self.keys()

    def describe_start(self, key: str, session: ImageSession) -> str:
        """Where the working mask of the shown image ``key`` comes from, in words: unsaved work kept since the user
        left the image is not called an autosave recovery."""
        read, how = self._resumed
        return describe_start(session, how if key == read else None)

    def discard(self, store: AutosaveStore | None, work_id: str) -> list[str]:
        """Drop every unsaved change (the shown image's, made in editing session ``work_id``, and the left ones)
        with the autosaves that hold them; the shown session is no longer followed. Returns the keys dropped."""
        dropped = self.left.discard_all(store)
        session, key = self._session, self._key
        if session is not None and key is not None and session.dirty:
            if store is not None:
                store.discard_saved(key, session=work_id, revision=session.revision)
            dropped.insert(0, key)
        self.follow(None, None)
        for key in dropped:
            self.changed.emit(key, False)
        return dropped


__all__ = ["UnsavedState"]
