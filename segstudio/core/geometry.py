"""Axis-aligned pixel rectangles: what every edit reports as the area it changed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rect:
    """A half-open pixel rectangle: rows ``top <= y < bottom``, columns ``left <= x < right``."""

    top: int
    left: int
    bottom: int
    right: int

    def __post_init__(self) -> None:
        if self.bottom < self.top or self.right < self.left:
            raise ValueError(f"rectangle has negative size: {self}")

    @classmethod
    def from_xywh(cls, x: int, y: int, width: int, height: int) -> Rect:
        return cls(top=y, left=x, bottom=y + height, right=x + width)

    @classmethod
    def full(cls, shape: tuple[int, ...]) -> Rect:
        return cls(0, 0, int(shape[0]), int(shape[1]))

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def area(self) -> int:
        return self.height * self.width

    @property
    def is_empty(self) -> bool:
        return self.height == 0 or self.width == 0

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index a 2-D array with ``array[rect.slices]``."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def union(self, other: Rect) -> Rect:
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Rect(
            min(self.top, other.top),
            min(self.left, other.left),
            max(self.bottom, other.bottom),
            max(self.right, other.right),
        )

    def intersection(self, other: Rect) -> Rect:
        top, left = max(self.top, other.top), max(self.left, other.left)
        bottom, right = min(self.bottom, other.bottom), min(self.right, other.right)
        if bottom <= top or right <= left:
            return EMPTY_RECT
        return Rect(top, left, bottom, right)

    @classmethod
    def around(cls, point: Sequence[float], side: int, shape: tuple[int, ...]) -> Rect:
        """At most ``side`` pixels a side centred on the pixel nearest ``point`` (``(x, y)``), within an array of
        ``shape``: how far a tool looks on an image of any size."""
        row, col = nearest_pixel(point)
        half = side // 2
        return cls(row - half, col - half, row + half, col + half).clipped(shape)

    def clipped(self, shape: tuple[int, ...]) -> Rect:
        """This rectangle limited to an array of ``shape`` (rows, columns)."""
        return self.intersection(Rect.full(shape))

    def translated(self, dy: int, dx: int) -> Rect:
        return Rect(self.top + dy, self.left + dx, self.bottom + dy, self.right + dx)

    def relative_to(self, outer: Rect) -> Rect:
        """This rectangle in the coordinates of ``outer``'s top-left corner."""
        return self.translated(-outer.top, -outer.left)


EMPTY_RECT = Rect(0, 0, 0, 0)


def check_point(point: Sequence[float], name: str = "point") -> tuple[float, float]:
    """``point`` as a finite ``(x, y)`` pair of floats; ValueError naming ``name`` otherwise."""
    try:
        x, y = (float(c) for c in point)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (x, y) pair of numbers, got {point!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{name} must be finite, got {point!r}")
    return x, y


def nearest_pixel(point: Sequence[float], name: str = "point") -> tuple[int, int]:
    """``(row, col)`` of the pixel whose centre is nearest ``point`` (``(x, y)``, pixel centres on integers)."""
    x, y = check_point(point, name)
    return math.floor(y + 0.5), math.floor(x + 0.5)
