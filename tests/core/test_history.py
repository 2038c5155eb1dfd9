"""Edit records and the byte-capped undo history."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.geometry import Rect
from segstudio.core.history import RECORD_OVERHEAD_BYTES, ChangeEncoding, EditRecord, UndoHistory


def record_of(changed: np.ndarray, rect: Rect | None = None, new: int | np.ndarray = 1, dtype=np.uint8) -> EditRecord:
    rect = rect or Rect(0, 0, *changed.shape)
    old = np.arange(int(changed.sum()), dtype=dtype)
    return EditRecord.from_mask(rect, changed, old, new)


def test_sparse_change_in_a_big_box_stores_indices():
    changed = np.zeros((100, 100), dtype=bool)
    changed[np.arange(100), np.arange(100)] = True  # a diagonal: 100 pixels in a 10,000-pixel box
    record = record_of(changed)
    assert record.encoding is ChangeEncoding.INDICES
    assert record.changed.dtype == np.uint32 and record.changed.size == 100
    assert record.nbytes == RECORD_OVERHEAD_BYTES + 100 * 4 + 100


def test_dense_change_stores_a_bitmask():
    changed = np.ones((30, 40), dtype=bool)
    changed[::3] = False
    record = record_of(changed)
    assert record.encoding is ChangeEncoding.BITMASK
    assert record.changed.nbytes == (30 * 40 + 7) // 8
    assert record.nbytes == RECORD_OVERHEAD_BYTES + record.changed.nbytes + record.count


@pytest.mark.parametrize("density", [0.001, 0.02, 0.03, 0.5, 1.0])
def test_both_encodings_round_trip_and_the_smaller_is_chosen(density):
    rng = np.random.default_rng(3)
    changed = rng.random((57, 83)) < density
    changed[0, 0] = True
    rect = Rect(5, 7, 62, 90)
    record = record_of(changed, rect)
    np.testing.assert_array_equal(record.changed_mask(), changed)
    rows, cols = record.changed_positions()
    np.testing.assert_array_equal(rows, np.nonzero(changed)[0])
    np.testing.assert_array_equal(cols, np.nonzero(changed)[1])
    assert record.changed.nbytes == min(4 * changed.sum(), (changed.size + 7) // 8)
    again = EditRecord.from_indices(rect, np.flatnonzero(changed), record.old, 1)
    assert again.encoding is record.encoding
    np.testing.assert_array_equal(again.changed, record.changed)


def test_record_arrays_are_read_only_and_new_values_broadcast():
    record = record_of(np.eye(4, dtype=bool), new=9, dtype=np.uint16)
    with pytest.raises(ValueError):
        record.old[0] = 3
    with pytest.raises(ValueError):
        record.changed[0] = 3
    assert record.new == 9 and record.new_values().tolist() == [9, 9, 9, 9]
    assert record.new_values().dtype == np.uint16


def test_replacement_record_keeps_one_new_value_per_pixel_unless_uniform():
    changed = np.eye(5, dtype=bool)
    varied = record_of(changed, new=np.array([1, 2, 3, 4, 5], dtype=np.uint8))
    assert isinstance(varied.new, np.ndarray) and varied.new.tolist() == [1, 2, 3, 4, 5]
    assert varied.nbytes == RECORD_OVERHEAD_BYTES + varied.changed.nbytes + 5 + 5
    uniform = record_of(changed, new=np.full(5, 7, dtype=np.uint8))
    assert uniform.new == 7


def test_record_validation():
    with pytest.raises(ValueError, match="shape"):
        EditRecord.from_mask(Rect(0, 0, 3, 3), np.ones((2, 2), bool), np.zeros(4, np.uint8), 1)
    with pytest.raises(ValueError, match="new values"):
        EditRecord.from_mask(Rect(0, 0, 2, 2), np.ones((2, 2), bool), np.zeros(4, np.uint8), np.zeros(3, np.uint8))


def small(value: int = 0) -> EditRecord:
    """A one-pixel record; each costs RECORD_OVERHEAD_BYTES + 5 bytes."""
    return EditRecord.from_mask(Rect(0, 0, 1, 1), np.ones((1, 1), bool), np.array([value], np.uint8), value + 1)


def test_undo_redo_order_and_new_push_clears_redo():
    history = UndoHistory(1 << 20)
    a, b, c = small(1), small(2), small(3)
    assert not history.can_undo and history.undo() is None and history.redo() is None
    history.push(a)
    history.push(b)
    assert history.undo() is b
    assert history.can_redo and history.redo_count == 1
    assert history.redo() is b
    assert history.undo() is b and history.undo() is a
    assert not history.can_undo and history.redo_count == 2
    assert history.redo() is a
    history.push(c)
    assert not history.can_redo
    assert history.nbytes == a.nbytes + c.nbytes
    assert history.undo() is c and history.undo() is a


def test_nbytes_counts_undo_and_redo_records():
    history = UndoHistory(1 << 20)
    records = [small(i) for i in range(5)]
    for record in records:
        history.push(record)
    total = sum(r.nbytes for r in records)
    assert history.nbytes == total
    history.undo()
    history.undo()
    assert history.nbytes == total  # moving between stacks frees nothing
    history.push(small(9))  # ...but dropping redo does
    assert history.nbytes == total - records[3].nbytes - records[4].nbytes + small(9).nbytes
    history.clear()
    assert history.nbytes == 0 and not history.can_undo and not history.can_redo


def test_budget_drops_the_oldest_records():
    size = small().nbytes
    history = UndoHistory(10 * size + size // 2)
    records = [small(i % 200) for i in range(25)]
    for record in records:
        history.push(record)
        assert history.nbytes <= history.byte_budget
    assert history.undo_count == 10 and history.dropped == 15
    undone = [history.undo() for _ in range(10)]
    assert undone == records[:-11:-1]  # the newest ten, newest first
    assert history.undo() is None


def test_a_record_larger_than_the_budget_is_kept_alone():
    history = UndoHistory(4096)
    for i in range(3):
        history.push(small(i))
    big = EditRecord.from_mask(Rect(0, 0, 100, 100), np.ones((100, 100), bool), np.zeros(10_000, np.uint8), 1)
    assert big.nbytes > history.byte_budget
    history.push(big)
    assert history.undo_count == 1 and history.over_budget and history.nbytes == big.nbytes
    assert history.undo() is big and history.redo() is big
    history.push(small(5))  # the next edit lets the oversized one go
    assert history.undo_count == 1 and not history.over_budget
    assert history.nbytes <= history.byte_budget


def test_state_versions_track_undo_and_redo():
    history = UndoHistory(1 << 20)
    assert history.state == 0
    history.push(small(1))
    first = history.state
    history.push(small(2))
    second = history.state
    assert len({0, first, second}) == 3
    history.undo()
    assert history.state == first
    history.undo()
    assert history.state == 0
    history.redo()
    assert history.state == first
    history.push(small(3))  # a new branch gets a version never seen before
    assert history.state not in (0, first, second)


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="byte_budget"):
        UndoHistory(0)
