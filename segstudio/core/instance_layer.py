"""The working instances of one image: one instance per pixel, each with an id and a class, edited object by object.

An :class:`InstanceLayer` holds a *key* per pixel in a :class:`~segstudio.core.document.MaskDocument` (uint16), and a
table from key to (instance id, class, score). Keys ``0..255`` are plain class values with no instance (background,
unlabelled, a class painted where no object is); keys from 256 up are instances. The table only ever grows and a
key's meaning never changes, so every edit, a change of class or a renumbering included, is a change of pixels:
the document's undo history (per stroke, within its byte budget) undoes all of it, and nothing else needs undoing.
Changing an instance's class moves its pixels to a fresh key with the same id and the new class; renumbering moves
each instance to a fresh key with its new id.

The class mask the rest of the session scores and shows is derived from the keys (:attr:`InstanceLayer.classes`)
and kept in step inside every changed rectangle; listeners hear ``(rect, classes before, classes after)``, as
they would from a class-mask document. Per-key pixel counts are kept the same way, so the instance list costs
O(instances), not O(image).

One id per pixel, as Penn-Fudan and COCO panoptic store instances: overlapping detections are resolved before they
get here (by score: :mod:`segstudio.core.instance_candidates`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from segstudio.core.document import DEFAULT_BYTE_BUDGET, MaskDocument
from segstudio.core.editing import Point
from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.instance_parts import connected_parts, line_pixels, parts_cut_by
from segstudio.core.instances import InstanceMask

PLAIN_KEYS = 256  # keys below this are class values with no instance
KEY_LIMIT = 1 << 16  # uint16 keys
KEY_DTYPE = np.dtype(np.uint16)

#: ``listener(rect, classes before, classes after)``, as :meth:`MaskDocument.add_listener` but in class values.
ClassListener = Callable[[Rect, np.ndarray, np.ndarray], None]


class OutOfInstanceKeys(ValueError):
    """Every instance key of this session is used (each new instance, change of class or renumbering takes some)."""

    def __init__(self) -> None:
        super().__init__(f"this image has used all {KEY_LIMIT - PLAIN_KEYS:,} instance keys of one editing session; "
                         "save it and open it again to go on (undo history starts afresh)")


class InstanceEditError(ValueError):
    """An instance edit that cannot be done as asked (an unknown id, a split line that cuts nothing)."""


@dataclass(frozen=True)
class InstanceRow:
    """One instance as the list shows it."""

    instance_id: int
    class_id: int
    pixels: int
    score: float | None  # the model's confidence, None for an instance the user made


class InstanceLayer:
    """The working instances of one image, edited per object (see the module notes).

    ``start``: the instances to begin with (their ids are kept as they are); ``base``: the class of every pixel no
    instance holds (default: ``background``; needed for unlabelled pixels or classes painted outside objects).
    ``background``: the value a deleted instance's pixels take; ``unlabelled``: the label set's ignore id, if any
    (painted as itself, never an instance). Class values must be below 256.
    """

    def __init__(
        self,
        start: InstanceMask,
        *,
        background: int,
        unlabelled: int | None = None,
        base: np.ndarray | None = None,
        class_dtype: np.dtype | type = np.uint8,
        byte_budget: int = DEFAULT_BYTE_BUDGET,
    ) -> None:
        if not 0 <= background < PLAIN_KEYS:
            raise ValueError(f"instance editing needs class values below {PLAIN_KEYS}; background is {background}")
        self._background = int(background)
        self._unlabelled = unlabelled
        self._instance_of = np.zeros(KEY_LIMIT, dtype=np.int64)
        self._class_of = np.zeros(KEY_LIMIT, dtype=np.int64)
        self._class_of[:PLAIN_KEYS] = np.arange(PLAIN_KEYS)
        self._score_of = np.full(KEY_LIMIT, np.nan)
        self._next_key = PLAIN_KEYS
        self._class_lut = np.zeros(KEY_LIMIT, dtype=np.dtype(class_dtype))
        self._class_lut[:PLAIN_KEYS] = np.arange(PLAIN_KEYS, dtype=np.dtype(class_dtype))

        ids = np.asarray(start.ids)
        if base is None:
            keys = np.full(ids.shape, self._background, dtype=KEY_DTYPE)
        else:
            base = np.asarray(base)
            if base.shape != ids.shape:
                raise ValueError(f"the class mask is {base.shape[1]}x{base.shape[0]} but the instances are "
                                 f"{ids.shape[1]}x{ids.shape[0]}")
            if base.size and int(base.max()) >= PLAIN_KEYS:
                raise ValueError(f"instance editing needs class values below {PLAIN_KEYS}; found {int(base.max())}")
            keys = base.astype(KEY_DTYPE)
        self._key_instances(start, keys)
        self._counts = np.bincount(keys.ravel(), minlength=KEY_LIMIT).astype(np.int64)
        self._present: np.ndarray | None = None  # keys with a pixel, cached (see _present_keys)
        self._generation = 0  # grows whenever a key gains its first pixel or loses its last
        self._classes = self._class_lut[keys]
        self._classes_view = self._classes.view()
        self._classes_view.flags.writeable = False
        self._document = MaskDocument(keys, byte_budget)
        self._document.add_listener(self._on_keys)
        self._listeners: list[ClassListener] = []
        self._key_listeners: list[Callable[[Rect, np.ndarray, np.ndarray], None]] = []
        self._current: int | None = None  # the instance the brush paints into
        self._pending: tuple[int, int] | None = None  # (id, key) of a new instance not painted yet

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def document(self) -> MaskDocument:
        """The key document: the one writer of pixels, and the undo history of every instance edit."""
        return self._document

    @property
    def keys(self) -> np.ndarray:
        return self._document.mask

    @property
    def classes(self) -> np.ndarray:
        """The class mask the keys stand for (live, read-only)."""
        return self._classes_view

    @property
    def background(self) -> int:
        return self._background

    @property
    def generation(self) -> int:
        """Grows whenever the set of keys with pixels changes (an instance appears or goes, is split, merged,
        renumbered or given another class): views of the instances compare it instead of listing them."""
        return self._generation

    @property
    def current(self) -> int | None:
        """The instance the brush paints into (None: the next stroke starts a new one)."""
        return self._current

    def instance_ids(self) -> tuple[int, ...]:
        """Ids with at least one pixel, ascending."""
        keys = self._present_keys()
        return tuple(sorted(int(i) for i in self._instance_of[keys]))

    def rows(self) -> list[InstanceRow]:
        """Every instance with a pixel, ascending id."""
        return [row for _key, row in self.keyed_rows()]

    def keyed_rows(self) -> list[tuple[int, InstanceRow]]:
        """:meth:`rows` with each instance's key (for views kept in step with the keys)."""
        rows = []
        for key in self._present_keys().tolist():
            score = float(self._score_of[key])
            rows.append((key, InstanceRow(int(self._instance_of[key]), int(self._class_of[key]),
                                          int(self._counts[key]), None if math.isnan(score) else score)))
        return sorted(rows, key=lambda pair: pair[1].instance_id)

    def class_of(self, instance_id: int) -> int:
        return int(self._class_of[self._key_of(instance_id)])

    def has(self, instance_id: int) -> bool:
        return self._present_key_of(instance_id) is not None

    def instance_at(self, x: float, y: float) -> int:
        """The instance at the pixel nearest ``(x, y)`` (0: none, or outside the image)."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return 0
        col, row = math.floor(x + 0.5), math.floor(y + 0.5)
        height, width = self.keys.shape
        if not (0 <= row < height and 0 <= col < width):
            return 0
        return int(self._instance_of[int(self.keys[row, col])])

    def pixels_of(self, instance_id: int) -> np.ndarray:
        """Bool mask of ``instance_id``'s pixels (a new array)."""
        key = self._present_key_of(instance_id)
        return np.zeros(self.keys.shape, dtype=bool) if key is None else self.keys == key

    def snapshot(self) -> InstanceMask:
        """The instances as they are now: ids (uint8 when they fit, else uint16), classes and the scores of those
        the model made (None when no instance has one)."""
        keys = self._present_keys()
        ids_of_key = self._instance_of.copy()
        ids_of_key[:PLAIN_KEYS] = 0
        highest = int(ids_of_key[keys].max(initial=0))
        dtype = np.uint8 if highest <= 0xFF else np.uint16
        ids = ids_of_key.astype(dtype)[self.keys]
        classes = {int(self._instance_of[k]): int(self._class_of[k]) for k in keys}
        scored = {int(self._instance_of[k]): float(self._score_of[k]) for k in keys if not math.isnan(self._score_of[k])}
        return InstanceMask(ids, classes, scored or None)

    def owner_of(self, key: int) -> tuple[int, int] | None:
        """``(instance id, class)`` of an instance key in use or allotted, ``(0, class)`` of a plain key, None for a
        key this layer never gave out."""
        key = int(key)
        if 0 <= key < PLAIN_KEYS:
            return 0, key
        if not PLAIN_KEYS <= key < self._next_key:
            return None
        return int(self._instance_of[key]), int(self._class_of[key])

    def key_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read-only views of key -> instance id (0 for plain keys), key -> class, key -> score (NaN: none)."""
        views = []
        for table in (self._instance_of, self._class_of, self._score_of):
            view = table.view()
            view.flags.writeable = False
            views.append(view)
        instance_of = views[0]
        return instance_of, views[1], views[2]

    # -- listeners -------------------------------------------------------------------------------------

    def add_listener(self, listener: ClassListener) -> None:
        """Call ``listener(rect, classes before, classes after)`` after every change of keys (after the class mask
        and the counts are current)."""
        self._listeners.append(listener)

    def add_key_listener(self, listener: Callable[[Rect, np.ndarray, np.ndarray], None]) -> None:
        """Call ``listener(rect, keys before, keys after)`` after every change (before the class listeners)."""
        self._key_listeners.append(listener)

    # -- choosing what the brush paints ----------------------------------------------------------------

    def select(self, instance_id: int | None) -> None:
        """Paint into ``instance_id`` from now on (None or 0: the next object stroke starts a new instance)."""
        if not instance_id:
            self._current = None
            return
        if self._present_key_of(instance_id) is None and not (self._pending and self._pending[0] == instance_id):
            raise InstanceEditError(f"there is no instance {instance_id} on this image")
        self._current = int(instance_id)

    def new_instance(self, class_id: int) -> int:
        """Start a new instance of ``class_id`` (the next free id); the brush paints into it from now on."""
        self._check_class(class_id)
        instance_id = self._free_id()
        key = self._allocate(instance_id, class_id, None)
        self._pending = (instance_id, key)
        self._current = instance_id
        return instance_id

    def paint_key(self, class_id: int) -> int:
        """The key a brush of class ``class_id`` writes: the background or unlabelled value as itself; an object
        class into the current instance when it has that class, else into a new instance of it (then current)."""
        if class_id in (self._background, self._unlabelled):
            return int(class_id)
        self._check_class(class_id)
        if self._current is not None:
            key = self._key_of(self._current, missing_ok=True)
            if key is not None and int(self._class_of[key]) == class_id:
                return key
        self.new_instance(class_id)
        assert self._pending is not None
        return self._pending[1]

    def key_for(self, instance_id: int) -> int:
        """The key of an existing (or just started) instance."""
        return self._key_of(instance_id)

    # -- whole-object edits: each one undo step --------------------------------------------------------

    def delete(self, instance_ids: Sequence[int]) -> Rect:
        """Remove instances: their pixels become background."""
        keys = [self._key_of(i) for i in instance_ids]
        if self._current in instance_ids:
            self._current = None
        return self._rewrite({key: self._background for key in keys})

    def set_class(self, instance_ids: int | Sequence[int], class_id: int) -> Rect:
        """Give instances another class (same ids; undone as one step)."""
        self._check_class(class_id)
        ids = [instance_ids] if isinstance(instance_ids, int) else list(instance_ids)
        moves: dict[int, int] = {}
        for instance_id in ids:
            key = self._key_of(instance_id)
            if int(self._class_of[key]) != class_id:
                moves[key] = self._allocate(instance_id, class_id, self._score(key))
        return self._rewrite(moves)

    def merge(self, target: int, others: Sequence[int]) -> Rect:
        """``others``' pixels join ``target`` (which keeps its id and class)."""
        target_key = self._key_of(target)
        moves = {self._key_of(i): target_key for i in others if i != target}
        if not moves:
            raise InstanceEditError("choose at least two instances to merge")
        if self._current in others and self._current != target:
            self._current = target
        return self._rewrite(moves)

    def split_components(self, instance_id: int, *, connectivity: int = 8) -> tuple[Rect, tuple[int, ...]]:
        """Split an instance into its connected parts: the largest keeps the id, each other part (largest first)
        gets a new id. Returns the changed box and the new ids (none when it is in one piece)."""
        key = self._key_of(instance_id)
        rect, pixels = self._box_of(key)
        labels, areas = connected_parts(pixels, connectivity=connectivity)
        if len(areas) < 2:
            return EMPTY_RECT, ()
        return self._give_parts(key, rect, labels, areas)

    def crossed_most(self, line: Sequence[Point]) -> int:
        """The instance with the most pixels under the polyline ``line`` (0: it crosses none)."""
        if len(line) < 2:
            return 0
        keys = self.keys[line_pixels(self.keys.shape, line)]
        keys = keys[keys >= PLAIN_KEYS]
        if not keys.size:
            return 0
        values, counts = np.unique(keys, return_counts=True)
        return int(self._instance_of[int(values[np.argmax(counts)])])

    def split_by_line(self, instance_id: int, line: Sequence[Point], *, width: float = 1.5) -> tuple[Rect, tuple[int, ...]]:
        """Cut an instance along a polyline (image ``(x, y)`` points): the parts the line separates become separate
        instances (the largest keeps the id); the pixels under the line go to a part they touch.
        :class:`InstanceEditError` when the line does not cut it in two."""
        if len(line) < 2:
            raise InstanceEditError("a split line needs at least two points")
        key = self._key_of(instance_id)
        rect, pixels = self._box_of(key)
        cut = line_pixels(pixels.shape, line, width=round(width), origin=(rect.top, rect.left))
        parts = parts_cut_by(pixels, cut)
        if parts is None:
            raise InstanceEditError(f"the line does not cut instance {instance_id} in two")
        return self._give_parts(key, rect, *parts)

    def renumber(self) -> Rect:
        """Number the instances 1..K in their present id order (one undo step; classes and scores kept)."""
        keys = sorted(self._present_keys(), key=lambda k: int(self._instance_of[k]))
        moves: dict[int, int] = {}
        for number, key in enumerate(keys, start=1):
            if int(self._instance_of[key]) != number:
                moves[key] = self._allocate(number, int(self._class_of[key]), self._score(key))
        if self._current is not None:
            self._current = next((n for n, k in enumerate(keys, start=1) if self._instance_of[k] == self._current), None)
        self._pending = None
        return self._rewrite(moves)

    def replace_with(self, instances: InstanceMask, base: np.ndarray) -> Rect:
        """Every pixel anew (accept the model's instances, go back to the ground truth's): ``instances`` over the class
        mask ``base``, as one undo step. Ids are kept; the brush's instance is let go."""
        ids = np.asarray(instances.ids)
        if ids.shape != self.keys.shape or np.shape(base) != self.keys.shape:
            raise ValueError(f"the instances are {ids.shape[1]}x{ids.shape[0]} but the image is "
                             f"{self.keys.shape[1]}x{self.keys.shape[0]}")
        keys = np.asarray(base).astype(KEY_DTYPE)
        self._key_instances(instances, keys)
        self._current, self._pending = None, None
        return self._document.replace(keys)

    def take_region(self, rect: Rect, pixels: np.ndarray, source: InstanceMask | None, base: np.ndarray) -> Rect:
        """The pixels ``pixels`` (bool, ``rect``'s shape) take what ``source`` has there (an error region fixed from
        the ground truth's or the model's instances), as one undo step. A pixel of a source object joins the working
        instance of that class which holds most of the object's pixels (the object the user already has), else a new
        instance of the object's class (one per object); a pixel of no object takes ``base``'s class as itself."""
        base = np.asarray(base)
        if pixels.shape != (rect.height, rect.width) or base.shape != self.keys.shape:
            raise ValueError(f"the region's pixels {pixels.shape} and the class mask {base.shape} do not fit "
                             f"{rect} of this {self.keys.shape[1]}x{self.keys.shape[0]} image")
        values = self.keys[rect.slices].copy()
        taken = base[rect.slices][pixels].astype(KEY_DTYPE)
        if source is not None:
            ids = np.asarray(source.ids)
            region_ids = ids[rect.slices][pixels]
            next_id = self._free_id()
            for object_id in np.unique(region_ids[region_ids > 0]).tolist():
                class_id = source.class_of(object_id)
                key = self._holder_of(ids == object_id, class_id)
                if key is None:
                    self._check_class(class_id)
                    key = self._allocate(next_id, class_id, None)
                    next_id += 1
                taken[region_ids == object_id] = key
        values[pixels] = taken
        return self._document.replace_region(rect, values)

    def _holder_of(self, object_pixels: np.ndarray, class_id: int) -> int | None:
        """The present key of class ``class_id`` holding most of ``object_pixels`` (None: none holds any)."""
        keys = self.keys[object_pixels]
        keys = keys[keys >= PLAIN_KEYS]
        keys = keys[self._class_of[keys] == class_id]
        if keys.size == 0:
            return None
        found, counts = np.unique(keys, return_counts=True)
        return int(found[int(np.argmax(counts))])

    # -- internals -------------------------------------------------------------------------------------

    def _key_instances(self, instances: InstanceMask, keys: np.ndarray) -> None:
        """A fresh key for each of ``instances`` (id, class and score kept), written into ``keys`` at its pixels."""
        present = instances.instance_ids
        if not present:
            return
        lut = np.zeros(int(max(present)) + 1, dtype=KEY_DTYPE)
        for instance in present:
            score = None if instances.scores is None else instances.scores.get(instance)
            lut[instance] = self._allocate(instance, instances.class_of(instance), score)
        ids = np.asarray(instances.ids)
        np.copyto(keys, lut[ids], where=ids > 0)

    def _check_class(self, class_id: int) -> None:
        if not 0 <= int(class_id) < PLAIN_KEYS or int(class_id) in (self._background, self._unlabelled):
            raise InstanceEditError(f"class {class_id} cannot be an instance's class: it is the background or the "
                                    "unlabelled value")

    def _allocate(self, instance_id: int, class_id: int, score: float | None) -> int:
        if self._next_key >= KEY_LIMIT:
            raise OutOfInstanceKeys()
        key = self._next_key
        self._next_key += 1
        self._instance_of[key] = int(instance_id)
        self._class_of[key] = int(class_id)
        self._class_lut[key] = int(class_id)
        self._score_of[key] = np.nan if score is None else float(score)
        return key

    def _score(self, key: int) -> float | None:
        score = float(self._score_of[key])
        return None if math.isnan(score) else score

    def _present_keys(self) -> np.ndarray:
        if self._present is None:  # a scan of 65,280 counts: kept until an instance appears or disappears
            self._present = np.flatnonzero(self._counts[PLAIN_KEYS:]) + PLAIN_KEYS
        return self._present

    def _present_key_of(self, instance_id: int) -> int | None:
        keys = self._present_keys()
        hits = keys[self._instance_of[keys] == int(instance_id)]
        return int(hits[0]) if hits.size else None

    def _key_of(self, instance_id: int, *, missing_ok: bool = False) -> int | None:  # type: ignore[return]
        key = self._present_key_of(instance_id)
        if key is None and self._pending is not None and self._pending[0] == instance_id:
            key = self._pending[1]
        if key is None and not missing_ok:
            raise InstanceEditError(f"there is no instance {instance_id} on this image")
        return key

    def _free_id(self) -> int:
        present = self.instance_ids()
        highest = max(present, default=0)
        if self._pending is not None and self._counts[self._pending[1]] == 0:
            highest = max(highest, self._pending[0])
        return highest + 1

    def _box_of(self, key: int) -> tuple[Rect, np.ndarray]:
        rows, cols = np.nonzero(self.keys == key)
        rect = Rect(int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
        return rect, self.keys[rect.slices] == key

    def _give_parts(self, key: int, rect: Rect, labels: np.ndarray, areas: np.ndarray) -> tuple[Rect, tuple[int, ...]]:
        """Every part of ``labels`` but the largest to a new instance (largest first), as one undo step."""
        order = sorted(range(len(areas)), key=lambda i: (-int(areas[i]), i))  # largest first; ties by scan order
        values = self.keys[rect.slices].copy()
        new_ids: list[int] = []
        next_id = self._free_id()
        for part in order[1:]:
            new_key = self._allocate(next_id, int(self._class_of[key]), self._score(key))
            values[labels == part + 1] = new_key
            new_ids.append(next_id)
            next_id += 1
        changed = self._document.replace_region(rect, values)
        return changed, tuple(new_ids)

    def _rewrite(self, moves: dict[int, int]) -> Rect:
        """Move every pixel of each key in ``moves`` to its new key, as one undo step."""
        if not moves:
            return EMPTY_RECT
        lut = np.arange(KEY_LIMIT, dtype=KEY_DTYPE)
        for old, new in moves.items():
            lut[old] = new
        touched = np.isin(self.keys, np.fromiter(moves, dtype=np.int64))
        rows = np.flatnonzero(touched.any(axis=1))
        if rows.size == 0:
            return EMPTY_RECT
        cols = np.flatnonzero(touched.any(axis=0))
        rect = Rect(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
        return self._document.replace_region(rect, lut[self.keys[rect.slices]])

    def _on_keys(self, rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        old_keys, old_counts = np.unique(before, return_counts=True)
        new_keys, new_counts = np.unique(after, return_counts=True)
        self._counts[old_keys] -= old_counts
        appeared = (self._counts[new_keys] == 0).any()
        self._counts[new_keys] += new_counts
        if appeared or (self._counts[old_keys] == 0).any():
            self._present = None
            self._generation += 1
        if self._pending is not None and self._counts[self._pending[1]] > 0:
            self._pending = None
        window = self._classes[rect.slices]
        classes_before = window.copy()
        np.take(self._class_lut, after, out=window)
        for listener in list(self._key_listeners):
            listener(rect, before, after)
        classes_after = self._classes_view[rect.slices]
        for listener in list(self._listeners):
            listener(rect, classes_before, classes_after)


__all__ = ["InstanceEditError", "InstanceLayer", "InstanceRow", "KEY_LIMIT", "OutOfInstanceKeys", "PLAIN_KEYS"]
