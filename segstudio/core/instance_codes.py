"""The working instances drawn apart: each instance of an :class:`~segstudio.core.instance_layer.InstanceLayer` in its
own shade of its class colour, outlined in the class colour itself (so the class reads at a glance and two touching
people read as two), through the ordinary compositing (as :mod:`segstudio.core.instance_display` does for fixed
instances).

:class:`WorkingInstanceCodes` keeps a code array: per pixel, the class value where no instance is, else the code of
the instance there (its outline code on its edge pixels: those with a 4-neighbour of another key), values past the
label set's (and past ``first_code``, so they never meet the ground truth's instance codes); :attr:`colours` gives
each code its colour. An edit rewrites its rectangle through a key -> code table;
only when the set of instances changes (one started, split, merged, renumbered, given another class) are codes and
shades dealt again, and the caller redraws everything (:meth:`update` says so).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from segstudio.core.geometry import Rect
from segstudio.core.instance_display import Rgba, instance_shades
from segstudio.core.instance_layer import KEY_LIMIT, PLAIN_KEYS, InstanceLayer
from segstudio.core.labels import LabelSet

_UNKNOWN_CLASS_RGB = (160, 160, 160)


class WorkingInstanceCodes:
    """Codes and shades that draw ``layer``'s instances apart (see the module notes)."""

    def __init__(self, layer: InstanceLayer, labels: LabelSet, first_code: int | None = None) -> None:
        self._layer = layer
        self._labels = labels
        self._first = max(labels.num_classes, first_code or 0)
        self._lookup = np.arange(KEY_LIMIT, dtype=np.uint16)
        self._edges = np.arange(KEY_LIMIT, dtype=np.uint16)
        self.codes = np.empty(layer.keys.shape, dtype=np.uint16)
        self.colours: MappingProxyType[int, Rgba] = MappingProxyType({})
        self._instance_of_code: dict[int, int] = {}
        self._colour_of_instance: dict[int, tuple[int, int, int]] = {}
        self._generation = -1  # the layer's generation the codes were dealt at
        self._deal()

    def update(self, rect: Rect) -> bool:
        """The keys changed inside ``rect``. True when the instances changed, so codes and shades were dealt again
        and everything must be redrawn (the palette too); False when only ``rect`` needs redrawing."""
        if self._generation != self._layer.generation:
            self._deal()
            return True
        self._draw(rect)
        return False

    def instance_at(self, x: int, y: int) -> int:
        """The instance at image pixel ``(x, y)`` (0: none)."""
        return self._layer.instance_at(float(x), float(y))

    def colour_of(self, instance_id: int) -> tuple[int, int, int] | None:
        """The shade instance ``instance_id`` is drawn in (None: no such instance)."""
        return self._colour_of_instance.get(int(instance_id))

    def _deal(self) -> None:
        keyed = self._layer.keyed_rows()
        rows = [row for _key, row in keyed]
        self._generation = self._layer.generation
        ignore = self._labels.ignore_index
        candidates = (c for c in range(self._first, KEY_LIMIT) if c != ignore)
        lookup = np.arange(KEY_LIMIT, dtype=np.uint16)
        edges = np.arange(KEY_LIMIT, dtype=np.uint16)
        edge_colours: dict[int, Rgba] = {}
        by_class: dict[int, list[tuple[int, int]]] = {}
        for row, (key, _row) in zip(rows, keyed, strict=True):
            code, edge = next(candidates, None), next(candidates, None)
            if code is None or edge is None:
                raise ValueError(f"{len(rows)} instances do not fit past {self._first} in 16-bit codes")
            lookup[key], edges[key] = code, edge
            edge_colours[edge] = (*self._class_rgb(row.class_id), 255)
            by_class.setdefault(row.class_id, []).append((row.instance_id, code))
        colours: dict[int, Rgba] = dict(edge_colours)
        self._colour_of_instance.clear()
        for class_id, members in by_class.items():
            # The class colour itself is the outline's: every fill is one of its other shades, so the outline shows.
            shades = instance_shades(self._class_rgb(class_id), len(members) + 1)[1:]
            for (instance_id, code), shade in zip(members, shades, strict=True):
                colours[code] = (*shade, 255)
                self._colour_of_instance[instance_id] = shade
        self._lookup, self._edges = lookup, edges
        self.colours = MappingProxyType(colours)
        self._draw(Rect.full(self.codes.shape))

    def _class_rgb(self, class_id: int) -> tuple[int, int, int]:
        if 0 <= class_id < self._labels.num_classes:
            r, g, b = (int(v) for v in self._labels.colours[class_id])
            return (r, g, b)
        return _UNKNOWN_CLASS_RGB

    def _draw(self, rect: Rect) -> None:
        """Codes inside ``rect`` and on its one-pixel rim (whose edges depend on the pixels inside)."""
        height, width = self.codes.shape
        outer = Rect(max(0, rect.top - 1), max(0, rect.left - 1), min(height, rect.bottom + 1), min(width, rect.right + 1))
        top, left = max(0, outer.top - 1), max(0, outer.left - 1)
        bottom, right = min(height, outer.bottom + 1), min(width, outer.right + 1)
        keys = np.asarray(self._layer.keys[top:bottom, left:right])
        padded = np.pad(keys, 1, mode="edge")
        centre = padded[1:-1, 1:-1]
        edge = ((padded[:-2, 1:-1] != centre) | (padded[2:, 1:-1] != centre)
                | (padded[1:-1, :-2] != centre) | (padded[1:-1, 2:] != centre)) & (centre >= PLAIN_KEYS)
        inner = (slice(outer.top - top, outer.bottom - top), slice(outer.left - left, outer.right - left))
        window = self.codes[outer.slices]
        np.take(self._lookup, keys[inner], out=window)
        np.copyto(window, np.take(self._edges, keys[inner]), where=edge[inner])


__all__ = ["WorkingInstanceCodes"]
