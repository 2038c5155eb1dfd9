"""Review statuses and correction effort: the values the review workflow stands on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segstudio.core.labels import CAMVID_IGNORE_INDEX
from segstudio.core.review import CorrectionEffort, ReviewBook, ReviewEntry, ReviewStatus, next_open


def test_status_words_parse_as_users_and_files_write_them() -> None:
    assert ReviewStatus.parse("to do") is ReviewStatus.TO_DO
    assert ReviewStatus.parse("TO_DO") is ReviewStatus.TO_DO
    assert ReviewStatus.parse(" In-Progress ") is ReviewStatus.IN_PROGRESS
    with pytest.raises(ValueError, match="not a review status.*to do, in progress"):
        ReviewStatus.parse("done")


def _perturbed(truth: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    prediction = truth.copy()
    prediction[40:90, 100:220] = 8  # a car where there is none
    flip = rng.random(truth.shape) < 0.05
    prediction[flip] = rng.integers(0, 11, int(flip.sum()))
    return prediction


def test_effort_counts_each_changed_pixel_once_and_leaves_ignore_out(shared_data: Path) -> None:
    accepted = np.asarray(Image.open(shared_data / "camvid" / "trainannot" / "0001TP_006690.png"))
    prediction = np.where(accepted == CAMVID_IGNORE_INDEX, 0, _perturbed(accepted, 1)).astype(np.uint8)
    effort = CorrectionEffort.measure(prediction, accepted, 11, CAMVID_IGNORE_INDEX)
    counted = accepted != CAMVID_IGNORE_INDEX
    assert effort.counted == int(counted.sum())
    assert effort.changed == int(((prediction != accepted) & counted).sum())
    assert sum(effort.added.values()) == sum(effort.removed.values()) == effort.changed
    for class_id in range(11):
        into = (accepted == class_id) & (prediction != class_id)
        out_of = (prediction == class_id) & (accepted != class_id) & counted
        assert effort.added.get(class_id, 0) == int(into.sum())
        assert effort.removed.get(class_id, 0) == int(out_of.sum())
        assert effort.touched(class_id) == int(into.sum() + out_of.sum())
    ious = []
    for class_id in range(11):
        a, p = (accepted == class_id) & counted, (prediction == class_id) & counted
        if (a | p).any():
            ious.append((a & p).sum() / (a | p).sum())
    assert effort.iou == pytest.approx(float(np.mean(ious)))
    assert CorrectionEffort.from_mapping(effort.to_mapping()) == effort


def test_an_untouched_prediction_costs_nothing() -> None:
    mask = np.arange(12, dtype=np.uint8).reshape(3, 4) % 3
    effort = CorrectionEffort.measure(mask, mask, 3)
    assert effort.changed == 0 and effort.iou == 1.0 and not effort.added and not effort.removed


def test_with_status_keeps_the_comment_and_drops_the_effort_when_no_longer_accepted() -> None:
    effort = CorrectionEffort(changed=3, counted=10, iou=0.5, added={1: 3}, removed={0: 3})
    book = ReviewBook().with_status("a", ReviewStatus.ACCEPTED, at=10.0, by="ann", comment="tree edge", effort=effort)
    assert book.entry("a") == ReviewEntry(ReviewStatus.ACCEPTED, "tree edge", 10.0, "ann", effort)
    rejected = book.with_status("a", ReviewStatus.REJECTED, at=11.0, by="bob")
    assert rejected.entry("a").comment == "tree edge" and rejected.entry("a").effort is None
    assert book.entry("a").status is ReviewStatus.ACCEPTED  # books are values


def test_images_without_an_entry_are_to_do_or_corrected_when_a_correction_is_saved() -> None:
    book = ReviewBook().with_status("b", ReviewStatus.REJECTED, at=1.0)
    assert book.status_of("a") is ReviewStatus.TO_DO
    assert book.status_of("a", has_correction=True) is ReviewStatus.CORRECTED
    counts = book.counts(["a", "b", "c"], corrected=["c"])
    assert (counts[ReviewStatus.TO_DO], counts[ReviewStatus.REJECTED], counts[ReviewStatus.CORRECTED]) == (1, 1, 1)
    assert counts.total == 3 and counts.done == 1


def test_effort_per_class_sums_the_accepted_images_only() -> None:
    one = CorrectionEffort(changed=5, counted=100, iou=0.9, added={1: 5}, removed={2: 5})
    two = CorrectionEffort(changed=2, counted=100, iou=0.9, added={2: 2}, removed={1: 2})
    book = (ReviewBook().with_status("a", ReviewStatus.ACCEPTED, at=1, effort=one)
            .with_status("b", ReviewStatus.ACCEPTED, at=1, effort=two)
            .with_status("c", ReviewStatus.CORRECTED, at=1))
    added, removed, images = book.effort_per_class(3)
    assert added.tolist() == [0, 5, 2] and removed.tolist() == [0, 2, 5] and images == 2


def test_next_open_follows_the_shown_order_and_wraps() -> None:
    statuses = {"a": ReviewStatus.ACCEPTED, "b": ReviewStatus.TO_DO, "c": ReviewStatus.REJECTED,
                "d": ReviewStatus.IN_PROGRESS, "e": ReviewStatus.CORRECTED}
    order = ["a", "b", "c", "d", "e"]
    assert next_open(order, "b", statuses.__getitem__) == "d"
    assert next_open(order, "d", statuses.__getitem__) == "b"  # wraps past the end
    assert next_open(order, None, statuses.__getitem__) == "b"
    only = {**statuses, "d": ReviewStatus.ACCEPTED}
    assert next_open(order, "b", only.__getitem__) == "b"  # the current image is the last one left
    done = {key: ReviewStatus.ACCEPTED for key in order}
    assert next_open(order, "a", done.__getitem__) is None
    assert next_open([], None, done.__getitem__) is None


def test_malformed_entries_name_the_image() -> None:
    with pytest.raises(ValueError, match="review of 'train/7'.*not a review status"):
        ReviewBook.from_mapping({"train/7": {"status": "finished"}})
    with pytest.raises(ValueError, match="review of 'x'.*whole number of pixels"):
        ReviewBook.from_mapping({"x": {"status": "accepted", "effort": {"changed": -1, "counted": 3}}})


_entries = st.builds(
    ReviewEntry,
    status=st.sampled_from(list(ReviewStatus)),
    comment=st.sampled_from(["", "edge", "tree"]),
    changed_at=st.sampled_from([0.0, 1.0, 2.0, 3.0]),
    changed_by=st.sampled_from(["", "ann", "bob"]),
)
_books = st.dictionaries(st.sampled_from(list("abcde")), _entries, max_size=5).map(ReviewBook)


@settings(max_examples=200, deadline=None)
@given(_books, _books, _books)
def test_merging_is_order_free_and_keeps_the_newest(a: ReviewBook, b: ReviewBook, c: ReviewBook) -> None:
    assert a.merged(b) == b.merged(a)
    assert a.merged(b).merged(c) == a.merged(b.merged(c))
    assert a.merged(a) == a
    merged = a.merged(b)
    for key in set(a) | set(b):
        kept = merged.entry(key)
        for book in (a, b):
            entry = book.entry(key)
            assert entry is None or not entry.newer_than(kept)


def test_a_prediction_holding_the_ignore_id_counts_as_no_class() -> None:
    """CamVid: ignore id 11 is right after the classes 0..10; a model that predicts 11 predicted no class there."""
    accepted = np.array([[0, 1, 11], [3, 3, 2]], np.uint8)
    prediction = np.array([[0, 11, 11], [3, 11, 2]], np.uint8)
    effort = CorrectionEffort.measure(prediction, accepted, 11, 11)
    assert (effort.counted, effort.changed) == (5, 2)
    assert effort.added == {1: 1, 3: 1} and effort.removed == {}
    assert effort.iou == pytest.approx((1 + 0 + 1 + 0.5) / 4)
