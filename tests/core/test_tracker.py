from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.core.tracker import IncrementalConfusion


class Editor:
    """A stand-in for the document: owns the working mask, writes pixels, reports each edit to the tracker."""

    def __init__(self, working: np.ndarray, tracker: IncrementalConfusion) -> None:
        self.working = working
        self.tracker = tracker

    def fill_rect(self, rect: Rect, value: int) -> None:
        rect = rect.clipped(self.working.shape)
        before = self.working[rect.slices].copy()
        self.working[rect.slices] = value
        self.tracker.update(rect, before, self.working[rect.slices])

    def dab(self, cy: int, cx: int, radius: int, value: int) -> None:
        """A round brush stamp: only the disk changes, inside its bounding box."""
        box = Rect(cy - radius, cx - radius, cy + radius + 1, cx + radius + 1).clipped(self.working.shape)
        if box.is_empty:
            return
        ys, xs = np.ogrid[box.top : box.bottom, box.left : box.right]
        disk = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius * radius
        before = self.working[box.slices].copy()
        self.working[box.slices] = np.where(disk, value, before)
        self.tracker.update(box, before, self.working[box.slices])


def random_pair(rng: np.random.Generator, shape: tuple[int, int], n: int, ignore: int | None, dtype: type):
    reference = rng.integers(0, n, shape).astype(dtype)
    if ignore is not None:
        reference[rng.random(shape) < 0.1] = ignore
    working = np.where(rng.random(shape) < 0.7, reference, rng.integers(0, n, shape)).astype(dtype)
    if ignore is not None:
        working[working == ignore] = 0  # the working mask only holds classes where the reference scores
    return reference, working


edits = st.lists(
    st.tuples(
        st.sampled_from(["rect", "dab"]),
        st.integers(-10, 70),  # y: edits may hang over the border and get clipped
        st.integers(-10, 90),  # x
        st.integers(0, 25),  # size or radius
        st.integers(0, 30),  # extent for rectangles / value seed
    ),
    min_size=20,
    max_size=200,
)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int32]),
    classes_and_ignore=st.sampled_from([(2, None), (5, 255), (12, 12), (30, None)]),
    edit_list=edits,
)
def test_random_edits_match_a_full_recount(seed, dtype, classes_and_ignore, edit_list) -> None:
    n, ignore = classes_and_ignore
    rng = np.random.default_rng(seed)
    reference, working = random_pair(rng, (60, 80), n, ignore, dtype)
    tracker = IncrementalConfusion(reference, working, n, ignore)
    editor = Editor(working, tracker)
    for step, (kind, y, x, size, extra) in enumerate(edit_list):
        value = extra % n
        if kind == "rect":
            editor.fill_rect(Rect(max(y, 0), max(x, 0), max(y, 0) + size, max(x, 0) + extra), value)
        else:
            editor.dab(y, x, size, value)
        if step % 25 == 0:
            np.testing.assert_array_equal(tracker.confusion, confusion_matrix(reference, working, n, ignore))
    full = confusion_matrix(reference, working, n, ignore)
    np.testing.assert_array_equal(tracker.confusion, full)
    expected = Scores.from_confusion(full)
    np.testing.assert_array_equal(tracker.scores().iou_array, expected.iou_array)


def test_thousands_of_brush_dabs_on_a_larger_mask() -> None:
    rng = np.random.default_rng(7)
    n, ignore = 12, 255
    reference, working = random_pair(rng, (300, 400), n, ignore, np.uint8)
    tracker = IncrementalConfusion(reference, working, n, ignore)
    editor = Editor(working, tracker)
    for step in range(3000):
        editor.dab(int(rng.integers(-20, 320)), int(rng.integers(-20, 420)), int(rng.integers(0, 30)), int(rng.integers(0, n)))
        if step % 500 == 0:
            np.testing.assert_array_equal(tracker.confusion, confusion_matrix(reference, working, n, ignore))
    np.testing.assert_array_equal(tracker.confusion, confusion_matrix(reference, working, n, ignore))


def test_hand_sized_example() -> None:
    reference = np.array([[0, 1], [1, 255]], np.uint8)
    working = np.array([[0, 0], [1, 1]], np.uint8)
    tracker = IncrementalConfusion(reference, working, 2, 255, class_names=["bg", "fg"])
    np.testing.assert_array_equal(tracker.confusion, [[1, 0], [1, 1]])
    rect = Rect(0, 1, 2, 2)  # the right column
    before = working[rect.slices].copy()
    working[rect.slices] = 1
    tracker.update(rect, before, working[rect.slices])
    np.testing.assert_array_equal(tracker.confusion, [[1, 0], [0, 2]])
    scores = tracker.scores()
    assert scores["fg"].iou == 1.0 and scores["bg"].iou == 1.0 and scores.pixel_accuracy == 1.0


def test_reset_after_a_whole_mask_replacement() -> None:
    rng = np.random.default_rng(1)
    reference, working = random_pair(rng, (20, 30), 4, None, np.uint8)
    tracker = IncrementalConfusion(reference, working, 4)
    replacement = reference.copy()
    tracker.reset(replacement)
    np.testing.assert_array_equal(tracker.confusion, np.diag(np.bincount(reference.ravel(), minlength=4)))


def test_tracker_keeps_no_hold_on_the_working_mask() -> None:
    rng = np.random.default_rng(2)
    reference, working = random_pair(rng, (20, 30), 4, None, np.uint8)
    tracker = IncrementalConfusion(reference, working, 4)
    for value in vars(tracker).values():
        assert not (isinstance(value, np.ndarray) and np.shares_memory(value, working))
    # The reference is read through a read-only view, not copied.
    assert np.shares_memory(tracker.reference, reference) and not tracker.reference.flags.writeable
    # The matrix it hands out is a copy.
    tracker.confusion[0, 0] += 100
    np.testing.assert_array_equal(tracker.confusion, confusion_matrix(reference, working, 4))


def test_a_refused_update_leaves_the_matrix_as_it_was() -> None:
    reference = np.array([[0, 1, 255]], np.uint8)
    working = np.array([[0, 1, 0]], np.uint8)
    tracker = IncrementalConfusion(reference, working, 2, 255)
    kept = tracker.confusion
    rect = Rect(0, 0, 1, 3)
    with pytest.raises(ValueError, match=r"working mask after the edit holds values \[7\]"):
        tracker.update(rect, working, np.array([[0, 7, 0]], np.uint8))
    with pytest.raises(ValueError, match="working mask after the edit holds the ignore id 255 at 1 pixel"):
        tracker.update(rect, working, np.array([[255, 1, 0]], np.uint8))
    np.testing.assert_array_equal(tracker.confusion, kept)
    # ...but the ignore id is fine where the reference is ignored too
    tracker.update(rect, working, np.array([[0, 1, 255]], np.uint8))
    np.testing.assert_array_equal(tracker.confusion, kept)


def test_values_of_another_dtype_are_checked_too() -> None:
    reference = np.zeros((2, 2), np.uint8)
    tracker = IncrementalConfusion(reference, reference.copy(), 3)
    rect = Rect(0, 0, 2, 2)
    tracker.update(rect, np.zeros((2, 2), np.int64), np.full((2, 2), 2, np.int64))
    np.testing.assert_array_equal(tracker.confusion, [[0, 0, 4], [0, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match=r"holds values \[-1, 300\]"):
        tracker.update(rect, np.full((2, 2), 2, np.int64), np.array([[300, -1], [0, 0]], np.int64))
    with pytest.raises(ValueError, match="integer class ids"):
        tracker.update(rect, np.zeros((2, 2)), np.zeros((2, 2)))


def test_bad_rectangles_and_shapes() -> None:
    reference = np.zeros((4, 5), np.uint8)
    tracker = IncrementalConfusion(reference, reference.copy(), 2)
    with pytest.raises(ValueError, match="reaches outside the 4x5 mask"):
        tracker.update(Rect(2, 2, 6, 4), np.zeros((4, 2), np.uint8), np.zeros((4, 2), np.uint8))
    with pytest.raises(ValueError, match="reaches outside"):
        tracker.update(Rect(-1, 0, 1, 1), np.zeros((2, 1), np.uint8), np.zeros((2, 1), np.uint8))
    with pytest.raises(ValueError, match=r"is 2x2 but the values before and after have shapes \(2, 2\) and \(3, 3\)"):
        tracker.update(Rect(0, 0, 2, 2), np.zeros((2, 2), np.uint8), np.zeros((3, 3), np.uint8))
    tracker.update(EMPTY_RECT, np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.uint8))  # nothing changed


def test_construction_checks_like_the_full_count() -> None:
    with pytest.raises(ValueError, match=r"reference holds values \[9\]"):
        IncrementalConfusion(np.array([[9]], np.uint8), np.array([[0]], np.uint8), 2)
    with pytest.raises(ValueError, match="reference has shape"):
        IncrementalConfusion(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), 2)
    with pytest.raises(ValueError, match="repeated"):
        IncrementalConfusion(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8), 2, class_names=["a", "a"])
