"""What a folder's mask values mean: the label set and the value map, decided from the values the masks hold.

Detection (a sample of a data set's masks, :mod:`segstudio.io.dataset_detect`) and ``segstudio evaluate``
(every mask of a folder) both decide here, so a folder's masks read the same way in the app and on the command
line. The rules, each written down as a note:

- A mask with more than :data:`MAX_CLASS_VALUES` distinct values is an image or a probability map saved as a
  mask: it is named and left out, never turned into tens of thousands of classes.
- A value far above the values the other masks use, on few pixels in few files, is a stray value (a painting
  slip, a resampling artefact): it is named with its file and pixel count and does not widen the label set.
- Two values ``{0, X}`` are a binary mask whatever X is (0/255, 0/65535 ...): two classes, and the value
  covering fewer pixels is the foreground (ISBI stores its membrane, the foreground, as 0).
- Otherwise the values are class ids ``0..max``, 255 being the ignore id when the others stay below 128.

Also here: finding the project file that describes a mask folder (:func:`find_mask_source`), and how to read a
folder of predictions next to the ground truth (:func:`prediction_reading`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from segstudio.core.labels import LabelSet, voc_palette
from segstudio.io.dataset_spec import Layout, MaskRole, MaskSource
from segstudio.core.errors import FileProblem
from segstudio.core.value_map import ValueMap, describe_counts, value_counts
from segstudio.io.mask_files import RawMask
from segstudio.io.project_file import find_project_file, read_project_file

# A class mask with more distinct values than a byte holds is not plausible: it is an image or a score map.
MAX_CLASS_VALUES = 256
# A value is rare when it covers at most this share of all pixels looked at ...
RARE_PIXEL_SHARE = 0.001
# ... and appears in at most this share of the masks (at least one mask).
RARE_FILE_SHARE = 0.1
# Where "predict all" writes its masks (palette PNGs of class ids); the same name as
# ``segstudio.app.project_predictions.PREDICTIONS_FOLDER``, which io may not import.
SEGSTUDIO_PREDICTIONS_FOLDER = "segstudio-predictions"
_NAMED_FILES = 10  # per-file notes listed before "and N more masks"


@dataclass(frozen=True, eq=False)
class MaskValues:
    """One mask file's stored values and the pixels holding each: all the convention is decided from.

    ``values``/``counts`` are empty for a mask with more than :data:`MAX_CLASS_VALUES` distinct values (only
    ``distinct`` is kept: a 16-bit image's 65,536 counts per file would add up over a big folder).
    """

    name: str  # how notes name the file (a path relative to the dataset, or a file name)
    values: np.ndarray  # distinct stored values, ascending, int64
    counts: np.ndarray  # pixels per value
    distinct: int
    palette: np.ndarray | None = None
    is_colour: bool = False

    @classmethod
    def of(cls, name: str, raw: RawMask) -> MaskValues:
        values, counts = value_counts(raw.values)
        if len(values) > MAX_CLASS_VALUES:
            empty = np.zeros(0, dtype=np.int64)
            return cls(name, empty, empty, len(values), raw.palette, raw.is_colour)
        return cls(name, values, counts, len(values), raw.palette, raw.is_colour)

    @classmethod
    def from_counts(cls, name: str, counts: dict[int, int]) -> MaskValues:
        """From ``{value: pixels}`` (tests, and masks already counted)."""
        values = np.array(sorted(counts), dtype=np.int64)
        return cls(name, values, np.array([counts[int(v)] for v in values], dtype=np.int64), len(values))

    @property
    def is_class_mask(self) -> bool:
        """Whether it holds few enough distinct values to be a class mask at all."""
        return self.distinct <= MAX_CLASS_VALUES


@dataclass(frozen=True)
class MaskConvention:
    """How to read a folder's masks: its label set, the value map (None: the values are the class ids, or
    colours matched to the label set's colours) and the notes saying why."""

    labels: LabelSet
    value_map: ValueMap | None
    notes: tuple[str, ...] = ()


def not_class_mask_notes(masks: Sequence[MaskValues]) -> list[str]:
    """A note per mask holding too many distinct values to be a class mask (the first few, then a count)."""
    refused = [m for m in masks if not m.is_class_mask]
    notes = [
        f"{m.name}: holds {m.distinct:,} distinct values: this looks like an image or a probability map, not a class "
        "mask; left out when deciding the classes"
        for m in refused[:_NAMED_FILES]
    ]
    if len(refused) > _NAMED_FILES:
        notes.append(f"... and {len(refused) - _NAMED_FILES} more masks with over {MAX_CLASS_VALUES} distinct values")
    return notes


def convention_from_masks(
    masks: Sequence[MaskValues],
    *,
    layout: Layout | None = None,
    named: LabelSet | None = None,
    colour_table: np.ndarray | None = None,
    ignore_index: int | None = None,
) -> MaskConvention:
    """The label set and value map that fit ``masks`` (a data set's sample, or every mask of a folder).

    ``named``: classes from a label file found beside the data; ``colour_table``: a colour table image's
    colours (CamVid's ``colour_lut.png``); ``ignore_index``: a value the caller knows is "ignore" (never a
    class, never a stray value).
    """
    notes = not_class_mask_notes(masks)
    usable = [m for m in masks if m.is_class_mask and m.values.size]
    if not usable:
        notes.append("no mask could be read as a class mask: two classes (background, class 1) until you name them")
        return MaskConvention(named or LabelSet.with_count(2, ignore_index=ignore_index), None, tuple(notes))
    palette = next((m.palette for m in usable if m.palette is not None), None)

    if palette is not None and len(palette) >= 21 and np.array_equal(palette[:21], voc_palette()[:21]):
        if named is not None and (named.ignore_index == 255 or named.num_classes == 21):
            notes.append("masks use the VOC palette; class names from the label file")
            labels = LabelSet.from_palette(voc_palette(), named.num_classes, names=named.names, ignore_index=255, ignore_name="boundary")
            return MaskConvention(labels, None, tuple(notes))
        notes.append("masks use the VOC palette: PASCAL VOC's 21 classes, 255 = boundary (ignored)")
        return MaskConvention(LabelSet.voc(), None, tuple(notes))

    pixels = _pixels_per_value(usable)
    strays = _stray_values(usable, pixels, ignore_index, notes)
    values = {v: c for v, c in pixels.items() if v not in strays}
    labels, value_map = _labels_from_values(values, usable, palette, layout, named, colour_table, ignore_index, notes)
    return MaskConvention(labels, value_map, tuple(notes))


# -- stray values ---------------------------------------------------------------------------------------------


def _pixels_per_value(masks: Sequence[MaskValues]) -> dict[int, int]:
    pooled: dict[int, int] = {}
    for mask in masks:
        for value, count in zip(mask.values.tolist(), mask.counts.tolist(), strict=True):
            pooled[value] = pooled.get(value, 0) + count
    return pooled


def _stray_values(masks: Sequence[MaskValues], pixels: dict[int, int], ignore_index: int | None, notes: list[str]) -> set[int]:
    """Values far above the body of values (those covering real area, or found in many masks) that are rare.

    Two values are a binary mask, never a stray; 255 (the usual ignore id) and the caller's ignore id are left
    to the ignore rule: neither widens the classes.
    """
    if len(pixels) < 3:
        return set()
    files: dict[int, int] = {}
    for mask in masks:
        for value in mask.values.tolist():
            files[value] = files.get(value, 0) + 1
    total = sum(pixels.values())
    most_files = max(1, int(len(masks) * RARE_FILE_SHARE))
    exempt = {255, ignore_index}
    rare = {v for v, c in pixels.items() if c <= RARE_PIXEL_SHARE * total and files[v] <= most_files and v not in exempt}
    body = [v for v in pixels if v not in rare and v not in exempt]
    if not body:
        return set()
    top = max(body)
    reach = max(2 * top, top + 8)  # a rare class just above the others is plausible (a small object class)
    strays = {v for v in rare if v > reach}
    if not strays:
        return strays
    flagged = [m for m in masks if strays.intersection(m.values.tolist())]
    for mask in flagged[:_NAMED_FILES]:
        found = {v: c for v, c in zip(mask.values.tolist(), mask.counts.tolist(), strict=True) if v in strays}
        notes.append(
            f"{mask.name}: {describe_counts(found)} far above the values the masks use (0..{top}), on few pixels: "
            "a stray value, not a class; fix this mask"
        )
    if len(flagged) > _NAMED_FILES:
        notes.append(f"... and {len(flagged) - _NAMED_FILES} more masks with stray values")
    return strays


# -- values -> label set and value map ------------------------------------------------------------------------


def _labels_from_values(
    pixels: dict[int, int],
    masks: Sequence[MaskValues],
    palette: np.ndarray | None,
    layout: Layout | None,
    named: LabelSet | None,
    colour_table: np.ndarray | None,
    ignore_index: int | None,
    notes: list[str],
) -> tuple[LabelSet, ValueMap | None]:
    value_set = set(pixels)
    if value_set <= {0, 255} and 255 in value_set and ignore_index != 255:
        return _binary_labels(pixels, 255, named, notes)
    segnet = layout is Layout.SEGNET and max(value_set) <= 11 and named is None
    if len(value_set) == 2 and 0 in value_set and ignore_index not in value_set and not segnet:
        high = max(value_set)
        named_covers = named is not None and high < named.num_classes
        if high >= 2 and not named_covers and (palette is None or high == 255):
            return _binary_labels(pixels, high, named, notes)

    levels = sorted(value_set - {ignore_index})
    if palette is None and named is None and not segnet and _grey_levels(levels):
        # 0/127/255 or 0/85/170/255: classes drawn as evenly spaced greys for a viewer, not 256 class ids (and 255
        # is the last level here, not an ignore id).
        return _sparse_labels(levels, masks, ignore_index, notes)
    ignore = ignore_index
    if ignore is None and 255 in value_set and max(value_set - {255}, default=0) < 128:
        ignore = 255
    class_values = sorted(value_set - {ignore})
    if len(class_values) > MAX_CLASS_VALUES:
        notes.append(
            f"the masks together hold {len(class_values):,} distinct values: too many for classes; two classes "
            "until you name them (check that these are class masks)"
        )
        return named or LabelSet.with_count(2, ignore_index=ignore), None
    if class_values and class_values[-1] >= MAX_CLASS_VALUES:
        return _sparse_labels(class_values, masks, ignore, notes)
    count = (class_values[-1] if class_values else 0) + 1

    if segnet:
        notes.append("SegNet layout with values 0..11: SegNet's 11 CamVid classes, 11 = Unlabelled (ignored)")
        labels = LabelSet.camvid()
        if colour_table is not None:
            labels = replace(
                LabelSet.from_palette(colour_table, 11, names=labels.names, ignore_index=11, ignore_name="Unlabelled"),
                background=labels.background,
            )
            notes.append("display colours from the colour table file")
        return labels, None

    if named is not None:
        if count > named.num_classes and (named.ignore_index is None or max(class_values) != named.ignore_index):
            notes.append(f"the label file names {named.num_classes} classes but masks hold values up to {count - 1}; extra classes added")
            for extra in range(named.num_classes, count):
                named = named.with_class(f"class {extra}")
        return named, None

    if palette is not None:
        notes.append(f"palette masks with values up to {count - 1}: {count} classes, colours from the masks' palette")
        return LabelSet.from_palette(palette, count, ignore_index=ignore), None
    if colour_table is not None and len(colour_table.reshape(-1, colour_table.shape[-1])) >= count:
        notes.append(f"{count} classes (mask values 0..{count - 1}), colours from the colour table file")
        return LabelSet.from_palette(colour_table, count, ignore_index=ignore), None
    labels = LabelSet.with_count(max(count, 2), ignore_index=ignore)
    extra = f", {ignore} = ignore" if ignore is not None else ""
    notes.append(f"grey masks with values 0..{count - 1}: {max(count, 2)} classes{extra} (name them in the project file)")
    return labels, None


def _grey_levels(values: Sequence[int]) -> bool:
    """Three or more values from 0 in even steps of 16 or more (0/127/255, 0/50/100): grey levels, one per class."""
    if len(values) < 3 or values[0] != 0:
        return False
    steps = np.diff(np.asarray(values, dtype=np.int64))
    return int(steps.min()) >= 16 and int(steps.max()) - int(steps.min()) <= 1


def _binary_labels(pixels: dict[int, int], high: int, named: LabelSet | None, notes: list[str]) -> tuple[LabelSet, ValueMap]:
    """0/X masks. The foreground is the value covering fewer pixels (ISBI stores membrane = 0, the minority)."""
    zero_share = pixels.get(0, 0) / max(sum(pixels.values()), 1)
    names = named.names if named is not None and named.num_classes == 2 else ("background", "foreground")
    if zero_share < 0.5:
        value_map = ValueMap.binary(foreground=0, background=high)
        notes.append(
            f"binary 0/{high} masks where 0 covers {zero_share:.0%} of the pixels: 0 = {names[1]} (the minority), "
            f"{high} = {names[0]}; swap in the project file if that is wrong"
        )
    else:
        value_map = ValueMap.binary(foreground=high, background=0)
        notes.append(f"binary 0/{high} masks: 0 = {names[0]}, {high} = {names[1]} ({1 - zero_share:.0%} of the pixels)")
    return LabelSet.from_names(names), value_map


def _sparse_labels(class_values: list[int], masks: Sequence[MaskValues], ignore: int | None, notes: list[str]) -> tuple[LabelSet, ValueMap]:
    """Few values spread far apart (16-bit ids, colour-coded masks): class ids in value order, through a map,
    instead of a class for every number up to the highest."""
    colour = any(m.is_colour for m in masks)
    names = ["background" if v == 0 else (f"#{v:06x}" if colour else f"value {v}") for v in class_values]
    colours = [((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF) for v in class_values] if colour else None
    pairs = {v: i for i, v in enumerate(class_values)}
    if ignore is not None:
        pairs[ignore] = len(class_values)  # the ignore value reads as the first id past the classes
    ignore_id = None if ignore is None else len(class_values)
    labels = LabelSet.from_names(names, colours=colours, ignore_index=ignore_id)  # type: ignore[arg-type]
    shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
    notes.append(
        f"masks hold {len(class_values)} {'colours' if colour else 'values'} spread up to {class_values[-1]:,} "
        f"({shown}): {len(class_values)} classes in value order, through a value map"
    )
    return labels, ValueMap.from_pairs(pairs)


# -- which project describes a mask folder --------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSource:
    """A folder of masks that a project file names as one of its mask sources."""

    project_file: Path
    root: Path  # the dataset folder
    labels: LabelSet
    source: MaskSource


def find_mask_source(folder: Path, notes: list[str], *, role: MaskRole | None = None) -> ProjectSource | None:
    """The project file (beside the data, or in the user data location for a read-only dataset) of the nearest
    dataset folder at or above ``folder`` that names ``folder`` as a mask source; ``role`` is preferred when
    several sources share the folder. A project file that cannot be read is noted and passed over."""
    folder = Path(folder).expanduser().resolve()
    for root in (folder, *folder.parents):
        project_file = find_project_file(root)
        if project_file is None:
            continue
        try:
            spec = read_project_file(project_file)
        except FileProblem as problem:
            notes.append(f"project file not used: {problem}")
            continue
        matches = [s for s in spec.mask_sources if (root / s.folder).resolve() == folder]
        if matches:
            preferred = [s for s in matches if s.role is role] or matches
            return ProjectSource(project_file, root, spec.labels, preferred[0])
    return None


# -- predictions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictionReading:
    """How a folder of predictions is read next to its ground truth, and a sentence saying so."""

    value_map: ValueMap | None
    note: str


def written_by_segstudio(folder: Path) -> bool:
    """Whether ``folder`` is (inside) a folder where segstudio writes its predictions: class ids as stored."""
    return SEGSTUDIO_PREDICTIONS_FOLDER in Path(folder).resolve().parts


def prediction_reading(values: Collection[int], labels: LabelSet, truth_map: ValueMap | None, *, colour: bool = False) -> PredictionReading:
    """Read predictions holding ``values`` (the union over the folder) as class ids when they all are class
    ids, else with the ground truth's value map when they all fit it. When both fit and the two readings differ
    (all-zero predictions of 0/255 truth), the class ids win: that is how models and segstudio write them."""
    if colour:
        return PredictionReading(None, "colour-coded: matched to the label set's colours")
    present = sorted(int(v) for v in values)
    shown = ", ".join(map(str, present[:8])) + (" ..." if len(present) > 8 else "")
    as_ids = all(labels.is_valid_value(v) for v in present)
    fits_truth = truth_map is not None and not truth_map.is_identity and _fits(present, labels, truth_map)
    if as_ids and fits_truth:
        assert truth_map is not None
        if np.array_equal(truth_map.map_values(np.array(present, dtype=np.int64)), np.array(present)):
            return PredictionReading(None, f"read as class ids (values {shown})")
        return PredictionReading(
            None,
            f"values {shown} only: ambiguous, class ids or stored like the ground truth; read as class ids "
            "(--pred-value-map reads them otherwise)",
        )
    if as_ids:
        return PredictionReading(None, f"read as class ids (values {shown})")
    if fits_truth:
        return PredictionReading(truth_map, f"values {shown} are not class ids: read with the ground truth's value map")
    return PredictionReading(
        None, f"values {shown} are neither all class ids nor all in the ground truth's value map; read as class ids"
    )


def _fits(present: Sequence[int], labels: LabelSet, value_map: ValueMap) -> bool:
    if not value_map.keep_unlisted and not set(present) <= set(value_map.as_dict()):
        return False
    targets = value_map.map_values(np.array(present, dtype=np.int64))
    return all(labels.is_valid_value(int(t)) for t in targets)
