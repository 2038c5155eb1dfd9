"""What the window shows and asks about unsaved work: its title ("*" while the shown image has unsaved changes,
through Qt's ``[*]`` placeholder, so macOS shows its own mark instead), and the question when it closes with unsaved
work: Save / Discard / Cancel.

Only an interactive window asks. A window that may not open dialogs (screenshots, tests, ``--self-test``) closes as
it always did: the last autosave keeps the work, offered back on the next start. :attr:`CloseGuard.ask` is the
dialog, a public hook that a test (or an embedding application) may replace with its own answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

from segstudio.ui.saving import SaveController

LISTED = 8  # images named in the question; the rest are counted


class CloseChoice(Enum):
    """The answer to "save the unsaved changes before closing?"."""

    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


def window_title(folder: Path | None, image: str | None, *, read_only: bool = False) -> str:
    """"scene_003[*] - /data/demo - segstudio": the image on screen, the folder, the app; Qt shows "[*]" as "*"
    while the window is marked modified, and hides it otherwise."""
    parts = [f"{image}[*]"] if image else []
    if folder is not None:
        parts.append(f"{folder}" + (" [read-only]" if read_only else ""))
    parts.append("segstudio" if image else "segstudio[*]")  # Qt wants the placeholder somewhere
    return " - ".join(parts)


def unsaved_question(parent: QWidget | None, names: Sequence[str]) -> QMessageBox:
    """The question (not shown yet): which images hold unsaved changes; Save (all of them) / Discard / Cancel."""
    count = len(names)
    listed = "\n".join(f"  {name}" for name in names[:LISTED])
    more = f"\n  ... and {count - LISTED} more" if count > LISTED else ""
    box = QMessageBox(
        QMessageBox.Icon.Warning, "Unsaved changes",
        f"{'1 image has' if count == 1 else f'{count} images have'} unsaved changes:\n{listed}{more}",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setInformativeText("Save: write each as its correction (in segstudio-corrections/; the ground truth is not "
                           "touched).\nDiscard: drop these changes and their autosaves.\nCancel: keep the window open.")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    return box


def ask_about_unsaved(parent: QWidget | None, names: Sequence[str]) -> CloseChoice:
    """Ask :func:`unsaved_question` and wait for the answer."""
    answer = unsaved_question(parent, names).exec()
    if answer == QMessageBox.StandardButton.Save:
        return CloseChoice.SAVE
    if answer == QMessageBox.StandardButton.Discard:
        return CloseChoice.DISCARD
    return CloseChoice.CANCEL


class CloseGuard(QObject):
    """Decides whether the window may close (:meth:`may_close`), asking about unsaved work first when interactive.

    ``name_of(key)`` names an image for the question (e.g. "0 (train)")."""

    def __init__(self, saving: SaveController, *, interactive: bool, name_of: Callable[[str], str],
                 dialog_parent: QWidget | None = None) -> None:
        super().__init__(dialog_parent)
        self._saving = saving
        self._interactive = interactive
        self._name_of = name_of
        self._dialog_parent = dialog_parent
        self.ask: Callable[[QWidget | None, Sequence[str]], CloseChoice] = ask_about_unsaved

    def may_close(self) -> bool:
        """True when the window may close: no unsaved work, not interactive, Discard, or Save and every image saved.
        False on Cancel, or when an image could not be saved (the user is told which and why; the work stays)."""
        keys = self._saving.unsaved.keys()
        if not self._interactive or not keys:
            return True
        choice = self.ask(self._dialog_parent, [self._name_of(key) for key in keys])
        if choice is CloseChoice.CANCEL:
            return False
        if choice is CloseChoice.DISCARD:
            self._saving.discard_unsaved()
            return True
        problems = self.save_all()
        if problems:
            QMessageBox.warning(self._dialog_parent, "Not everything was saved",
                                "The window stays open; your work is kept (and autosaved).\n\n" + "\n".join(problems))
            return False
        return True

    def save_all(self) -> list[str]:
        """Save every image with unsaved work, one after the other, waiting for each; returns what went wrong
        (empty: all saved)."""
        saving = self._saving
        problems: list[str] = []

        def note(message: str) -> None:
            problems.append(message)

        saving.save_failed.connect(note)
        try:
            shown = saving.shown_key
            for key in saving.unsaved.keys():
                if key == shown:
                    saving.save(wait=True)
                else:
                    saving.save_left(key, wait=True)
        finally:
            saving.save_failed.disconnect(note)
        left = saving.unsaved.keys()
        if left and not problems:
            problems.append("not saved: " + ", ".join(self._name_of(key) for key in left))
        return problems


__all__ = ["CloseChoice", "CloseGuard", "ask_about_unsaved", "unsaved_question", "window_title"]
