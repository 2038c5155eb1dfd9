"""The review of an open project: statuses as the window sees them, the rules that move them, and their writes.

:class:`ReviewKeeper` holds this window's :class:`~segstudio.core.review.ReviewBook` and the entries it changed
since the last write (``pending``). The window writes ``pending`` in the background with :func:`write_review`
and adopts the merged table it gets back, so decisions another window wrote meanwhile show up here too.

The rules (:meth:`ReviewKeeper.edited`, :meth:`ReviewKeeper.saved`): the first edit of an image that is to do puts it
in progress; saving a correction of an image still open makes it corrected. Accepting and rejecting are the user's
decisions and nothing changes them behind their back.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.core.review import CorrectionEffort, ReviewBook, ReviewCounts, ReviewStatus
from segstudio.io.review_file import merge_review


def current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


class ReviewKeeper:
    """The review of one project as this window holds it. Not thread-safe: the window's (GUI) thread owns it;
    :func:`write_review` runs on a worker with a snapshot."""

    def __init__(self, project_file: Path, book: ReviewBook, corrected: Iterable[str] = (), *, user: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.project_file = Path(project_file)
        self._book = book
        self._pending = ReviewBook()
        self._corrected = set(corrected)
        self.user = current_user() if user is None else user
        self._clock = clock

    @property
    def book(self) -> ReviewBook:
        return self._book

    @property
    def pending(self) -> ReviewBook:
        """Entries changed here and not written yet."""
        return self._pending

    def status_of(self, key: str) -> ReviewStatus:
        return self._book.status_of(key, has_correction=key in self._corrected)

    def counts(self, keys: Iterable[str]) -> ReviewCounts:
        return self._book.counts(keys, self._corrected)

    def set_status(self, key: str, status: ReviewStatus, *, comment: str | None = None,
                   effort: CorrectionEffort | None = None) -> bool:
        """Set ``key``'s status (and comment, effort); False when nothing changed."""
        old = self._book.entry(key)
        same_comment = comment is None or comment == (old.comment if old is not None else "")
        if status is self.status_of(key) and same_comment and effort is None:
            return False
        at = self._clock()
        if old is not None and at <= old.changed_at:
            at = np.nextafter(old.changed_at, np.inf)  # a later change must win a merge even when the clock stalls
        self._book = self._book.with_status(key, status, at=float(at), by=self.user, comment=comment, effort=effort)
        entry = self._book.entry(key)
        assert entry is not None
        self._pending = self._pending.with_entry(key, entry)
        return True

    def set_comment(self, key: str, comment: str) -> bool:
        return self.set_status(key, self.status_of(key), comment=comment.strip())

    def comment_of(self, key: str) -> str:
        entry = self._book.entry(key)
        return "" if entry is None else entry.comment

    def effort_of(self, key: str) -> CorrectionEffort | None:
        entry = self._book.entry(key)
        return None if entry is None or entry.status is not ReviewStatus.ACCEPTED else entry.effort

    def edited(self, key: str) -> bool:
        """The user changed ``key``'s mask: to do becomes in progress. True when the status changed."""
        if self.status_of(key) is ReviewStatus.TO_DO:
            return self.set_status(key, ReviewStatus.IN_PROGRESS)
        return False

    def saved(self, key: str) -> bool:
        """A correction of ``key`` was saved: an open image becomes corrected. True when the status changed."""
        was_open = self.status_of(key).is_open
        self._corrected.add(key)
        if was_open:
            return self.set_status(key, ReviewStatus.CORRECTED)
        return False

    def take_pending(self) -> ReviewBook:
        """The entries to write, handed over (the keeper starts a new pending set)."""
        pending, self._pending = self._pending, ReviewBook()
        return pending

    def give_back(self, pending: ReviewBook) -> None:
        """A write failed: its entries are pending again (newer ones made meanwhile win)."""
        self._pending = pending.merged(self._pending)

    def adopt(self, written: ReviewBook) -> list[str]:
        """The table as the write left it on disk: take what other windows decided. Returns the keys that changed."""
        merged = self._book.merged(written)
        changed = [key for key, entry in merged.items() if self._book.entry(key) != entry]
        self._book = merged
        return changed


def write_review(project_file: Path, pending: ReviewBook) -> ReviewBook:
    """Write ``pending`` into the project file, merged with what is there (worker side); returns the merged table."""
    return merge_review(project_file, pending)


def measure_effort(prediction: np.ndarray | None, accepted: np.ndarray, labels: LabelSet) -> CorrectionEffort | None:
    """How much of the model's ``prediction`` the ``accepted`` mask changed; None without a prediction."""
    if prediction is None or prediction.shape != accepted.shape:
        return None
    return CorrectionEffort.measure(prediction, accepted, labels.num_classes, labels.ignore_index)


__all__ = ["ReviewKeeper", "current_user", "measure_effort", "write_review"]
