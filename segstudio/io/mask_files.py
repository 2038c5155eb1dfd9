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
- **Too large to read**: a mask whose header declares more than its decoder decodes or the memory can hold is
  refused before decoding with :class:`~segstudio.io.memory_budget.ImageTooLarge` (the file, its width x height,
  the bytes needed and available); the rule is :mod:`segstudio.io.memory_budget`'s, as for images.
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
from segstudio.core.labels import LabelSet
from segstudio.core.atomic import atomic_write
from segstudio.core.errors import FileProblem
from segstudio.core.value_map import ValueMap, agreeing_verb, describe_counts, integer_array, value_counts
from segstudio.io.images import (
    check_readable_file,
    check_size,
    is_tiff,
    open_pillow,
    png_header,
    read_tiff_page,
    upright,
)
from segstudio.io.memory_budget import ran_out

INSTANCES_TEXT_KEY = "segstudio:instances"
INSTANCES_FORMAT_VERSION = 1

_COLOUR_MODES = frozenset({"RGB", "RGBA"})


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
    header = None if is_tiff(head) else png_header(path)
    if header is not None and header.bit_depth == 16 and header.colour_type in (2, 6):
        raise FileProblem(path, "16-bit colour PNG masks are not supported; store class ids as grey or palette PNG")
    # Past its decoder's limit or the memory available: refused before a pixel is decoded (memory_budget's rule).
    declared = check_size(path, head, expand_palette=False)
    try:
        if is_tiff(head):
            return _read_tiff_mask(path), {}
        with open_pillow(path) as image:
            text = dict(getattr(image, "text", {}) or {})
            return _pillow_mask(path, upright(image)), text
    except MemoryError:
        pass  # leaving the handler drops the traceback, and the half-decoded pixels its frames hold, before reporting
    raise ran_out(path, declared)


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

    Colour-coded files default to the label set's colours, everything else to the identity map; an instance PNG
    segstudio wrote (:func:`write_instance_mask`) reads as the classes of its objects. Raises
    :class:`FileProblem` naming the file for unreadable files, a size other than ``expected_size``
    (``(width, height)``), raw values the value map lacks, and class ids outside the label set.
    """
    return read_classes_and_instances(path, labels, value_map=value_map, expected_size=expected_size)[0]


def read_classes_and_instances(
    path: str | Path,
    labels: LabelSet,
    *,
    value_map: ValueMap | None = None,
    expected_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, InstanceMask | None]:
    """:func:`read_class_mask` and, for an instance PNG segstudio wrote, its instances too: one read of the file."""
    path = Path(path)
    raw, text = _read_raw(path)
    if expected_size is not None and raw.size != tuple(expected_size):
        width, height = raw.size
        raise FileProblem(path, f"mask is {width}x{height} but its image is {expected_size[0]}x{expected_size[1]}")
    instances = _tagged_instances(path, raw, text)
    if instances is not None:  # segstudio's own instance PNG: its ids are objects, the chunk says their classes
        raw = RawMask(instances.to_class_mask(np.int32), None, raw.mode)
        value_map = ValueMap.identity()
    if value_map is None:
        value_map = ValueMap.from_label_colours(labels) if raw.is_colour else ValueMap.identity()
    present, counts = value_counts(raw.values)
    unmapped = value_map._unmapped(present, counts)
    if unmapped:
        if raw.is_colour:
            raise FileProblem(
                path,
                f"{describe_counts(unmapped, colours=True, noun='colours')} {agreeing_verb(unmapped, 'matches', 'match')} "
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
    return value_map._apply_known(raw.values, present, class_mask_dtype(labels)), instances


def write_class_mask(path: str | Path, mask: np.ndarray, labels: LabelSet) -> None:
    """Write ``mask`` as a palette PNG in the label set's colours (16-bit grey PNG for wide label sets).

    Checks everything before touching the disk: a 2-D integer mask, values that are class ids or the ignore
    id (:class:`ValueError` otherwise), a ``.png`` name, an existing folder (:class:`FileProblem`). The file
    is replaced atomically: a failed write leaves any existing file as it was.
    """
    path = Path(path)
    values = integer_array(mask, what="a class mask")
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
    return f"{describe_counts(counts)} {agreeing_verb(counts, 'is', 'are')} outside the label set ({_describe_labels(labels)})"


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
    return read_mask_and_instances(path)[1]


def read_mask_and_instances(path: str | Path) -> tuple[RawMask, InstanceMask | None]:
    """A mask file's stored values and, when segstudio wrote it as instances, its instances: one read."""
    path = Path(path)
    raw, text = _read_raw(path)
    return raw, _tagged_instances(path, raw, text)


def _tagged_instances(path: Path, raw: RawMask, text: Mapping[str, str]) -> InstanceMask | None:
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
