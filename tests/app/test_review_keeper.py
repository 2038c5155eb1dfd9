"""The rules that move a status by themselves, and what a window writes."""

from __future__ import annotations

from pathlib import Path

from segstudio.app.review import ReviewKeeper
from segstudio.core.review import ReviewBook, ReviewStatus


def keeper(tmp_path: Path, corrected: tuple[str, ...] = (), times: list[float] | None = None) -> ReviewKeeper:
    clock = iter(times or [float(t) for t in range(100, 200)])
    return ReviewKeeper(tmp_path / "segstudio.toml", ReviewBook(), corrected, user="ann", clock=lambda: next(clock))


def test_an_edit_starts_work_and_a_save_makes_it_corrected(tmp_path: Path) -> None:
    review = keeper(tmp_path)
    assert review.edited("a") and review.status_of("a") is ReviewStatus.IN_PROGRESS
    assert not review.edited("a")  # once
    assert review.saved("a") and review.status_of("a") is ReviewStatus.CORRECTED
    review.set_status("a", ReviewStatus.ACCEPTED)
    assert not review.edited("a") and not review.saved("a")  # a decision stays until the user changes it
    assert review.status_of("a") is ReviewStatus.ACCEPTED
    assert review.book.entry("a").changed_by == "ann"


def test_a_saved_correction_without_a_status_counts_as_corrected(tmp_path: Path) -> None:
    review = keeper(tmp_path, corrected=("b",))
    assert review.status_of("b") is ReviewStatus.CORRECTED and not review.edited("b")
    assert not review.set_status("b", ReviewStatus.CORRECTED)  # nothing to change, nothing to write
    assert not len(review.pending)


def test_a_later_change_wins_even_when_the_clock_stands_still(tmp_path: Path) -> None:
    review = keeper(tmp_path, times=[50.0, 50.0, 40.0])
    review.set_status("a", ReviewStatus.ACCEPTED)
    review.set_status("a", ReviewStatus.REJECTED)
    review.set_status("a", ReviewStatus.TO_DO)  # the clock even went back
    assert review.book.entry("a").changed_at > 50.0
    merged = ReviewBook().with_status("a", ReviewStatus.ACCEPTED, at=50.0).merged(review.book)
    assert merged.status_of("a") is ReviewStatus.TO_DO


def test_pending_changes_are_handed_over_and_given_back_on_failure(tmp_path: Path) -> None:
    review = keeper(tmp_path)
    review.set_status("a", ReviewStatus.ACCEPTED)
    pending = review.take_pending()
    assert len(pending) == 1 and not len(review.pending)
    review.set_status("b", ReviewStatus.REJECTED)
    review.give_back(pending)
    assert set(review.pending) == {"a", "b"}


def test_adopting_the_written_table_brings_other_windows_decisions(tmp_path: Path) -> None:
    review = keeper(tmp_path)
    review.set_status("a", ReviewStatus.ACCEPTED)
    theirs = ReviewBook().with_status("b", ReviewStatus.REJECTED, at=500.0, by="bob")
    assert review.adopt(review.book.merged(theirs)) == ["b"]
    assert review.status_of("b") is ReviewStatus.REJECTED
