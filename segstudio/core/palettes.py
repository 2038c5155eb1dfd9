"""Mask colours: :class:`Palettes`, the RGBA lookup tables class masks, the error map and the model's doubt are drawn
through, the
packed blend tables :func:`~segstudio.core.compositing.composite` derives from them per layer opacity, and the error
colours a label set gets (:func:`error_colours_for`: none of them close to a class colour).

A palette is indexed by mask value (class colours opaque, the background class transparent, the ignore id in
:data:`~segstudio.core.labels.IGNORE_COLOUR`); the blend tables turn one layer's "over" into one gather per pixel
and are cached on the palettes, so a repaint never rebuilds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from segstudio.core.error_map import ERROR_COLOURS, MARKED_KINDS, ErrorKind, Rgba, error_palette
from segstudio.core.labels import IGNORE_COLOUR, LabelSet, cielab
from segstudio.core.layers import LayerKind

# Candidates per marked kind, preferred first: cyan/blue for what is missing, magenta/red for what is extra,
# yellow/orange for a confusion (the usual overlay language), then a shared pool when all of those collide.
_ERROR_CANDIDATES: dict[ErrorKind, tuple[Rgba, ...]] = {
    ErrorKind.FALSE_NEGATIVE: ((0, 229, 255, 255), (0, 140, 255, 255), (0, 255, 150, 255)),
    ErrorKind.FALSE_POSITIVE: ((255, 0, 220, 255), (255, 30, 30, 255), (170, 60, 255, 255), (255, 110, 200, 255)),
    ErrorKind.WRONG_CLASS: ((255, 230, 0, 255), (255, 140, 0, 255), (180, 255, 0, 255)),
}
_ERROR_POOL: tuple[Rgba, ...] = (
    *(colour for candidates in _ERROR_CANDIDATES.values() for colour in candidates),
    (255, 255, 255, 255),
    (0, 0, 0, 255),
)
# CIELAB distance (Delta E 1976) an error colour keeps from every class colour when it can: at 35 two flat
# patches read as different colours at a glance, even as thin stripes.
DISTINCT_DELTA_E = 35.0


def doubt_palette() -> np.ndarray:
    """The model-doubt layer's ``(256, 4)`` table, indexed by :meth:`~segstudio.core.confidence.Confidence.doubt`:
    clear where the model was sure, then a haze as opaque as the model was unsure (alpha = doubt, so the image
    shows through where it was fairly sure) going from deep purple through red (a probability of one half) to
    yellow (no probability at all): the inferno ramp, which reads in order in colour and in grey. A weak model is
    unsure almost everywhere; a ramp opaque from one half hid the whole image then."""
    levels = np.arange(256)
    shades = np.rint(40 + levels * (215 / 255)).astype(np.uint8).reshape(-1, 1)
    table = np.zeros((256, 4), dtype=np.uint8)
    table[:, :3] = cv2.applyColorMap(shades, cv2.COLORMAP_INFERNO).reshape(256, 3)[:, ::-1]
    table[:, 3] = levels
    return table


def _table_name(kind: LayerKind) -> str:
    return {LayerKind.ERROR_MAP: "errors", LayerKind.CERTAINTY: "doubt"}.get(kind, "classes")


def error_colours_for(class_colours: np.ndarray) -> dict[ErrorKind, Rgba]:
    """Each :data:`~segstudio.core.error_map.ERROR_COLOURS` kind's colour for masks drawn in ``class_colours``
    (``(N, 3)`` uint8 RGB: the colours actually drawn, background left out): for each marked kind, the first of its
    preferred colours at least :data:`DISTINCT_DELTA_E` from every class colour and every error colour chosen
    before it, else the colour of the whole pool farthest from them. Deterministic: one label set, one answer."""
    drawn = np.asarray(class_colours, dtype=np.uint8).reshape(-1, 3)
    taken = cielab(drawn) if len(drawn) else np.zeros((0, 3), dtype=np.float32)
    chosen = dict(ERROR_COLOURS)
    for kind in MARKED_KINDS:
        def distance(colour: Rgba, taken: np.ndarray = taken) -> float:
            lab = cielab(np.array([colour[:3]], dtype=np.uint8))[0]
            return float(np.linalg.norm(taken - lab, axis=1).min()) if len(taken) else float("inf")

        preferred = [c for c in _ERROR_CANDIDATES[kind] if distance(c) >= DISTINCT_DELTA_E]
        used = {chosen[k] for k in MARKED_KINDS[: MARKED_KINDS.index(kind)]}
        colour = preferred[0] if preferred else max((c for c in _ERROR_POOL if c not in used), key=distance)
        chosen[kind] = colour
        taken = np.vstack([taken, cielab(np.array([colour[:3]], dtype=np.uint8))])
    return chosen


@dataclass(frozen=True, eq=False)
class Palettes:
    """RGBA lookup tables, indexed by mask value: ``classes`` for class masks (ground truth, prediction,
    working mask), ``errors`` for the error map (:func:`~segstudio.core.error_map.error_palette`), ``doubt`` for the
    model's doubt (:func:`doubt_palette`).

    Tables are ``(N, 4)`` uint8, straight alpha; a value past a table's end is drawn transparent.
    """

    classes: np.ndarray
    errors: np.ndarray = field(default_factory=error_palette)
    doubt: np.ndarray = field(default_factory=doubt_palette)
    _blend_tables: dict[tuple[str, float, int], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _clear_values: dict[tuple[str, int], int | None] = field(default_factory=dict, init=False, repr=False,
                                                             compare=False)

    def __post_init__(self) -> None:
        for name in ("classes", "errors", "doubt"):
            table = np.array(getattr(self, name), dtype=np.uint8, copy=True)
            if table.ndim != 2 or table.shape[1] != 4 or not 1 <= table.shape[0] <= 65536:
                raise ValueError(f"{name} palette must be an (N, 4) RGBA table with 1..65536 entries, got {table.shape}")
            table.flags.writeable = False
            object.__setattr__(self, name, table)

    @classmethod
    def for_labels(cls, labels: LabelSet, *, background: int | None = 0) -> Palettes:
        """Class colours opaque, ``background`` transparent (None: every class drawn), the ignore id in
        :data:`~segstudio.core.labels.IGNORE_COLOUR`, values outside the label set transparent."""
        top = max(labels.num_classes - 1, labels.ignore_index or 0)
        table = np.zeros((256 if top <= 255 else 65536, 4), dtype=np.uint8)
        table[: labels.num_classes, :3] = labels.colours
        table[: labels.num_classes, 3] = 255
        if labels.ignore_index is not None:
            table[labels.ignore_index] = (*IGNORE_COLOUR, 255)
        if background is not None and 0 <= background < labels.num_classes:
            table[background, 3] = 0
        drawn = table[: max(labels.num_classes, (labels.ignore_index or 0) + 1)]
        return cls(table, error_palette(colours=error_colours_for(drawn[drawn[:, 3] > 0, :3])))

    def with_classes(self, entries: Mapping[int, Rgba]) -> Palettes:
        """These palettes with class-table ``entries`` (value -> RGBA) set, the table grown to 65536 entries when
        a value needs it (e.g. the colours of instance ids drawn past the label set's values)."""
        top = max(entries, default=0)
        if top >= 65536 or min(entries, default=0) < 0:
            raise ValueError(f"class-table entries are values 0..65535, got {min(entries)}..{top}")
        table = np.zeros((max(len(self.classes), 256 if top <= 255 else 65536), 4), dtype=np.uint8)
        table[: len(self.classes)] = self.classes
        for value, colour in entries.items():
            table[value] = colour
        return Palettes(table, self.errors, self.doubt)

    def clear_value(self, kind: LayerKind, length: int) -> int | None:
        """A mask value below ``length`` that ``kind``'s table draws as nothing (alpha 0, or past the table's end),
        the highest such value (all bits set when it can be: compositing reaches it with one OR), or None when
        every value is drawn: compositing points the pixels a layer leaves alone at it."""
        name = _table_name(kind)
        key = (name, int(length))
        if key not in self._clear_values:
            table = getattr(self, name)[:length]
            transparent = np.flatnonzero(table[:, 3] == 0)
            value = length - 1 if len(table) < length else int(transparent[-1]) if transparent.size else None
            self._clear_values[key] = value
        return self._clear_values[key]

    def blend_tables(self, kind: LayerKind, opacity: float, length: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keep, paint)`` for "over" with each entry's alpha ``a`` times ``opacity``: ``keep = 255 - a``
        (255 in the alpha channel) and ``paint = round(colour * a / 255)`` (0 in the alpha channel), so
        ``round(below * keep / 255) + paint`` blends and keeps the result opaque. Each holds an entry's four
        bytes packed in one int32 word in memory order (view as uint8 to read them): ``(1, 256)`` for 256 entries
        (the row OpenCV's LUT takes), else ``(length,)``. Cached per (table, opacity, length); entries past the
        palette's end are transparent."""
        name = _table_name(kind)
        key = (name, float(opacity), int(length))
        tables = self._blend_tables.get(key)
        if tables is None:
            rgba = getattr(self, name)[:length].astype(np.float64)
            alpha = np.rint(rgba[:, 3] * opacity)
            keep = np.full((length, 4), 255, dtype=np.uint8)
            paint = np.zeros((length, 4), dtype=np.uint8)
            keep[: len(rgba), :3] = (255 - alpha)[:, None].astype(np.uint8)
            paint[: len(rgba), :3] = np.rint(rgba[:, :3] * alpha[:, None] / 255.0).astype(np.uint8)
            shape = (1, 256) if length == 256 else (length,)
            tables = (keep.view(np.int32).reshape(shape), paint.view(np.int32).reshape(shape))
            for table in tables:
                table.flags.writeable = False
            if len(self._blend_tables) > 64:
                self._blend_tables.clear()
            self._blend_tables[key] = tables
        return tables
