"""Instances drawn apart: each object of an :class:`~segstudio.core.instances.InstanceMask` gets its own shade of its
class colour (:func:`instance_shades`), so two people of one class read as two people and still as people.

An :class:`InstanceDisplay` gives every instance a *code*: a mask value past the label set's values (never a class
id, never the ignore id), whose entry in the class palette is the instance's shade
(:meth:`~segstudio.core.palettes.Palettes.with_classes`). The ground truth is then drawn from :meth:`truth_codes`
and the working mask from :meth:`working_codes` through the ordinary compositing: no new drawing path, and a
session without instances costs nothing more. A working-mask pixel shows its instance's shade where it still
holds that instance's class (the object as the ground truth has it); paint elsewhere shows the plain class colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import cv2
import numpy as np

from segstudio.core.geometry import Rect
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet, cielab

Rgba = tuple[int, int, int, int]

# Shades of a class colour, in the order instances take them: lightness steps (L*) and hue turns (degrees) of at
# most 35 (the first ones 15), so each stays in its class's colour family; the first steps alternate darker and
# lighter, hue left and right, so the first few instances differ most. A step whose shade lands within
# MIN_SHADE_DELTA_E of an earlier one (a grey class turning hue, a light class made lighter) is skipped.
SHADE_STEPS: tuple[tuple[int, int], ...] = (
    (0, 0), (-26, 12), (22, -15), (-42, -6), (34, 8), (-14, -25), (12, 25), (-34, 22), (28, -22), (-50, 0),
    (44, 0), (-20, -35), (18, 35), (0, 30), (0, -30), (-8, 0), (8, 0),
)
MIN_SHADE_DELTA_E = 12.0
_UNKNOWN_CLASS_RGB = (160, 160, 160)  # an instance whose class is outside the label set
_MAX_LOOKUP = 1 << 24  # beyond this id a lookup table would cost more than a search


def instance_shades(colour: tuple[int, int, int], count: int) -> list[tuple[int, int, int]]:
    """``count`` shades around RGB ``colour``, the first the colour itself (see :data:`SHADE_STEPS`); past the
    distinct shades the sequence starts again. One colour always gives one sequence."""
    order = _shade_order(tuple(int(v) for v in colour))  # type: ignore[arg-type]
    return [order[k % len(order)] for k in range(count)]


@lru_cache(maxsize=256)
def _shade_order(colour: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    lightness, a, b = (float(v) for v in cielab(np.array([colour], dtype=np.uint8))[0])
    chroma, hue = float(np.hypot(a, b)), float(np.arctan2(b, a))
    shades: list[tuple[int, int, int]] = [colour]
    seen = cielab(np.array([colour], dtype=np.uint8))
    for step_l, turn in SHADE_STEPS[1:]:
        shade = _in_gamut(min(98.0, max(4.0, lightness + step_l)), chroma, hue + np.radians(turn))
        lab = cielab(np.array([shade], dtype=np.uint8))
        if np.linalg.norm(seen - lab[0], axis=1).min() >= MIN_SHADE_DELTA_E:
            shades.append(shade)
            seen = np.vstack([seen, lab])
    return shades


def _in_gamut(lightness: float, chroma: float, hue: float) -> tuple[int, int, int]:
    """The sRGB colour of L*C*h, chroma reduced until it fits (lightness and hue kept)."""
    for _ in range(40):
        lab = np.array([[[lightness, chroma * np.cos(hue), chroma * np.sin(hue)]]], dtype=np.float32)
        rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).reshape(3)
        if (rgb >= -0.002).all() and (rgb <= 1.002).all():
            break
        chroma *= 0.9
    r, g, b = (int(v) for v in np.clip(np.rint(rgb * 255.0), 0, 255))
    return (r, g, b)


@dataclass(frozen=True, eq=False)
class InstanceDisplay:
    """Codes and colours that draw one image's instances apart (see the module notes).

    ``codes``: per pixel the code of the instance there, 0 where there is none (read-only, uint8 or uint16);
    ``colours``: code -> RGBA, for :meth:`~segstudio.core.palettes.Palettes.with_classes`; ``instance_of`` and
    ``class_of``: code -> instance id and class id (index 0 unused).
    """

    codes: np.ndarray
    colours: Mapping[int, Rgba]
    instance_of: np.ndarray
    class_of: np.ndarray

    @classmethod
    def build(cls, instances: InstanceMask, labels: LabelSet) -> InstanceDisplay:
        """Codes past ``labels``' values (skipping its ignore id), instance shades by class in id order."""
        ids = instances.instance_ids
        ignore = labels.ignore_index
        candidates = range(labels.num_classes, min(65536, labels.num_classes + len(ids) + 1))
        codes = [v for v in candidates if v != ignore][: len(ids)]
        if len(codes) < len(ids):
            raise ValueError(f"{len(ids)} instances do not fit past {labels.num_classes} classes in 16-bit codes")
        top = codes[-1] if codes else 0
        dtype = np.uint8 if top <= 255 else np.uint16
        instance_of = np.zeros(top + 1, dtype=np.int64)
        class_of = np.full(top + 1, -1, dtype=np.int64)
        by_class: dict[int, list[int]] = {}
        for instance, code in zip(ids, codes, strict=True):
            instance_of[code] = instance
            class_of[code] = instances.class_of(instance)
            by_class.setdefault(int(class_of[code]), []).append(code)
        colours: dict[int, Rgba] = {}
        for class_id, members in by_class.items():
            base = (tuple(int(v) for v in labels.colours[class_id]) if 0 <= class_id < labels.num_classes
                    else _UNKNOWN_CLASS_RGB)
            for code, shade in zip(members, instance_shades(base, len(members)), strict=True):  # type: ignore[arg-type]
                colours[code] = (*shade, 255)
        raw = np.asarray(instances.ids)
        ordered, code_array = np.asarray(ids, dtype=np.int64), np.asarray(codes, dtype=dtype)
        highest = int(raw.max(initial=0))
        if highest < _MAX_LOOKUP:
            lookup = np.zeros(highest + 1, dtype=dtype)
            lookup[ordered] = code_array
            pixel_codes = lookup[raw]
        else:  # ids too sparse for a table: find each pixel's id among the present ones
            where = np.clip(np.searchsorted(ordered, raw), 0, max(len(ordered) - 1, 0))
            pixel_codes = np.where(raw == 0, 0, code_array[where] if len(ordered) else 0).astype(dtype)
        pixel_codes.flags.writeable = False
        for table in (instance_of, class_of):
            table.flags.writeable = False
        return cls(pixel_codes, MappingProxyType(colours), instance_of, class_of)

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape  # type: ignore[return-value]

    def code_dtype(self, mask_dtype: np.dtype) -> np.dtype:
        """The dtype that holds both a mask of ``mask_dtype`` and every code."""
        return np.promote_types(np.dtype(mask_dtype), self.codes.dtype)

    def truth_codes(self, truth: np.ndarray) -> np.ndarray:
        """The ground truth with each instance's pixels holding its code (a new read-only array)."""
        shown = np.where(self.codes != 0, self.codes, truth).astype(self.code_dtype(truth.dtype), copy=False)
        shown.flags.writeable = False
        return shown

    def working_codes(self, working: np.ndarray, rect: Rect, out: np.ndarray) -> None:
        """``out[rect]``: the working mask, with the code of the instance under a pixel where the pixel holds that
        instance's class. ``out`` has the masks' shape and :meth:`code_dtype`; only ``rect`` is rewritten."""
        window = rect.slices
        codes, values = self.codes[window], working[window]
        own = self.class_of[codes] == values  # code 0 has class -1: never equal
        np.copyto(out[window], values, casting="unsafe")
        np.copyto(out[window], codes, where=own, casting="unsafe")

    def instance_at(self, row: int, col: int) -> int:
        """The instance id at a pixel (0: none)."""
        return int(self.instance_of[int(self.codes[row, col])])

    def colour_of(self, instance_id: int) -> tuple[int, int, int] | None:
        """The shade instance ``instance_id`` is drawn in (None: not one of these instances)."""
        hits = np.flatnonzero(self.instance_of == int(instance_id))
        if instance_id == 0 or not hits.size:
            return None
        r, g, b, _ = self.colours[int(hits[0])]
        return (r, g, b)


__all__ = ["MIN_SHADE_DELTA_E", "SHADE_STEPS", "InstanceDisplay", "instance_shades"]
