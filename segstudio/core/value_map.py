"""Stored mask values -> class ids (:class:`ValueMap`), and the value histograms and messages around it.

Pure numpy: the value map is part of a data set's description (the project file stores it), of reading a mask
file (``segstudio.io.mask_files``) and of training samples (``segstudio.models.training_data``), so it lives
below all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from segstudio.core.labels import IGNORE_COLOUR, LabelSet, colour_to_hex

_MAX_LUT_RANGE = 1 << 24  # beyond this value range, histogram and map by sorting instead of a lookup table
_LIST_LIMIT = 8  # how many offending values an error message lists


# -- value maps -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueMap:
    """Stored mask values -> class ids.

    ``pairs`` are ``(raw value, class id)``, sorted by raw value. With ``keep_unlisted`` every value not
    listed maps to itself (``identity()`` is the empty map that keeps everything); without it an unlisted
    value is an error. Examples: ISBI ``ValueMap.from_pairs({0: 1, 255: 0})`` (membrane, stored black, is
    class 1); a common 0/255 binary mask ``ValueMap.binary()`` = ``{0: 0, 255: 1}``; VOC-style "keep the
    ids, but 255 is ignore id 21" ``ValueMap.from_pairs({255: 21}, keep_unlisted=True)``.
    """

    pairs: tuple[tuple[int, int], ...] = ()
    keep_unlisted: bool = False

    def __post_init__(self) -> None:
        raw = self.pairs.items() if isinstance(self.pairs, Mapping) else self.pairs
        cleaned: dict[int, int] = {}
        for pair in raw:
            try:
                value, target = pair
                value_int, target_int = _as_int(value), _as_int(target)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"a value map entry must be (raw value, class id) integers, got {pair!r}") from exc
            if target_int < 0:
                raise ValueError(f"value {value_int} maps to {target_int}; class ids are 0 or more")
            if value_int in cleaned and cleaned[value_int] != target_int:
                raise ValueError(f"value {value_int} is mapped twice ({cleaned[value_int]} and {target_int})")
            cleaned[value_int] = target_int
        object.__setattr__(self, "pairs", tuple(sorted(cleaned.items())))

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def identity(cls) -> ValueMap:
        """Every stored value is its own class id."""
        return cls((), keep_unlisted=True)

    @classmethod
    def from_pairs(cls, mapping: Mapping[int, int], *, keep_unlisted: bool = False) -> ValueMap:
        return cls(tuple((int(k), int(v)) for k, v in mapping.items()), keep_unlisted)

    @classmethod
    def binary(cls, foreground: int = 255, background: int = 0) -> ValueMap:
        """A two-value mask: ``background`` -> class 0, ``foreground`` -> class 1 (ISBI: ``binary(foreground=0,
        background=255)``)."""
        if foreground == background:
            raise ValueError(f"foreground and background are both stored as {foreground}")
        return cls(((background, 0), (foreground, 1)))

    @classmethod
    def from_label_colours(cls, labels: LabelSet) -> ValueMap:
        """Packed ``0xRRGGBB`` colours (see :class:`RawMask`) -> class ids, by the label set's colours."""
        pairs: dict[int, int] = {}
        entries = [(c.colour, c.id, c.name) for c in labels.classes]
        if labels.ignore_index is not None:
            entries.append((IGNORE_COLOUR, labels.ignore_index, labels.ignore_name))
        names: dict[int, str] = {}
        for colour, class_id, name in entries:
            packed = (colour[0] << 16) | (colour[1] << 8) | colour[2]
            if packed in pairs:
                raise ValueError(
                    f"classes {names[packed]!r} and {name!r} share colour {colour_to_hex(colour)}; "
                    "a colour-coded mask cannot tell them apart"
                )
            pairs[packed] = class_id
            names[packed] = name
        return cls(tuple(pairs.items()))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ValueMap:
        """From :meth:`to_mapping`'s structure; keys may be decimal strings, integers or ``"#rrggbb"``."""
        raw_values = data.get("values", {})
        if not isinstance(raw_values, Mapping):
            raise ValueError("'values' must be a table of raw value -> class id")
        keep = data.get("keep_unlisted", False)
        if not isinstance(keep, bool):
            raise ValueError(f"'keep_unlisted' must be true or false, got {keep!r}")
        pairs = []
        for key, target in raw_values.items():
            if isinstance(target, bool) or not isinstance(target, int):
                raise ValueError(f"value {key!r} maps to {target!r}; class ids are integers")
            pairs.append((_parse_raw_key(key), target))
        return cls(tuple(pairs), keep)

    def to_mapping(self) -> dict[str, object]:
        """A plain structure for JSON/TOML: ``{"values": {"0": 1, "255": 0}, "keep_unlisted": false}``."""
        return {"values": {str(k): v for k, v in self.pairs}, "keep_unlisted": self.keep_unlisted}

    # -- queries ------------------------------------------------------------------------------------------

    @property
    def is_identity(self) -> bool:
        return self.keep_unlisted and all(k == v for k, v in self.pairs)

    def as_dict(self) -> dict[int, int]:
        return dict(self.pairs)

    def unmapped_counts(self, values: np.ndarray) -> dict[int, int]:
        """Raw values present in ``values`` that this map has no entry for, with their pixel counts."""
        present, counts = value_counts(values)
        return self._unmapped(present, counts)

    def apply(self, values: np.ndarray, dtype: np.dtype | type | None = None) -> np.ndarray:
        """Class ids for ``values`` (vectorised through a lookup table).

        ``dtype`` defaults to the smallest of ``uint8``/``uint16``/``int32`` holding every result. Raises
        :class:`ValueError` listing the values (and pixel counts) the map has no entry for. The identity map
        returns ``values`` itself when no ``dtype`` is asked for.
        """
        values = integer_array(values)
        present, counts = value_counts(values)
        unmapped = self._unmapped(present, counts)
        if unmapped:
            raise ValueError(self.describe_unmapped(unmapped))
        return self._apply_known(values, present, dtype)

    def describe_unmapped(self, unmapped: Mapping[int, int]) -> str:
        """``"values 7 (2 px), 9 (1 px) have no entry in the value map (it maps 0, 255)"``."""
        listed = ", ".join(str(k) for k, _ in self.pairs[:_LIST_LIMIT]) or "nothing"
        if len(self.pairs) > _LIST_LIMIT:
            listed += f" and {len(self.pairs) - _LIST_LIMIT} more"
        verb = agreeing_verb(unmapped, "has", "have")
        return f"{describe_counts(unmapped)} {verb} no entry in the value map (it maps {listed})"

    def map_values(self, present: np.ndarray) -> np.ndarray:
        """The class id of each raw value in ``present`` (values without an entry map to themselves)."""
        present = np.asarray(present, dtype=np.int64)
        result = present.copy()
        if self.pairs:
            keys = np.array([k for k, _ in self.pairs], dtype=np.int64)
            targets = np.array([v for _, v in self.pairs], dtype=np.int64)
            where = np.searchsorted(keys, present)
            where = np.clip(where, 0, len(keys) - 1)
            hit = keys[where] == present
            result[hit] = targets[where[hit]]
        return result

    def _unmapped(self, present: np.ndarray, counts: np.ndarray) -> dict[int, int]:
        if self.keep_unlisted:
            return {}
        keys = {k for k, _ in self.pairs}
        return {int(v): int(c) for v, c in zip(present, counts, strict=True) if int(v) not in keys}

    def _apply_known(self, values: np.ndarray, present: np.ndarray, dtype: np.dtype | type | None) -> np.ndarray:
        targets = self.map_values(present)
        if dtype is None:
            if self.is_identity:
                return values
            dtype = _smallest_dtype_for(targets)
        out_dtype = np.dtype(dtype)
        if targets.size and not _fits(targets, out_dtype):
            raise ValueError(f"class ids up to {int(targets.max())} do not fit in {out_dtype}")
        if present.size == 0:
            return np.zeros(values.shape, dtype=out_dtype)
        low, high = int(present[0]), int(present[-1])
        if values.dtype in (np.uint8, np.uint16, np.bool_) or _dense(low, high, values.size):
            offset = 0 if values.dtype in (np.uint8, np.uint16, np.bool_) else low
            lut = np.zeros(high - offset + 1, dtype=out_dtype)
            lut[present - offset] = targets
            index = values if offset == 0 else values.astype(np.int64) - offset
            return lut[index]
        # Sparse, wide values (packed colours spread over 2**24): map through the sorted present values.
        where = np.searchsorted(present, values)
        return targets.astype(out_dtype)[where]


def _parse_raw_key(key: object) -> int:
    if isinstance(key, bool):
        raise ValueError(f"raw value {key!r} is not an integer")
    if isinstance(key, int):
        return key
    if isinstance(key, str):
        text = key.strip()
        if text.startswith("#"):
            digits = text[1:]
            if len(digits) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
                raise ValueError(f"raw colour {key!r} is not #rrggbb")
            return int(digits, 16)
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"raw value {key!r} is neither an integer nor #rrggbb") from None
    raise ValueError(f"raw value {key!r} is neither an integer nor #rrggbb")


def _as_int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("booleans are not ids")
    if isinstance(value, (int, np.integer)):
        return int(value)
    raise TypeError(f"{value!r} is not an integer")


# -- value histograms and messages ----------------------------------------------------------------------------


def value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of an integer array (ascending, ``int64``) and how many pixels hold each."""
    values = integer_array(values, require_2d=False)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    flat = values.ravel()
    if values.dtype in (np.uint8, np.bool_):
        counts = np.bincount(flat.view(np.uint8) if values.dtype == np.bool_ else flat, minlength=256)
        present = np.flatnonzero(counts)
        return present.astype(np.int64), counts[present].astype(np.int64)
    low, high = int(flat.min()), int(flat.max())
    if _dense(low, high, flat.size):
        counts = np.bincount((flat.astype(np.int64) - low) if low else flat, minlength=high - low + 1)
        present = np.flatnonzero(counts)
        return (present + low).astype(np.int64), counts[present].astype(np.int64)
    present, counts = np.unique(flat, return_counts=True)
    return present.astype(np.int64), counts.astype(np.int64)


def _dense(low: int, high: int, size: int) -> bool:
    """Whether a table over ``low..high`` is cheap next to sorting ``size`` values (not for packed colours)."""
    return high - low < min(_MAX_LUT_RANGE, max(1 << 16, 2 * size))


def describe_counts(counts: Mapping[int, int], *, colours: bool = False, noun: str = "values") -> str:
    """``"values 14 (1,203 px), 200 (5 px)"``; colours as ``#rrggbb``; long lists end in ``"and N more"``."""
    items = list(counts.items())

    def show(value: int) -> str:
        return f"#{value:06x}" if colours else str(value)

    shown = ", ".join(f"{show(v)} ({c:,} px)" for v, c in items[:_LIST_LIMIT])
    if len(items) > _LIST_LIMIT:
        shown += f" and {len(items) - _LIST_LIMIT} more"
    if len(items) == 1:
        noun = noun[:-1] if noun.endswith("s") else noun
    return f"{noun} {shown}"


def agreeing_verb(items: object, one: str, many: str) -> str:
    return one if len(items) == 1 else many  # type: ignore[arg-type]


def _smallest_dtype_for(targets: np.ndarray) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.int32):
        if not targets.size or _fits(targets, np.dtype(dtype)):
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _fits(targets: np.ndarray, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    return bool(int(targets.min()) >= info.min and int(targets.max()) <= info.max)


def integer_array(values: np.ndarray, *, what: str = "mask values", require_2d: bool = True) -> np.ndarray:
    array = np.asarray(values)
    if require_2d and array.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (height, width), got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.view(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must be integers, got dtype {array.dtype}")
    return array
