"""Instance masks: one id per object (0 = background), and the class of each object.

Penn-Fudan's ``PedMasks`` and VOC's ``SegmentationObject`` store the ids only; the class of each id lives
elsewhere (Penn-Fudan: every instance is a pedestrian; VOC: the class mask at the same pixels). An
:class:`InstanceMask` keeps both together, so it can always be turned into a class-index mask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import isfinite
from types import MappingProxyType

import numpy as np

# Beyond this many ids a lookup table would cost more than sorting the present ids.
_MAX_LUT_LENGTH = 1 << 24


@dataclass(frozen=True, eq=False)
class InstanceMask:
    """Instance ids per pixel and the class of each instance.

    ``ids`` is a 2-D integer array: 0 is background, ``1..K`` (not necessarily contiguous) are instances.
    It is stored read-only; a writable input array is copied first, so later edits by the caller cannot
    change this value. ``classes`` maps every instance id that occurs in ``ids`` to its class id (entries for
    ids that no longer occur are allowed and kept). ``scores`` optionally maps instance ids to a confidence
    (a model's output); every scored id must have a class.
    """

    ids: np.ndarray
    classes: Mapping[int, int]
    scores: Mapping[int, float] | None = None

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids)
        if ids.ndim != 2:
            raise ValueError(f"instance ids must be a 2-D array, got shape {ids.shape}")
        if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"instance ids must be integers, got dtype {ids.dtype}")
        if ids.flags.writeable:
            ids = ids.copy()
            ids.flags.writeable = False
        if ids.size and np.issubdtype(ids.dtype, np.signedinteger) and int(ids.min()) < 0:
            raise ValueError(f"instance ids must be 0 (background) or positive, found {int(ids.min())}")
        classes = _int_mapping(self.classes, "classes")
        for instance, class_id in classes.items():
            if instance <= 0:
                raise ValueError(f"instance ids in 'classes' must be positive (0 is background), got {instance}")
            if class_id < 0:
                raise ValueError(f"instance {instance} has class {class_id}; class ids are 0 or more")
        present = _present_ids(ids)
        missing = [int(i) for i in present if int(i) not in classes]
        if missing:
            raise ValueError(f"instances {_short_list(missing)} have no class; give a class for every id in the mask")
        scores = None
        if self.scores is not None:
            raw_scores = dict(self.scores.items()) if isinstance(self.scores, Mapping) else dict(self.scores)
            parsed: dict[int, float] = {}
            for instance, score in sorted(raw_scores.items()):
                key, value = int(instance), float(score)
                if key not in classes:
                    raise ValueError(f"instance {key} has a score but no class")
                if not isfinite(value):
                    raise ValueError(f"instance {key} has a score of {value}; scores must be finite")
                parsed[key] = value
            scores = MappingProxyType(parsed)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "classes", MappingProxyType(classes))
        object.__setattr__(self, "scores", scores)

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_ids(
        cls, ids: np.ndarray, default_class: int = 1, *, scores: Mapping[int, float] | None = None
    ) -> InstanceMask:
        """Every instance in ``ids`` gets ``default_class`` (Penn-Fudan: all pedestrians, class 1)."""
        array = np.asarray(ids)
        if array.ndim != 2:
            raise ValueError(f"instance ids must be a 2-D array, got shape {array.shape}")
        if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"instance ids must be integers, got dtype {array.dtype}")
        if array.size and np.issubdtype(array.dtype, np.signedinteger) and int(array.min()) < 0:
            raise ValueError(f"instance ids must be 0 (background) or positive, found {int(array.min())}")
        classes = {int(i): int(default_class) for i in _present_ids(array)}
        return cls(array, classes, scores)

    # -- queries ------------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        return self.ids.shape  # type: ignore[return-value]

    @property
    def instance_ids(self) -> tuple[int, ...]:
        """The nonzero ids that occur in the mask, ascending."""
        return tuple(int(i) for i in _present_ids(self.ids))

    @property
    def num_instances(self) -> int:
        return len(self.instance_ids)

    def class_of(self, instance_id: int) -> int:
        try:
            return self.classes[int(instance_id)]
        except KeyError:
            raise KeyError(f"no instance with id {instance_id}") from None

    def to_class_mask(self, dtype: np.dtype | type = np.uint8) -> np.ndarray:
        """A class-index mask: background 0, each instance's pixels its class id."""
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.integer):
            raise ValueError(f"a class mask needs an integer dtype, got {dtype}")
        highest_class = max(self.classes.values(), default=0)
        if highest_class > np.iinfo(dtype).max:
            raise ValueError(f"class id {highest_class} does not fit in {dtype}; use a wider dtype")
        ids = self.ids
        highest_id = int(ids.max(initial=0))
        if highest_id < _MAX_LUT_LENGTH:
            lut = np.zeros(highest_id + 1, dtype=dtype)
            for instance, class_id in self.classes.items():
                if instance <= highest_id:
                    lut[instance] = class_id
            return lut[ids]
        present, inverse = np.unique(ids, return_inverse=True)
        targets = np.array([0 if i == 0 else self.classes[int(i)] for i in present], dtype=dtype)
        return targets[inverse].reshape(ids.shape)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InstanceMask):
            return NotImplemented
        return (
            self.ids.shape == other.ids.shape
            and np.array_equal(self.ids, other.ids)
            and dict(self.classes) == dict(other.classes)
            and (None if self.scores is None else dict(self.scores))
            == (None if other.scores is None else dict(other.scores))
        )

    __hash__ = None  # type: ignore[assignment]  # holds an array: not hashable


def _int_mapping(value: Mapping[int, int] | Iterable[tuple[int, int]], what: str) -> dict[int, int]:
    items = value.items() if isinstance(value, Mapping) else value
    result: dict[int, int] = {}
    for pair in items:
        try:
            key, target = pair
            key_int, target_int = int(key), int(target)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"'{what}' must map integer ids to integer ids, got entry {pair!r}") from exc
        if key_int in result and result[key_int] != target_int:
            raise ValueError(f"'{what}' gives instance {key_int} two classes ({result[key_int]} and {target_int})")
        result[key_int] = target_int
    return dict(sorted(result.items()))


def _present_ids(ids: np.ndarray) -> np.ndarray:
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    highest = int(ids.max())
    if highest < _MAX_LUT_LENGTH and ids.dtype.itemsize <= 8:
        counts = np.bincount(ids.ravel().astype(np.intp, copy=False), minlength=highest + 1)
        present = np.flatnonzero(counts)
    else:
        present = np.unique(ids)
    return present[present != 0]


def _short_list(values: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown if len(values) <= limit else f"{shown} and {len(values) - limit} more"
