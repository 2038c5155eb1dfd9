"""Offering back the unsaved work of an earlier session (a crash, a killed process) when a folder opens.

The autosaves themselves are the :class:`~segstudio.ui.saving.SaveController`'s (its ``AutosaveStore``: what is
pending, taking an entry back, discarding one). This controller owns the offer: when a folder opens with pending
work it says so (``found``) and, in an interactive window, asks once at the next event-loop turn (Yes restores,
No discards, Cancel keeps them for the next time the folder opens). It never loads an image: ``recovered(key)``
tells the window which image to open (again) with the recovered mask on top, as one undo step, not saved yet.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from segstudio.io.autosave_files import Recoverable
from segstudio.ui.saving import SaveController

SHOWN_ENTRIES = 10  # the question lists at most this many autosaves


class RecoveryChoice(Enum):
    RESTORE = "restore"  # every readable autosave comes back; the first one's image opens
    DISCARD = "discard"  # every autosave of the folder is deleted (corrupt ones included)
    KEEP = "keep"  # nothing changes: they are offered again the next time the folder opens


class RecoveryController(QObject):
    """The recovery offer of one window (see the module notes).

    ``found(entries)``: the folder just opened has unsaved work from an earlier session (a list of
    :class:`Recoverable`, corrupt ones included with their problem); ``recovered(key)``: open image ``key`` (again,
    even when it is on screen): its recovered work waits in the save controller; ``discarded(count)``: that many
    autosaves were deleted. ``interactive=False`` (screenshots, tests) never asks: :meth:`resolve` and
    :meth:`recover` do what the answers would.
    """

    found = Signal(list)
    recovered = Signal(str)
    discarded = Signal(int)

    def __init__(self, saving: SaveController, *, interactive: bool, dialog_parent: QWidget | None = None) -> None:
        super().__init__(dialog_parent)
        self._saving = saving
        self._interactive = interactive
        self._dialog_parent = dialog_parent

    def pending(self) -> list[Recoverable]:
        """What could be brought back now (none in a read-only window: its autosaves are another window's)."""
        return self._saving.pending_recoveries()

    def folder_opened(self) -> None:
        """Call after the save controller opened the folder: ``found`` now, the question at the next turn."""
        entries = self.pending()
        if not entries:
            return
        self.found.emit(entries)
        if self._interactive:
            # Not now: the folder's first image is being loaded and the window must be on screen first.
            QTimer.singleShot(0, self, self.offer)

    def offer(self) -> None:
        """Ask what to do with the pending work (a message box) and do it."""
        entries = self.pending()
        if entries:
            self.resolve(self._ask(entries))

    def resolve(self, choice: RecoveryChoice) -> None:
        """Do what the user chose for every pending entry."""
        entries = self.pending()
        if choice is RecoveryChoice.RESTORE:
            good = [entry for entry in entries if entry.problem is None]
            for entry in good[1:]:
                self._saving.take_recovery(entry)  # goes on top when its image loads next
            if good:
                self.recover(good[0])
        elif choice is RecoveryChoice.DISCARD:
            for entry in entries:
                self._saving.discard_recovery(entry)
            self.discarded.emit(len(entries))

    def recover(self, entry: Recoverable) -> None:
        """Bring back one autosave: ``recovered(key)`` follows (nothing when no folder is open)."""
        if self._saving.dataset is None:
            return
        self.recovered.emit(self._saving.take_recovery(entry))

    def _ask(self, entries: list[Recoverable]) -> RecoveryChoice:
        text = "\n".join(str(entry) for entry in entries[:SHOWN_ENTRIES])
        if len(entries) > SHOWN_ENTRIES:
            text += "\n..."
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self._dialog_parent, "Recover unsaved work?",
            f"segstudio found unsaved work from an earlier session:\n\n{text}\n\nRestore it? (No discards it.)",
            buttons.Yes | buttons.No | buttons.Cancel,
        )
        return {buttons.Yes: RecoveryChoice.RESTORE, buttons.No: RecoveryChoice.DISCARD}.get(answer, RecoveryChoice.KEEP)


__all__ = ["RecoveryChoice", "RecoveryController"]
