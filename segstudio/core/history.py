"""Undo history: small records of which pixels changed, capped in bytes rather than in steps.

An :class:`EditRecord` holds the bounding box of one undo step, which pixels inside it changed, their old
values and their new value(s). It never holds an image-sized snapshot unless an image-sized area changed.
:class:`UndoHistory` stacks records and drops the oldest when the total outgrows its byte budget.
Records are data; :class:`segstudio.core.document.MaskDocument` is what writes them back into a mask.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np

from segstudio.core.geometry import Rect

# What one record costs beyond its array data: the record, its Rect and ints, the history's entry and up to
# three ndarray headers, measured with sys.getsizeof on CPython (about 550-660 bytes) and rounded up.
# Counting it keeps a history of a million one-pixel edits honest about its size.
RECORD_OVERHEAD_BYTES = 640


class ChangeEncoding(Enum):
    """How a record stores which pixels of its box changed; each record takes whichever is smaller."""

    INDICES = "indices"  # ascending uint32 row-major offsets within the box: 4 bytes per changed pixel
    BITMASK = "bitmask"  # np.packbits of the box's row-major bool mask: 1 bit per box pixel


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False, slots=True)
class EditRecord:
    """One undo step: in ``rect``, the changed pixels, their ``old`` values and their ``new`` value(s).

    ``old`` (and ``new`` when it is an array) list the changed pixels in row-major order. ``new`` is a single
    class for a paint stroke, or one value per changed pixel for a replacement (e.g. accepting a
    prediction as the working mask). Build records with :meth:`from_mask` or :meth:`from_indices`, which
    choose the smaller encoding.
    """

    rect: Rect
    encoding: ChangeEncoding
    changed: np.ndarray
    old: np.ndarray
    new: int | np.ndarray

    def __post_init__(self) -> None:
        if self.old.ndim != 1:
            raise ValueError(f"old values are a 1-D array, got shape {self.old.shape}")
        if self.encoding is ChangeEncoding.INDICES:
            if self.changed.dtype != np.uint32 or self.changed.shape != self.old.shape:
                raise ValueError("INDICES records need one uint32 offset per old value")
        elif self.changed.dtype != np.uint8 or self.changed.size != (self.rect.area + 7) // 8:
            raise ValueError(f"BITMASK records need {(self.rect.area + 7) // 8} packed bytes for {self.rect}")
        if isinstance(self.new, np.ndarray) and self.new.shape != self.old.shape:
            raise ValueError(f"new values have shape {self.new.shape} but there are {self.old.size} old values")

    @classmethod
    def from_mask(cls, rect: Rect, changed: np.ndarray, old: np.ndarray, new: int | np.ndarray) -> EditRecord:
        """A record from a bool ``changed`` array of ``rect``'s shape; ``old``/``new`` in row-major order."""
        if changed.shape != (rect.height, rect.width):
            raise ValueError(f"changed has shape {changed.shape}, "
                             f"the rectangle {rect} needs {(rect.height, rect.width)}")
        count = int(np.count_nonzero(changed))
        if count != old.size:
            raise ValueError(f"{count} pixels changed but {old.size} old values were given")
        if 4 * count <= (rect.area + 7) // 8:
            return cls._build(rect, ChangeEncoding.INDICES, np.flatnonzero(changed).astype(np.uint32), old, new)
        return cls._build(rect, ChangeEncoding.BITMASK, np.packbits(changed, axis=None), old, new)

    @classmethod
    def from_indices(cls, rect: Rect, offsets: np.ndarray, old: np.ndarray, new: int | np.ndarray) -> EditRecord:
        """A record from ascending row-major ``offsets`` within ``rect``; ``old``/``new`` in the same order."""
        count = int(offsets.size)
        if count != old.size:
            raise ValueError(f"{count} offsets but {old.size} old values were given")
        if rect.area > np.iinfo(np.uint32).max:
            raise ValueError(f"a record's box holds at most 2**32 pixels, {rect} has {rect.area}")
        if 4 * count <= (rect.area + 7) // 8:
            return cls._build(rect, ChangeEncoding.INDICES, offsets.astype(np.uint32), old, new)
        changed = np.zeros(rect.area, dtype=bool)
        changed[offsets] = True
        return cls._build(rect, ChangeEncoding.BITMASK, np.packbits(changed), old, new)

    @classmethod
    def _build(cls, rect: Rect, encoding: ChangeEncoding, changed: np.ndarray, old: np.ndarray,
               new: int | np.ndarray) -> EditRecord:
        old = _frozen(np.array(old, copy=True).reshape(-1))
        if isinstance(new, np.ndarray):
            new = np.asarray(new, dtype=old.dtype).reshape(-1)
            if new.shape != old.shape:
                raise ValueError(f"{new.size} new values for {old.size} changed pixels")
            # A replacement that writes one class everywhere it changes stores that class once.
            new = int(new[0]) if new.size and (new == new[0]).all() else _frozen(new.copy())
        else:
            new = int(new)
        return cls(rect, encoding, _frozen(changed), old, new)

    @property
    def count(self) -> int:
        """How many pixels this record changed."""
        return int(self.old.size)

    @property
    def nbytes(self) -> int:
        """Bytes held: the arrays plus a fixed per-record overhead (:data:`RECORD_OVERHEAD_BYTES`)."""
        new_bytes = self.new.nbytes if isinstance(self.new, np.ndarray) else 0
        return RECORD_OVERHEAD_BYTES + self.changed.nbytes + self.old.nbytes + new_bytes

    def changed_mask(self) -> np.ndarray:
        """Bool array of ``rect``'s shape: the changed pixels."""
        if self.encoding is ChangeEncoding.BITMASK:
            bits = np.unpackbits(self.changed, count=self.rect.area)
            return bits.view(bool).reshape(self.rect.height, self.rect.width)
        changed = np.zeros(self.rect.area, dtype=bool)
        changed[self.changed] = True
        return changed.reshape(self.rect.height, self.rect.width)

    def changed_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column indices of the changed pixels within ``rect``, row-major order."""
        if self.encoding is ChangeEncoding.BITMASK:
            return np.nonzero(self.changed_mask())
        return np.divmod(self.changed.astype(np.intp), self.rect.width)

    def new_values(self) -> np.ndarray:
        """The new value of each changed pixel (a broadcast view when ``new`` is a single class)."""
        if isinstance(self.new, np.ndarray):
            return self.new
        return np.broadcast_to(np.asarray(self.new, dtype=self.old.dtype), self.old.shape)


@dataclass(slots=True)
class _Entry:
    record: EditRecord
    state: int  # the content version this record leads to
    parent: int  # the content version it was applied on top of


class UndoHistory:
    """Undo and redo stacks of :class:`EditRecord`, capped at ``byte_budget`` bytes in total.

    The budget counts undo and redo records together: it is the memory the history may hold. Pushing a
    record clears redo and then drops the oldest undo records until the total fits. A record larger than
    the whole budget is kept alone (everything older is dropped) rather than refused, so the edit the user
    just made can always be undone; :attr:`over_budget` reports it so the UI can warn. The history then
    holds about one such record until the next push.

    Each state of the content gets a version number (:attr:`state`): undo and redo move between versions,
    so a document can tell whether it is back at the version it last saved.
    """

    def __init__(self, byte_budget: int) -> None:
        if byte_budget <= 0:
            raise ValueError(f"byte_budget must be a positive number of bytes, got {byte_budget}")
        self._budget = int(byte_budget)
        self._undo: deque[_Entry] = deque()
        self._redo: list[_Entry] = []
        self._nbytes = 0
        self._state = 0
        self._next_state = 1
        self._dropped = 0

    @property
    def byte_budget(self) -> int:
        return self._budget

    @property
    def nbytes(self) -> int:
        """Bytes held by all undo and redo records."""
        return self._nbytes

    @property
    def over_budget(self) -> bool:
        """True while a single record larger than the budget is held."""
        return self._nbytes > self._budget

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_count(self) -> int:
        return len(self._undo)

    @property
    def redo_count(self) -> int:
        return len(self._redo)

    @property
    def dropped(self) -> int:
        """How many of the oldest undo records the budget has forgotten since construction."""
        return self._dropped

    @property
    def state(self) -> int:
        """Version number of the content the history currently stands at (0 = as constructed)."""
        return self._state

    def push(self, record: EditRecord) -> None:
        """Record a new edit: redo is cleared, the oldest undo records go if the budget demands it."""
        for entry in self._redo:
            self._nbytes -= entry.record.nbytes
        self._redo.clear()
        entry = _Entry(record, self._next_state, self._state)
        self._next_state += 1
        self._state = entry.state
        self._undo.append(entry)
        self._nbytes += record.nbytes
        while self._nbytes > self._budget and len(self._undo) > 1:
            self._nbytes -= self._undo.popleft().record.nbytes
            self._dropped += 1

    def undo(self) -> EditRecord | None:
        """The record to revert (write its old values back), or None when there is nothing to undo."""
        if not self._undo:
            return None
        entry = self._undo.pop()
        self._redo.append(entry)
        self._state = entry.parent
        return entry.record

    def redo(self) -> EditRecord | None:
        """The record to re-apply (write its new values), or None when there is nothing to redo."""
        if not self._redo:
            return None
        entry = self._redo.pop()
        self._undo.append(entry)
        self._state = entry.state
        return entry.record

    def clear(self) -> None:
        """Forget every record; the content version stays where it is."""
        self._undo.clear()
        self._redo.clear()
        self._nbytes = 0
