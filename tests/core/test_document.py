"""MaskDocument: the one writer of mask pixels, its undo steps and its change notifications."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.document import MaskDocument
from segstudio.core.editing import (
    PaintScope,
    Stamp,
    brush_stamp,
    eraser_stamp,
    flood_fill_stamp,
    polygon_stamp,
)
from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.history import ChangeEncoding


class Mirror:
    """A listener that keeps its own copy of the mask from nothing but the notifications."""

    def __init__(self, doc: MaskDocument) -> None:
        self.mask = doc.mask.copy()
        self.calls = 0
        doc.add_listener(self)

    def __call__(self, rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        self.calls += 1
        assert not rect.is_empty
        assert before.shape == after.shape == (rect.height, rect.width)
        np.testing.assert_array_equal(self.mask[rect.slices], before)
        assert not after.flags.writeable
        assert not (before == after).all()  # no notification for a change that changed nothing
        self.mask[rect.slices] = after


def dab(doc: MaskDocument, x: float, y: float, radius: float, value: int, **kwargs) -> Rect:
    return doc.apply(brush_stamp(doc.mask, (x, y), (x, y), radius, value, **kwargs))


# -- construction and reading --------------------------------------------------------------------------


def test_document_copies_its_input_and_hands_out_a_read_only_view():
    source = np.zeros((10, 12), dtype=np.uint8)
    doc = MaskDocument(source, byte_budget=1 << 20)
    dab(doc, 5, 5, 2, 1)
    assert source.sum() == 0
    assert doc.mask.sum() > 0  # the view follows the live mask
    with pytest.raises(ValueError):
        doc.mask[0, 0] = 3
    assert doc.shape == (10, 12) and doc.dtype == np.uint8


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.int32), np.zeros((4, 4, 3), np.uint8), np.zeros(5, np.uint8)])
def test_document_rejects_masks_that_are_not_class_indices(bad):
    with pytest.raises(ValueError):
        MaskDocument(bad)


def test_value_too_large_for_uint8_suggests_uint16():
    doc = MaskDocument(np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="uint16"):
        doc.apply(Stamp(Rect(0, 0, 1, 1), np.ones((1, 1), bool), 300))
    wide = MaskDocument(np.zeros((5, 5), np.uint16))
    wide.apply(Stamp(Rect(0, 0, 1, 1), np.ones((1, 1), bool), 300))
    assert wide.mask[0, 0] == 300


def test_stamp_reaching_outside_the_document_is_rejected():
    doc = MaskDocument(np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="outside"):
        doc.apply(Stamp(Rect(3, 3, 7, 7), np.ones((4, 4), bool), 1))


# -- single steps, undo, redo --------------------------------------------------------------------------


def test_apply_undo_redo():
    doc = MaskDocument(np.zeros((20, 20), np.uint8))
    rect = dab(doc, 10, 10, 3, 2)
    painted = doc.mask.copy()
    assert rect == Rect(7, 7, 14, 14)
    assert doc.history.undo_count == 1
    assert doc.undo() == rect and doc.mask.sum() == 0
    assert doc.undo() is None
    assert doc.redo() == rect
    np.testing.assert_array_equal(doc.mask, painted)
    assert doc.redo() is None


def test_apply_returns_the_changed_box_and_ignores_no_ops():
    mask = np.zeros((20, 20), np.uint8)
    mask[:, :10] = 1
    doc = MaskDocument(mask)
    assert dab(doc, 5, 5, 3, 1) == EMPTY_RECT  # already class 1 there
    assert doc.history.undo_count == 0
    stamp = Stamp(Rect(0, 0, 20, 20), np.ones((20, 20), bool), 1)
    assert doc.apply(stamp) == Rect(0, 10, 20, 20)  # only the right half changes
    assert doc.apply(Stamp.empty(3)) == EMPTY_RECT


def test_new_edit_clears_redo():
    doc = MaskDocument(np.zeros((20, 20), np.uint8))
    dab(doc, 5, 5, 2, 1)
    dab(doc, 15, 15, 2, 2)
    doc.undo()
    assert doc.history.can_redo
    dab(doc, 10, 10, 2, 3)
    assert not doc.history.can_redo and doc.redo() is None
    assert doc.history.undo_count == 2


# -- strokes -------------------------------------------------------------------------------------------


def test_stroke_is_one_undo_step_and_keeps_each_pixels_first_old_value():
    mask = np.zeros((30, 30), np.uint8)
    mask[10:20, 10:20] = 4
    doc = MaskDocument(mask)
    mirror = Mirror(doc)
    doc.begin_stroke()
    rects = [dab(doc, x, 15, 4, value) for x, value in [(8, 1), (12, 2), (16, 1), (20, 3)]]
    assert doc.in_stroke and doc.history.undo_count == 0
    assert mirror.calls == 4  # every dab is announced while painting
    stroke_rect = doc.end_stroke()
    expected_rect = EMPTY_RECT
    for rect in rects:
        expected_rect = expected_rect.union(rect)
    assert stroke_rect == expected_rect
    assert doc.history.undo_count == 1
    record = doc.history.undo()
    doc.history.redo()  # peek at the record without changing the document
    assert set(np.unique(record.old)) <= {0, 4}  # values from before the stroke, never an intermediate one
    final = doc.mask.copy()
    doc.undo()
    np.testing.assert_array_equal(doc.mask, mask)
    doc.redo()
    np.testing.assert_array_equal(doc.mask, final)
    np.testing.assert_array_equal(mirror.mask, doc.mask)


def test_stroke_that_paints_and_erases_back_records_nothing():
    doc = MaskDocument(np.zeros((20, 20), np.uint8))
    dab(doc, 3, 3, 1, 5)
    doc.undo()  # leave something to redo
    with doc.stroke():
        dab(doc, 10, 10, 3, 1)
        doc.apply(eraser_stamp(doc.mask, (10, 10), (10, 10), 3))
    assert doc.mask.sum() == 0
    assert doc.history.undo_count == 0
    assert doc.history.can_redo  # the content is back where redo expects it


def test_long_diagonal_stroke_is_stored_as_indices_not_its_box():
    doc = MaskDocument(np.zeros((2048, 2048), np.uint8), byte_budget=64 << 20)
    points = [(10 + 40 * i, 12 + 40 * i) for i in range(50)]
    with doc.stroke():
        for start, end in zip(points, points[1:]):
            doc.apply(brush_stamp(doc.mask, start, end, 6, 1))
    record = doc.history.undo()
    assert record.rect.area > 3_000_000
    assert record.encoding is ChangeEncoding.INDICES
    assert record.nbytes < 5 * record.count + 1024 < record.rect.area // 8


def test_undo_during_a_stroke_ends_it_first():
    doc = MaskDocument(np.zeros((20, 20), np.uint8))
    doc.begin_stroke()
    dab(doc, 5, 5, 2, 1)
    dab(doc, 7, 5, 2, 1)
    assert doc.undo() is not None
    assert not doc.in_stroke and doc.mask.sum() == 0
    doc.redo()
    assert doc.mask.sum() > 0


def test_begin_stroke_twice_closes_the_lost_one():
    doc = MaskDocument(np.zeros((20, 20), np.uint8))
    doc.begin_stroke()
    dab(doc, 5, 5, 2, 1)
    doc.begin_stroke()
    dab(doc, 15, 15, 2, 1)
    doc.end_stroke()
    assert doc.history.undo_count == 2
    assert doc.end_stroke() == EMPTY_RECT  # nothing open


# -- replacements --------------------------------------------------------------------------------------


def test_replace_records_only_changed_pixels_with_their_new_values():
    rng = np.random.default_rng(0)
    working = rng.integers(0, 4, (40, 50)).astype(np.uint8)
    prediction = working.copy()
    prediction[5:9, 7:20] = rng.integers(0, 4, (4, 13))
    doc = MaskDocument(working)
    mirror = Mirror(doc)
    rect = doc.replace(prediction.astype(np.int64))  # model output dtype, values in range
    changed = np.nonzero(prediction != working)
    assert rect == Rect(changed[0].min(), changed[1].min(), changed[0].max() + 1, changed[1].max() + 1)
    record = doc.history.undo()
    doc.history.redo()
    assert isinstance(record.new, np.ndarray) and record.count == len(changed[0])
    np.testing.assert_array_equal(doc.mask, prediction)
    doc.undo()
    np.testing.assert_array_equal(doc.mask, working)
    doc.redo()
    np.testing.assert_array_equal(doc.mask, prediction)
    np.testing.assert_array_equal(mirror.mask, doc.mask)
    assert doc.replace(prediction) == EMPTY_RECT


def test_replace_region():
    doc = MaskDocument(np.zeros((10, 10), np.uint16))
    values = np.zeros((3, 4), np.uint16)
    values[1, 1:3] = [1000, 2000]
    assert doc.replace_region(Rect(2, 3, 5, 7), values) == Rect(3, 4, 4, 6)
    assert doc.mask[3, 4] == 1000 and doc.mask[3, 5] == 2000
    doc.undo()
    assert doc.mask.sum() == 0
    assert doc.replace_region(EMPTY_RECT, np.zeros((0, 0), np.uint16)) == EMPTY_RECT


@pytest.mark.parametrize(
    ("rect", "values", "message"),
    [
        (Rect(0, 0, 11, 10), np.zeros((11, 10), np.uint8), "outside"),
        (Rect(0, 0, 2, 2), np.zeros((3, 2), np.uint8), "shape"),
        (Rect(0, 0, 2, 2), np.full((2, 2), 256), "uint16"),
        (Rect(0, 0, 2, 2), np.full((2, 2), -1), "0..255"),
        (Rect(0, 0, 2, 2), np.zeros((2, 2), np.float32), "integer"),
    ],
)
def test_replace_region_rejects_bad_values(rect, values, message):
    doc = MaskDocument(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=message):
        doc.replace_region(rect, values)


# -- the byte budget -----------------------------------------------------------------------------------


def test_budget_keeps_only_the_newest_steps():
    doc = MaskDocument(np.zeros((64, 64), np.uint8), byte_budget=8_000)
    snapshots = [doc.mask.copy()]
    for i in range(40):
        dab(doc, (i * 7) % 60 + 2, (i * 13) % 60 + 2, 3, i % 5 + 1)
        snapshots.append(doc.mask.copy())
        assert doc.history.nbytes <= 8_000
    kept = doc.history.undo_count
    assert 0 < kept < 40 and doc.history.dropped == 40 - kept
    for expected in reversed(snapshots[-kept - 1 : -1]):
        doc.undo()
        np.testing.assert_array_equal(doc.mask, expected)
    assert doc.undo() is None
    for expected in snapshots[-kept:]:
        doc.redo()
        np.testing.assert_array_equal(doc.mask, expected)


def test_oversized_replacement_can_still_be_undone():
    rng = np.random.default_rng(5)
    doc = MaskDocument(np.zeros((200, 200), np.uint8), byte_budget=4_096)
    dab(doc, 10, 10, 3, 1)
    prediction = rng.integers(0, 9, (200, 200)).astype(np.uint8)
    before = doc.mask.copy()
    doc.replace(prediction)
    assert doc.history.over_budget and doc.history.undo_count == 1
    doc.undo()
    np.testing.assert_array_equal(doc.mask, before)
    assert not doc.history.can_undo


# -- revision and dirty --------------------------------------------------------------------------------


def test_dirty_follows_undo_back_to_the_saved_content():
    doc = MaskDocument(np.zeros((10, 10), np.uint8))
    assert not doc.dirty and doc.revision == 0
    dab(doc, 5, 5, 2, 1)
    assert doc.dirty and doc.revision == 1
    doc.undo()
    assert not doc.dirty and doc.revision == 2
    doc.redo()
    doc.mark_saved()
    assert not doc.dirty
    dab(doc, 2, 2, 1, 3)
    assert doc.dirty
    doc.undo()
    assert not doc.dirty
    doc.undo()
    assert doc.dirty
    dab(doc, 5, 5, 2, 4)  # a new branch: its content never was saved
    assert doc.dirty and doc.revision == 7
    assert dab(doc, 5, 5, 2, 4) == EMPTY_RECT and doc.revision == 7  # no-ops are not revisions


def test_listeners_can_be_removed():
    doc = MaskDocument(np.zeros((10, 10), np.uint8))
    calls = []

    def listener(rect, before, after):
        calls.append(rect)

    doc.add_listener(listener)
    dab(doc, 5, 5, 2, 1)
    doc.remove_listener(listener)
    dab(doc, 2, 2, 1, 2)
    assert len(calls) == 1
    with pytest.raises(ValueError):
        doc.remove_listener(listener)


def test_listener_before_is_a_copy_it_may_keep():
    doc = MaskDocument(np.zeros((10, 10), np.uint8))
    kept = []
    doc.add_listener(lambda rect, before, after: kept.append((rect, before)))
    dab(doc, 5, 5, 2, 1)
    dab(doc, 5, 5, 2, 2)
    assert kept[0][1].sum() == 0 and set(np.unique(kept[1][1])) == {0, 1}


# -- random edit sequences: undo and redo are bit-exact ------------------------------------------------

OPS = ["dab", "stroke", "fill", "polygon", "replace", "region", "undo", "redo"]


def random_edit(doc: MaskDocument, kind: str, rng: np.random.Generator, top: int) -> None:
    height, width = doc.shape

    def point() -> tuple[float, float]:
        return float(rng.uniform(-3, width + 3)), float(rng.uniform(-3, height + 3))

    def scope() -> PaintScope:
        choice = rng.integers(0, 3)
        return PaintScope() if choice == 0 else PaintScope(only_over=int(rng.integers(0, 3)) * (top // 2)) \
            if choice == 1 else PaintScope(keep_other_classes=True)

    value = int(rng.choice([0, 1, 2, top]))
    if kind == "dab":
        p = point()
        doc.apply(brush_stamp(doc.mask, p, p, float(rng.uniform(0.5, 5)), value, scope()))
    elif kind == "stroke":
        with doc.stroke():
            previous = point()
            for _ in range(int(rng.integers(1, 7))):
                current = point()
                radius = float(rng.uniform(0.5, 4))
                if rng.random() < 0.3:
                    doc.apply(eraser_stamp(doc.mask, previous, current, radius, scope()))
                else:
                    doc.apply(brush_stamp(doc.mask, previous, current, radius, int(rng.choice([1, 2, top])), scope()))
                previous = current
    elif kind == "fill":
        seed = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        doc.apply(flood_fill_stamp(doc.mask, seed, value, connectivity=int(rng.choice([4, 8])),
                                   contiguous=bool(rng.random() < 0.7), scope=scope()))
    elif kind == "polygon":
        centre = np.array(point())
        angles = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(3, 8))))
        radii = rng.uniform(1, max(height, width) / 2 + 2, angles.size)
        vertices = np.column_stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)])
        doc.apply(polygon_stamp(doc.mask, vertices, value, scope()))
    elif kind == "replace":
        new = doc.mask.copy()
        noise = rng.random(new.shape) < rng.uniform(0, 0.5)
        new[noise] = rng.choice([0, 1, 2, top], size=int(noise.sum()))
        doc.replace(new)
    elif kind == "region":
        top_row, left = int(rng.integers(0, height)), int(rng.integers(0, width))
        rect = Rect(top_row, left, int(rng.integers(top_row, height + 1)), int(rng.integers(left, width + 1)))
        doc.replace_region(rect, rng.choice([0, 1, top], size=(rect.height, rect.width)))


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 2**32 - 1)), min_size=1, max_size=25),
    dtype=st.sampled_from([np.uint8, np.uint16]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_edits_undo_and_redo_bit_exact(ops, dtype, seed):
    top = 255 if dtype == np.uint8 else 65535
    rng = np.random.default_rng(seed)
    original = rng.choice([0, 0, 1, 2], size=(int(rng.integers(1, 24)), int(rng.integers(1, 24)))).astype(dtype)
    doc = MaskDocument(original, byte_budget=64 << 20)
    mirror = Mirror(doc)
    states, position = [original.copy()], 0  # a model of the undo/redo stacks, as whole snapshots
    for kind, op_seed in ops:
        op_rng = np.random.default_rng(op_seed)
        if kind == "undo":
            rect = doc.undo()
            assert (rect is None) == (position == 0)
            position = max(position - 1, 0)
        elif kind == "redo":
            rect = doc.redo()
            assert (rect is None) == (position == len(states) - 1)
            position = min(position + 1, len(states) - 1)
        else:
            steps = doc.history.undo_count
            random_edit(doc, kind, op_rng, top)
            if np.array_equal(doc.mask, states[position]):
                assert doc.history.undo_count == steps  # nothing changed, nothing recorded
            else:
                assert doc.history.undo_count == steps + 1 and not doc.history.can_redo
                del states[position + 1 :]
                states.append(doc.mask.copy())
                position += 1
        np.testing.assert_array_equal(doc.mask, states[position])
        np.testing.assert_array_equal(mirror.mask, doc.mask)
        assert doc.history.undo_count == position and doc.history.redo_count == len(states) - 1 - position

    while doc.undo() is not None:
        position -= 1
        np.testing.assert_array_equal(doc.mask, states[position])
    assert position == 0
    np.testing.assert_array_equal(doc.mask, original)
    while doc.redo() is not None:
        position += 1
        np.testing.assert_array_equal(doc.mask, states[position])
    np.testing.assert_array_equal(doc.mask, states[-1])
    np.testing.assert_array_equal(mirror.mask, doc.mask)
    assert doc.mask.dtype == dtype
