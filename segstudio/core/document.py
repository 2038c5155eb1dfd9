"""The editable working mask: the one object that writes mask pixels.

Every change goes through :class:`MaskDocument`: it writes the pixels, records the change for undo, and
tells its listeners which rectangle changed, with the values there before and after. Views repaint that
rectangle and the live metrics update from it; nothing else ever holds a writable reference to the mask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.history import EditRecord, UndoHistory
from segstudio.core.stamp import Stamp, check_mask, check_value

#: ``listener(rect, before, after)``: see :meth:`MaskDocument.add_listener`.
ChangeListener = Callable[[Rect, np.ndarray, np.ndarray], None]

DEFAULT_BYTE_BUDGET = 256 * 1024 * 1024


@dataclass(slots=True)
class _Stroke:
    """Per-dab changes of the stroke in progress, merged into one record when it ends."""

    offsets: list[np.ndarray] = field(default_factory=list)  # flat offsets into the whole mask, int64
    old: list[np.ndarray] = field(default_factory=list)  # the values those pixels held before that dab


def _bounds(rows: np.ndarray, cols: np.ndarray) -> Rect:
    """Bounding box of pixel positions; ``rows`` ascending (as np.nonzero and sorted offsets give them)."""
    return Rect(int(rows[0]), int(cols.min()), int(rows[-1]) + 1, int(cols.max()) + 1)


class MaskDocument:
    """A working class-index mask with undo, redo and change notification.

    The constructor copies ``mask`` (C-contiguous, uint8 or uint16): the caller's array is never written,
    and the document's own array is never handed out writable. ``byte_budget`` caps the undo history (see
    :class:`~segstudio.core.history.UndoHistory`).

    A single :meth:`apply` is one undo step. Between :meth:`begin_stroke` and :meth:`end_stroke` every
    :meth:`apply` writes (and notifies) at once, but the whole press-to-release stroke becomes one undo
    step. Undo, redo and replacements end a stroke still in progress first, so Ctrl+Z with the button
    held undoes what was painted so far. Not thread-safe: call it from one thread (the GUI thread).
    """

    def __init__(self, mask: np.ndarray, byte_budget: int = DEFAULT_BYTE_BUDGET) -> None:
        check_mask(mask)
        self._mask = np.array(mask, copy=True, order="C")
        self._view = self._mask.view()
        self._view.flags.writeable = False
        self._history = UndoHistory(byte_budget)
        self._listeners: list[ChangeListener] = []
        self._stroke: _Stroke | None = None
        self._revision = 0
        self._saved_state = self._history.state

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def mask(self) -> np.ndarray:
        """The live mask as a read-only view: it follows every edit; copy it to keep a snapshot."""
        return self._view

    @property
    def shape(self) -> tuple[int, int]:
        return self._mask.shape

    @property
    def dtype(self) -> np.dtype:
        return self._mask.dtype

    @property
    def history(self) -> UndoHistory:
        return self._history

    @property
    def revision(self) -> int:
        """Counts every pixel change (edits, undo, redo); only ever grows. For caches and autosave timers."""
        return self._revision

    @property
    def dirty(self) -> bool:
        """True when the content differs from the last :meth:`mark_saved` (undoing back to it clears it).
        A stroke in progress counts once it ends."""
        return self._history.state != self._saved_state

    def mark_saved(self) -> None:
        """Remember the current content as saved."""
        self._saved_state = self._history.state

    # -- listeners -------------------------------------------------------------------------------------

    def add_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(rect, before, after)`` after every pixel change, synchronously.

        ``rect`` bounds the changed pixels; ``before`` is a fresh copy of the mask there before the change
        (the listener may keep it); ``after`` is a read-only view of the live mask there, valid until the
        next change (copy it to keep it). Inside a stroke the listener hears every dab. It is not called
        for edits that change nothing. An exception from a listener propagates to the caller of the edit,
        after the edit has been written and recorded, and the listeners after it are not called.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        try:
            self._listeners.remove(listener)
        except ValueError:
            raise ValueError("that listener was never added to this document") from None

    # -- editing ---------------------------------------------------------------------------------------

    def apply(self, stamp: Stamp) -> Rect:
        """Write ``stamp``; return the bounding box of the pixels that changed (empty if none did)."""
        value = check_value(stamp.value, self._mask.dtype)
        if stamp.rect.is_empty:
            return EMPTY_RECT
        if not self._contains(stamp.rect):
            raise ValueError(f"stamp rectangle {stamp.rect} reaches outside the {self.shape[1]}x{self.shape[0]} "
                             f"mask; compute stamps from this document's mask")
        region = self._mask[stamp.rect.slices]
        rows, cols = np.nonzero(stamp.pixels & (region != value))
        if rows.size == 0:
            return EMPTY_RECT
        local = _bounds(rows, cols)
        rect = local.translated(stamp.rect.top, stamp.rect.left)
        old = region[rows, cols]
        before = self._before(rect)
        region[rows, cols] = value

        if self._stroke is not None:
            offsets = (rows + stamp.rect.top).astype(np.int64) * self.shape[1] + (cols + stamp.rect.left)
            self._stroke.offsets.append(offsets)
            self._stroke.old.append(old)
        else:
            offsets = (rows - local.top) * rect.width + (cols - local.left)
            self._history.push(EditRecord.from_indices(rect, offsets, old, value))
        self._changed(rect, before)
        return rect

    def begin_stroke(self) -> None:
        """Start grouping applies into one undo step (a stroke left open is ended first: a lost release)."""
        self.end_stroke()
        self._stroke = _Stroke()

    def end_stroke(self) -> Rect:
        """Close the stroke as one undo step; return the box of its net change (empty if none, or if no
        stroke was open). A pixel painted twice keeps the value it had before the stroke as its old value.
        Costs time proportional to the pixels the stroke changed (times log of that, for the merge), not
        to the image or the stroke's box; a box is only allocated when dense enough (under 32 pixels per
        changed pixel) for the record to store it as a bitmask.
        """
        stroke, self._stroke = self._stroke, None
        if stroke is None or not stroke.offsets:
            return EMPTY_RECT
        offsets = np.concatenate(stroke.offsets)
        old = np.concatenate(stroke.old)
        if len(stroke.offsets) > 1:
            # np.unique gives each pixel's first occurrence: its value from before the stroke.
            offsets, first = np.unique(offsets, return_index=True)
            old = old[first]
        new = self._mask.reshape(-1)[offsets]
        net = new != old  # painted and then painted back within the stroke: no change to record
        if not net.all():
            offsets, old, new = offsets[net], old[net], new[net]
        if offsets.size == 0:
            return EMPTY_RECT
        rows, cols = np.divmod(offsets, self.shape[1])
        rect = _bounds(rows, cols)
        local = (rows - rect.top) * rect.width + (cols - rect.left)
        self._history.push(EditRecord.from_indices(rect, local, old, new))
        return rect

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    @contextmanager
    def stroke(self) -> Iterator[MaskDocument]:
        """``with doc.stroke(): doc.apply(...)``: begin and end a stroke, even if the body raises."""
        self.begin_stroke()
        try:
            yield self
        finally:
            self.end_stroke()

    def replace(self, new_mask: np.ndarray) -> Rect:
        """Replace the whole mask (e.g. accept a prediction) as one undo step; only changed pixels are
        recorded. ``new_mask`` must have this document's shape and values that fit its dtype."""
        return self.replace_region(Rect.full(self.shape), new_mask)

    def replace_region(self, rect: Rect, values: np.ndarray) -> Rect:
        """Write ``values`` (shape of ``rect``) into ``rect`` as one undo step; return the changed box."""
        if not self._contains(rect):
            raise ValueError(f"rectangle {rect} reaches outside the {self.shape[1]}x{self.shape[0]} mask")
        values = self._as_mask_values(values, (rect.height, rect.width))
        self.end_stroke()
        if rect.is_empty:
            return EMPTY_RECT
        region = self._mask[rect.slices]
        rows, cols = np.nonzero(values != region)
        if rows.size == 0:
            return EMPTY_RECT
        local = _bounds(rows, cols)
        changed_rect = local.translated(rect.top, rect.left)
        old, new = region[rows, cols], values[rows, cols]
        before = self._before(changed_rect)
        region[rows, cols] = new
        offsets = (rows - local.top) * changed_rect.width + (cols - local.left)
        self._history.push(EditRecord.from_indices(changed_rect, offsets, old, new))
        self._changed(changed_rect, before)
        return changed_rect

    # -- undo ------------------------------------------------------------------------------------------

    def undo(self) -> Rect | None:
        """Revert the latest undo step; return the rectangle it changed, or None if there is none."""
        self.end_stroke()
        record = self._history.undo()
        if record is None:
            return None
        self._write(record, record.old)
        return record.rect

    def redo(self) -> Rect | None:
        """Re-apply the latest undone step; return the rectangle it changed, or None if there is none."""
        self.end_stroke()
        record = self._history.redo()
        if record is None:
            return None
        self._write(record, record.new_values())
        return record.rect

    # -- internals -------------------------------------------------------------------------------------

    def _contains(self, rect: Rect) -> bool:
        height, width = self.shape
        return 0 <= rect.top and 0 <= rect.left and rect.bottom <= height and rect.right <= width

    def _write(self, record: EditRecord, values: np.ndarray) -> None:
        before = self._before(record.rect)
        rows, cols = record.changed_positions()
        self._mask[record.rect.slices][rows, cols] = values
        self._changed(record.rect, before)

    def _before(self, rect: Rect) -> np.ndarray | None:
        # Copying costs the box; skip it when nobody listens.
        return self._mask[rect.slices].copy() if self._listeners else None

    def _changed(self, rect: Rect, before: np.ndarray | None) -> None:
        self._revision += 1
        if before is None:
            return
        after = self._view[rect.slices]
        for listener in list(self._listeners):
            listener(rect, before, after)

    def _as_mask_values(self, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        values = np.asarray(values)
        if values.shape != shape:
            raise ValueError(f"replacement values have shape {values.shape}, expected {shape}")
        if values.dtype == self._mask.dtype:
            return values
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"replacement values must be integer class indices, got {values.dtype}")
        if values.size:
            low, high = int(values.min()), int(values.max())
            limit = np.iinfo(self._mask.dtype).max
            if low < 0 or high > limit:
                hint = "; use a uint16 document for more than 255 classes" if limit == 255 else ""
                raise ValueError(f"replacement values span {low}..{high}, outside this {self._mask.dtype} "
                                 f"mask's 0..{limit}{hint}")
        return values.astype(self._mask.dtype)
