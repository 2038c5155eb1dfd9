"""Error regions: the connected patches of an error map (a false-positive blob, a missed area, a wrong-class patch),
each to be fixed in one step: take the ground truth there, take the model's prediction there, or give it a class.

A region is a connected set (8-neighbours) of pixels of one error kind (:class:`~segstudio.core.error_map.ErrorKind`:
false positive, missed or wrong class); correct and ignored pixels belong to none. :func:`error_regions` lists every
region of a map, largest first (the order a labeler works through them); :func:`region_at` finds the one under a
pixel without listing the others (a flood fill: the region plus one pass over the map to mark its kind).
:func:`region_values` gives what a fix writes: the region's pixels with the chosen source's values, everything
else in the region's box as it is, so the document records only the region as one undo step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

from segstudio.core.connected_region import connected_at
from segstudio.core.error_map import ErrorKind
from segstudio.core.geometry import Rect

FIXABLE = (ErrorKind.FALSE_POSITIVE, ErrorKind.FALSE_NEGATIVE, ErrorKind.WRONG_CLASS)


class RegionFix(Enum):
    """What a region takes."""

    TRUTH = "take the ground truth"
    PREDICTION = "take the prediction"
    CLASS = "set one class"


@dataclass(frozen=True, eq=False)
class ErrorRegion:
    """A connected patch of one error kind: ``pixels`` (bool, ``rect``'s shape) marks it inside its box."""

    kind: ErrorKind
    rect: Rect
    pixels: np.ndarray
    area: int

    @property
    def centre(self) -> tuple[float, float]:
        """``(x, y)`` of a pixel of the region near its middle (on the region, even for a ring or a crescent)."""
        rows, cols = np.nonzero(self.pixels)
        middle_row, middle_col = rows.mean(), cols.mean()
        nearest = int(np.argmin((rows - middle_row) ** 2 + (cols - middle_col) ** 2))
        return float(cols[nearest] + self.rect.left), float(rows[nearest] + self.rect.top)

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The region as a bool mask of the whole image."""
        full = np.zeros(shape, dtype=bool)
        full[self.rect.slices] = self.pixels
        return full

    def describe(self) -> str:
        return f"{self.kind.label} region of {self.area:,} px"


def error_regions(errors: np.ndarray, *, min_area: int = 1, within: Rect | None = None) -> list[ErrorRegion]:
    """Every region of the error map ``errors`` with at least ``min_area`` pixels, largest first (ties: by kind,
    then top-left first). ``within``: only that part of the map (a region crossing its edge is cut there), so a
    huge image costs what is looked at."""
    frame = Rect.full(errors.shape) if within is None else within
    errors = errors[frame.slices]
    regions: list[tuple[int, int, int, int, ErrorRegion]] = []
    for kind in FIXABLE:
        marked = (errors == kind).view(np.uint8)
        if not marked.any():
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
        for label in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[label])
            if area < min_area:
                continue
            rect = Rect.from_xywh(x, y, w, h)
            pixels = labels[rect.slices] == label
            placed = rect.translated(frame.top, frame.left)
            regions.append((-area, int(kind), placed.top, placed.left, ErrorRegion(kind, placed, pixels, area)))
    regions.sort(key=lambda entry: entry[:4])
    return [entry[4] for entry in regions]


def region_at(errors: np.ndarray, x: float, y: float, *, within: Rect | None = None) -> ErrorRegion | None:
    """The region under pixel ``(x, y)`` (nearest pixel centre); None where the map marks no error, or outside.
    ``within``: look only there (a region crossing its edge is cut there)."""
    found = connected_at(errors, (x, y), within=within, accept=lambda value: value in FIXABLE)
    if found is None:
        return None
    rect, pixels, value = found
    return ErrorRegion(ErrorKind(value), rect, pixels, int(np.count_nonzero(pixels)))


def region_values(region: ErrorRegion, working: np.ndarray, source: np.ndarray | int) -> np.ndarray:
    """``working`` inside the region's box with the region's pixels taken from ``source`` (a mask of the image's
    shape, or one class value): what a fix writes, as a new array."""
    values = np.array(working[region.rect.slices], copy=True)
    if isinstance(source, np.ndarray):
        values[region.pixels] = source[region.rect.slices][region.pixels]
    else:
        values[region.pixels] = source
    return values


__all__ = ["FIXABLE", "ErrorRegion", "RegionFix", "error_regions", "region_at", "region_values"]
