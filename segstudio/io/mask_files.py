"""Mask files <-> arrays: raw stored values, value maps, validated class masks and instance masks.

Reading happens in two steps, so every data set's convention can be handled without hand-editing:

1. :func:`read_raw_mask` returns the values *as stored* (:class:`RawMask`): a palette PNG's indices (not its
   colours) with its palette, 8-bit grey, 16-bit grey (``uint16``), Pillow's 32-bit ``I`` (``int32``), a
   single-channel integer TIFF, or a colour-coded mask.
2. :func:`read_class_mask` maps those values to class ids with a :class:`ValueMap` (identity by default;
   ISBI needs ``{0: 1, 255: 0}`` because its membrane, the foreground, is black) and checks every value is a
   class id or the label set's ignore id.

Conventions chosen here:

- **Colour-coded masks** (RGB/RGBA PNG or 8-bit RGB TIFF whose channels differ somewhere) are read as one
  value per pixel, the colour packed as ``0xRRGGBB`` (``int32``), mode ``"RGB"``/``"RGBA"`` (alpha is
  dropped); :meth:`RawMask.colours` unpacks them. Without a value map :func:`read_class_mask` matches them
  against the label set's colours (:meth:`ValueMap.from_label_colours`, the ignore colour included) and
  names any colour it cannot match as ``#rrggbb``. An RGB(A) file whose channels are equal everywhere is
  grey: its values are the grey levels (``uint8``), mode ``"RGB-grey"``/``"RGBA-grey"``.
- **Written class masks** are single-channel palette PNGs (mode ``P``, the label set's palette, 256 entries)
  so any viewer shows them in colour and they read back bit-exact. A label set whose ids do not fit a byte
  (more than 256 classes, or an ignore id above 255) is written as a 16-bit grey PNG instead (no colours,
  same values); the choice depends on the label set, not on the values of one mask, so one data set is
  always written one way. :func:`class_mask_dtype` gives the matching array type (``uint8`` or ``uint16``).
- **Instance masks** are written as grey PNGs of the ids (8-bit when every id fits a byte, else 16-bit),
  and the class (and score) of each instance goes into the same PNG as a compressed international text
  chunk (``iTXt``) with key ``segstudio:instances`` holding JSON
  ``{"version": 1, "classes": {"1": 15, ...}, "scores": {"1": 0.93, ...}}``. One file, written atomically,
  nothing to lose track of; files without the chunk (Penn-Fudan) give every instance ``default_class``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import IGNORE_COLOUR, LabelSet, colour_to_hex
from segstudio.io.atomic import atomic_write
from segstudio.io.errors import FileProblem
from segstudio.io.images import check_readable_file, is_tiff, open_pillow, png_header, read_tiff_page, upright

INSTANCES_TEXT_KEY = "segstudio:instances"
INSTANCES_FORMAT_VERSION = 1

_COLOUR_MODES = frozenset({"RGB", "RGBA"})
_MAX_LUT_RANGE = 1 << 24  # beyond this value range, histogram and map by sorting instead of a lookup table
_LIST_LIMIT = 8  # how many offending values an error message lists


# -- raw values -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RawMask:
    """A mask file's values as stored, before any mapping to class ids.

    ``values``: 2-D ``uint8``, ``uint16`` or ``int32`` (packed ``0xRRGGBB`` for colour-coded masks).
    ``palette``: the file's ``(N, 3)`` ``uint8`` colour table, ``None`` when it has none.
    ``mode``: how it was stored: ``"P"``, ``"L"``, ``"1"``, ``"LA"``, ``"I;16"``, ``"I"``, ``"RGB"``,
    ``"RGBA"``, ``"RGB-grey"``, ``"RGBA-grey"``, ``"F"`` or ``"tiff-<dtype>"`` (e.g. ``"tiff-uint16"``).
    """

    values: np.ndarray
    palette: np.ndarray | None
    mode: str

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return int(self.values.shape[1]), int(self.values.shape[0])

    @property
    def is_colour(self) -> bool:
        """Whether ``values`` are packed ``0xRRGGBB`` colours."""
        return self.mode in _COLOUR_MODES

    def colours(self) -> np.ndarray:
        """``(H, W, 3)`` ``uint8`` RGB of a colour-coded mask."""
        if not self.is_colour:
            raise ValueError(f"a {self.mode!r} mask holds values, not colours")
        packed = self.values.astype(np.uint32, copy=False)
        return np.stack([(packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF], axis=-1).astype(np.uint8)


def read_raw_mask(path: str | Path) -> RawMask:
    """The values of a mask file as stored; :class:`FileProblem` for anything that is not a 2-D mask."""
    return _read_raw(Path(path))[0]


def _read_raw(path: Path) -> tuple[RawMask, Mapping[str, str]]:
    head = check_readable_file(path)
    if is_tiff(head):
        return _read_tiff_mask(path), {}
    header = png_header(path)
    if header is not None and header.bit_depth == 16 and header.colour_type in (2, 6):
        raise FileProblem(path, "16-bit colour PNG masks are not supported; store class ids as grey or palette PNG")
    with open_pillow(path) as image:
        text = dict(getattr(image, "text", {}) or {})
        return _pillow_mask(path, upright(image)), text


def _pillow_mask(path: Path, image: Image.Image) -> RawMask:
    mode = image.mode
    if mode in ("P", "PA"):
        indices = np.asarray(image)
        indices = indices[..., 0] if indices.ndim == 3 else indices
        palette_values = image.getpalette("RGB") or []
        palette = np.array(palette_values, dtype=np.uint8).reshape(-1, 3) if palette_values else None
        return RawMask(_frozen(indices.astype(np.uint8)), palette, mode)
    if mode == "1":
        return RawMask(_frozen(np.asarray(image).astype(np.uint8)), None, mode)
    if mode in ("L", "LA", "La"):
        grey = np.asarray(image)
        return RawMask(_frozen((grey[..., 0] if grey.ndim == 3 else grey).astype(np.uint8)), None, mode)
    if mode.startswith("I;16"):
        return RawMask(_frozen(np.asarray(image).astype(np.uint16)), None, "I;16")
    if mode == "I":
        return RawMask(_frozen(np.asarray(image).astype(np.int32)), None, mode)
    if mode == "F":
        return RawMask(_frozen(_integral(path, np.asarray(image), "32-bit float image")), None, mode)
    if mode in ("RGB", "RGBA", "RGBX"):
        return _colour_mask(np.asarray(image)[..., :3], "RGBA" if mode == "RGBA" else "RGB")
    raise FileProblem(path, f"image mode {mode!r} is not a mask; store class ids as grey or palette PNG")


def _colour_mask(rgb: np.ndarray, mode: str) -> RawMask:
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if np.array_equal(red, green) and np.array_equal(red, blue):
        return RawMask(_frozen(np.ascontiguousarray(red, dtype=np.uint8)), None, f"{mode}-grey")
    packed = (red.astype(np.int32) << 16) | (green.astype(np.int32) << 8) | blue.astype(np.int32)
    return RawMask(_frozen(packed), None, mode)


def _read_tiff_mask(path: Path) -> RawMask:
    pixels, axes, page_count = read_tiff_page(path)
    if page_count > 1:
        raise FileProblem(
            path, f"TIFF has {page_count} pages; a mask must be a single 2-D page (stacks are not supported)"
        )
    squeezed = np.squeeze(pixels) if pixels.ndim > 2 else pixels
    stored = pixels.dtype
    if squeezed.ndim == 3 and squeezed.shape[-1] in (3, 4) and stored == np.uint8 and axes.endswith("S"):
        return _colour_mask(squeezed[..., :3], "RGBA" if squeezed.shape[-1] == 4 else "RGB")
    if squeezed.ndim != 2:
        raise FileProblem(
            path, f"a mask must be one 2-D channel, this TIFF page has shape {pixels.shape} (axes {axes})"
        )
    mode = f"tiff-{np.dtype(stored).name}"
    if stored == np.bool_:
        return RawMask(_frozen(squeezed.astype(np.uint8)), None, mode)
    if stored in (np.uint8, np.uint16):
        return RawMask(_frozen(squeezed.astype(np.dtype(stored).newbyteorder("="))), None, mode)
    if np.issubdtype(stored, np.integer):
        low, high = int(squeezed.min(initial=0)), int(squeezed.max(initial=0))
        info = np.iinfo(np.int32)
        if low < info.min or high > info.max:
            raise FileProblem(path, f"{np.dtype(stored).name} values range {low}..{high}, beyond 32-bit integers")
        return RawMask(_frozen(squeezed.astype(np.int32)), None, mode)
    if np.issubdtype(stored, np.floating):
        return RawMask(_frozen(_integral(path, squeezed, f"{np.dtype(stored).name} TIFF")), None, mode)
    raise FileProblem(path, f"{np.dtype(stored).name} samples cannot hold class ids; a mask must hold integers")


def _integral(path: Path, values: np.ndarray, what: str) -> np.ndarray:
    """Float samples that are whole numbers, as the smallest integer type that holds them; else FileProblem."""
    finite = np.isfinite(values)
    if not finite.all():
        raise FileProblem(path, f"{what} holds NaN or infinite values; a mask must hold class ids")
    fractional = values != np.round(values)
    if fractional.any():
        examples = ", ".join(f"{v:g}" for v in np.unique(values[fractional])[:3])
        raise FileProblem(
            path,
            f"{what} holds non-integer values (e.g. {examples}); this looks like scores or probabilities, "
            "not class ids: threshold or round it first",
        )
    return _smallest_integer_array(values)


def _smallest_integer_array(values: np.ndarray) -> np.ndarray:
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    for dtype in (np.uint8, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype)
    raise ValueError(f"values range {low:g}..{high:g}, beyond 32-bit integers")


def _frozen(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    values.flags.writeable = False
    return values


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
        values = _integer_array(values)
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
        verb = _verb(unmapped, "has", "have")
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


# -- class masks ----------------------------------------------------------------------------------------------


def class_mask_dtype(labels: LabelSet) -> np.dtype:
    """``uint8`` when every class id and the ignore id fit a byte, else ``uint16``."""
    highest = max(labels.num_classes - 1, labels.ignore_index or 0)
    return np.dtype(np.uint8) if highest <= 0xFF else np.dtype(np.uint16)


def read_class_mask(
    path: str | Path,
    labels: LabelSet,
    *,
    value_map: ValueMap | None = None,
    expected_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """A validated class-index mask (:func:`class_mask_dtype`) from any mask file.

    Colour-coded files default to the label set's colours, everything else to the identity map. Raises
    :class:`FileProblem` naming the file for unreadable files, a size other than ``expected_size``
    (``(width, height)``), raw values the value map lacks, and class ids outside the label set.
    """
    path = Path(path)
    raw = read_raw_mask(path)
    if expected_size is not None and raw.size != tuple(expected_size):
        width, height = raw.size
        raise FileProblem(path, f"mask is {width}x{height} but its image is {expected_size[0]}x{expected_size[1]}")
    if value_map is None:
        value_map = ValueMap.from_label_colours(labels) if raw.is_colour else ValueMap.identity()
    present, counts = value_counts(raw.values)
    unmapped = value_map._unmapped(present, counts)
    if unmapped:
        if raw.is_colour:
            raise FileProblem(
                path,
                f"{describe_counts(unmapped, colours=True, noun='colours')} {_verb(unmapped, 'matches', 'match')} "
                "no class colour of the label set; give a value map or a colour table with these colours",
            )
        raise FileProblem(path, value_map.describe_unmapped(unmapped))
    targets = value_map.map_values(present)
    valid = (targets < labels.num_classes) | (targets == (-1 if labels.ignore_index is None else labels.ignore_index))
    if not valid.all():
        bad: dict[int, int] = {}
        for target, count in zip(targets[~valid], counts[~valid], strict=True):
            bad[int(target)] = bad.get(int(target), 0) + int(count)
        after = "" if value_map.is_identity else " after the value map"
        raise FileProblem(path, _outside_labels(bad, labels) + after + _hint(bad, labels, value_map))
    return value_map._apply_known(raw.values, present, class_mask_dtype(labels))


def write_class_mask(path: str | Path, mask: np.ndarray, labels: LabelSet) -> None:
    """Write ``mask`` as a palette PNG in the label set's colours (16-bit grey PNG for wide label sets).

    Checks everything before touching the disk: a 2-D integer mask, values that are class ids or the ignore
    id (:class:`ValueError` otherwise), a ``.png`` name, an existing folder (:class:`FileProblem`). The file
    is replaced atomically: a failed write leaves any existing file as it was.
    """
    path = Path(path)
    values = _integer_array(mask, what="a class mask")
    if path.suffix.lower() != ".png":
        raise ValueError(f"class masks are written as PNG; {path.name!r} should end in .png")
    present, counts = value_counts(values)
    invalid = [(int(v), int(c)) for v, c in zip(present, counts, strict=True) if not labels.is_valid_value(int(v))]
    if invalid:
        raise ValueError(f"cannot write {path}: {_outside_labels(dict(invalid), labels)}")
    if not path.parent.is_dir():
        raise FileProblem(path, f"cannot write: folder {path.parent} does not exist")
    height, width = values.shape
    if class_mask_dtype(labels) == np.uint8:
        image = Image.frombytes("P", (width, height), np.ascontiguousarray(values, dtype=np.uint8).tobytes())
        image.putpalette(labels.palette(256).tobytes(), "RGB")
    else:
        if present.size and int(present[-1]) > 0xFFFF:
            raise ValueError(f"cannot write {path}: value {int(present[-1])} does not fit a 16-bit PNG")
        image = Image.fromarray(np.ascontiguousarray(values, dtype=np.uint16))
    with atomic_write(path) as stream:
        image.save(stream, format="PNG")


def _outside_labels(bad: Mapping[int, int], labels: LabelSet) -> str:
    counts = dict(sorted(bad.items()))
    return f"{describe_counts(counts)} {_verb(counts, 'is', 'are')} outside the label set ({_describe_labels(labels)})"


def _describe_labels(labels: LabelSet) -> str:
    text = f"classes 0..{labels.num_classes - 1}"
    if labels.ignore_index is not None:
        text += f", ignore {labels.ignore_index}"
    return text


def _hint(bad: Mapping[int, int], labels: LabelSet, value_map: ValueMap) -> str:
    if value_map.is_identity and set(bad) == {255} and labels.ignore_index is None:
        if labels.num_classes == 2:
            return (
                "; a 0/255 binary mask needs the value map {0: 0, 255: 1} "
                "(or {0: 1, 255: 0} when black is the foreground)"
            )
        return "; if 255 marks pixels to ignore, set the label set's ignore id to 255"
    return ""


# -- instance masks -------------------------------------------------------------------------------------------


def read_instance_mask(path: str | Path, *, default_class: int = 1) -> InstanceMask:
    """Instance ids from a grey/palette/16-bit mask (0 = background), classes from the file's
    ``segstudio:instances`` text chunk when present, else ``default_class`` for every instance."""
    path = Path(path)
    raw, text = _read_raw(path)
    if raw.is_colour:
        raise FileProblem(path, "colour-coded instance masks are not supported; store instance ids as grey values")
    values = raw.values
    if values.size and np.issubdtype(values.dtype, np.signedinteger) and int(values.min()) < 0:
        raise FileProblem(path, f"instance ids must be 0 or positive, found {int(values.min())}")
    payload = text.get(INSTANCES_TEXT_KEY)
    try:
        if payload is None:
            return InstanceMask.from_ids(values, default_class)
        classes, scores = _parse_instance_payload(payload)
        return InstanceMask(values, classes, scores)
    except ValueError as exc:
        raise FileProblem(path, f"instance classes do not fit the mask: {exc}") from exc


def read_tagged_instance_mask(path: str | Path) -> InstanceMask | None:
    """The instances of a mask file segstudio wrote as instances (its ``segstudio:instances`` chunk tells), None for
    any other mask file (a class mask, or a foreign instance mask whose classes the file does not say)."""
    path = Path(path)
    raw, text = _read_raw(path)
    payload = text.get(INSTANCES_TEXT_KEY)
    if payload is None:
        return None
    if raw.is_colour:
        raise FileProblem(path, "colour-coded instance masks are not supported; store instance ids as grey values")
    try:
        classes, scores = _parse_instance_payload(payload)
        return InstanceMask(raw.values, classes, scores)
    except ValueError as exc:
        raise FileProblem(path, f"instance classes do not fit the mask: {exc}") from exc


def write_instance_mask(path: str | Path, instances: InstanceMask) -> None:
    """Write the ids as a grey PNG (8- or 16-bit) with classes and scores in a ``segstudio:instances`` chunk."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"instance masks are written as PNG; {path.name!r} should end in .png")
    highest = int(instances.ids.max(initial=0))
    if highest > 0xFFFF:
        raise ValueError(f"cannot write {path}: instance id {highest} does not fit a 16-bit PNG (at most 65535)")
    if not path.parent.is_dir():
        raise FileProblem(path, f"cannot write: folder {path.parent} does not exist")
    dtype = np.uint8 if highest <= 0xFF else np.uint16
    image = Image.fromarray(np.ascontiguousarray(instances.ids, dtype=dtype))
    payload: dict[str, object] = {
        "version": INSTANCES_FORMAT_VERSION,
        "classes": {str(k): v for k, v in instances.classes.items()},
    }
    if instances.scores is not None:
        payload["scores"] = {str(k): v for k, v in instances.scores.items()}
    info = PngInfo()
    info.add_itxt(INSTANCES_TEXT_KEY, json.dumps(payload, separators=(",", ":")), zip=True)
    with atomic_write(path) as stream:
        image.save(stream, format="PNG", pnginfo=info)


def _parse_instance_payload(payload: str) -> tuple[dict[int, int], dict[int, float] | None]:
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the {INSTANCES_TEXT_KEY} chunk is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
        raise ValueError(f"the {INSTANCES_TEXT_KEY} chunk has no 'classes' table")
    version = data.get("version", INSTANCES_FORMAT_VERSION)
    if version != INSTANCES_FORMAT_VERSION:
        raise ValueError(f"the {INSTANCES_TEXT_KEY} chunk is version {version}; this program reads version 1")
    classes = {int(k): int(v) for k, v in data["classes"].items()}
    scores_data = data.get("scores")
    scores = None if scores_data is None else {int(k): float(v) for k, v in scores_data.items()}
    return classes, scores


# -- value histograms and messages ----------------------------------------------------------------------------


def value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of an integer array (ascending, ``int64``) and how many pixels hold each."""
    values = _integer_array(values, require_2d=False)
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


def _verb(items: object, one: str, many: str) -> str:
    return one if len(items) == 1 else many  # type: ignore[arg-type]


def _smallest_dtype_for(targets: np.ndarray) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.int32):
        if not targets.size or _fits(targets, np.dtype(dtype)):
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _fits(targets: np.ndarray, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    return bool(int(targets.min()) >= info.min and int(targets.max()) <= info.max)


def _integer_array(values: np.ndarray, *, what: str = "mask values", require_2d: bool = True) -> np.ndarray:
    array = np.asarray(values)
    if require_2d and array.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (height, width), got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.view(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must be integers, got dtype {array.dtype}")
    return array
