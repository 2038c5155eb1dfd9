"""Mask colours: :class:`Palettes`, the RGBA lookup tables class masks and the error map are drawn through, and the
packed blend tables :func:`~segstudio.core.compositing.composite` derives from them per layer opacity.

A palette is indexed by mask value (class colours opaque, the background class transparent, the ignore id in
:data:`~segstudio.core.labels.IGNORE_COLOUR`); the blend tables turn one layer's "over" into one gather per pixel
and are cached on the palettes, so a repaint never rebuilds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from segstudio.core.error_map import error_palette
from segstudio.core.labels import IGNORE_COLOUR, LabelSet
from segstudio.core.layers import LayerKind


@dataclass(frozen=True, eq=False)
class Palettes:
    """RGBA lookup tables, indexed by mask value: ``classes`` for class masks (ground truth, prediction,
    working mask), ``errors`` for the error map (:func:`~segstudio.core.error_map.error_palette`).

    Tables are ``(N, 4)`` uint8, straight alpha; a value past a table's end is drawn transparent.
    """

    classes: np.ndarray
    errors: np.ndarray = field(default_factory=error_palette)
    _blend_tables: dict[tuple[str, float, int], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name in ("classes", "errors"):
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
        return cls(table)

    def blend_tables(self, kind: LayerKind, opacity: float, length: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keep, paint)`` for "over" with each entry's alpha ``a`` times ``opacity``: ``keep = 255 - a``
        (255 in the alpha channel) and ``paint = round(colour * a / 255)`` (0 in the alpha channel), so
        ``round(below * keep / 255) + paint`` blends and keeps the result opaque. Each is ``(length,)``
        uint32, an entry's four bytes packed in memory order (view as uint8 to read them). Cached per
        (table, opacity, length); entries past the palette's end are transparent."""
        name = "errors" if kind is LayerKind.ERROR_MAP else "classes"
        key = (name, float(opacity), int(length))
        tables = self._blend_tables.get(key)
        if tables is None:
            rgba = getattr(self, name)[:length].astype(np.float64)
            alpha = np.rint(rgba[:, 3] * opacity)
            keep = np.full((length, 4), 255, dtype=np.uint8)
            paint = np.zeros((length, 4), dtype=np.uint8)
            keep[: len(rgba), :3] = (255 - alpha)[:, None].astype(np.uint8)
            paint[: len(rgba), :3] = np.rint(rgba[:, :3] * alpha[:, None] / 255.0).astype(np.uint8)
            tables = (keep.view(np.uint32).ravel(), paint.view(np.uint32).ravel())
            for table in tables:
                table.flags.writeable = False
            if len(self._blend_tables) > 64:
                self._blend_tables.clear()
            self._blend_tables[key] = tables
        return tables
