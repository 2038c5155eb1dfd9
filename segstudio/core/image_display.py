"""How raw image values are shown: the display window (:class:`ImageDisplay`, chosen by a :class:`WindowMode`) and
its cached 8-bit lookup tables.

Images reach the screen as uint8; a 16-bit microscopy or medical image rarely uses its whole range, so the window
``low..high`` maps raw values linearly to black..white (the same window for every channel, so colours keep their
balance). :func:`check_image_dtype` is the one rule for which image types can be shown (uint8 and uint16), shared
with :mod:`segstudio.core.compositing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import numpy as np

_IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


class WindowMode(Enum):
    """How :meth:`ImageDisplay.for_image` picks the range of raw values shown from black to white."""

    FULL_RANGE = "full range"  # 0..255 for 8-bit, 0..65535 for 16-bit
    MIN_MAX = "min/max"  # the image's own lowest and highest value
    PERCENTILES = "percentiles"  # robust: ignores a few hot or dead pixels


@dataclass(frozen=True, slots=True)
class ImageDisplay:
    """Maps raw image values to 8-bit display values: ``low`` and below black, ``high`` and above white,
    linear between. The same window applies to every channel, so colours keep their balance.

    Compute it once per image (:meth:`for_image`; percentiles read a subsample) and reuse it for every
    composite: the mapping itself is a cached lookup table, one gather per pixel.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"display window must be finite, got {self.low}..{self.high}")
        if self.high <= self.low:
            raise ValueError(f"display window needs high > low, got {self.low}..{self.high}")

    @classmethod
    def full_range(cls, dtype: np.dtype | type) -> ImageDisplay:
        dtype = check_image_dtype(np.dtype(dtype))
        return cls(0.0, float(np.iinfo(dtype).max))

    @classmethod
    def min_max(cls, image: np.ndarray) -> ImageDisplay:
        image = _check_image(image)
        return cls._window(image, float(image.min()), float(image.max()))

    @classmethod
    def percentiles(
        cls, image: np.ndarray, low: float = 0.5, high: float = 99.5, *, max_samples: int = 1 << 20
    ) -> ImageDisplay:
        """The window between two percentiles of the image's values, read from at most ``max_samples``
        evenly spread pixels (a regular subsample: a few milliseconds even for a gigapixel slide)."""
        image = _check_image(image)
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {low} and {high}")
        pixels = image.shape[0] * image.shape[1]
        stride = max(1, math.ceil(math.sqrt(pixels / max_samples)))
        sample = image[::stride, ::stride]
        lo, hi = np.percentile(sample, (low, high))
        return cls._window(image, float(lo), float(hi))

    @classmethod
    def for_image(cls, image: np.ndarray, mode: WindowMode | None = None) -> ImageDisplay:
        """The display of ``image`` by ``mode``; by default 8-bit images as stored (FULL_RANGE) and 16-bit
        ones by PERCENTILES (microscopy and medical images rarely use the whole 16-bit range)."""
        image = _check_image(image)
        if mode is None:
            mode = WindowMode.FULL_RANGE if image.dtype == np.uint8 else WindowMode.PERCENTILES
        mode = WindowMode(mode)
        if mode is WindowMode.FULL_RANGE:
            return cls.full_range(image.dtype)
        if mode is WindowMode.MIN_MAX:
            return cls.min_max(image)
        return cls.percentiles(image)

    @classmethod
    def _window(cls, image: np.ndarray, low: float, high: float) -> ImageDisplay:
        if high <= low:  # a flat image: show its one value mid-grey rather than fail
            high = low + 1.0
            low = low - 1.0
        return cls(low, high)

    def table(self, dtype: np.dtype | type, opacity: float = 1.0) -> np.ndarray:
        """The read-only uint8 lookup table for images of ``dtype`` (256 or 65536 entries), scaled by
        ``opacity`` (the image over black)."""
        dtype = check_image_dtype(np.dtype(dtype))
        return _display_table(self.low, self.high, dtype.str, float(opacity))

    def to_display(self, image: np.ndarray, opacity: float = 1.0) -> np.ndarray:
        """``image`` (any shape) as display values, a new uint8 array of the same shape."""
        image = np.asarray(image)
        return self.table(image.dtype, opacity).take(image)


@lru_cache(maxsize=32)
def _display_table(low: float, high: float, dtype_str: str, opacity: float) -> np.ndarray:
    values = np.arange(np.iinfo(np.dtype(dtype_str)).max + 1, dtype=np.float64)
    scaled = np.clip((values - low) * (255.0 / (high - low)), 0.0, 255.0)
    table = np.rint(np.rint(scaled) * opacity).astype(np.uint8)
    table.flags.writeable = False
    return table


def check_image_dtype(dtype: np.dtype) -> np.dtype:
    """``dtype`` if images of it can be shown (uint8, uint16); else ValueError."""
    if dtype not in _IMAGE_DTYPES:
        raise ValueError(f"images are shown from uint8 or uint16 values, got {dtype}; convert the image first")
    return dtype


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    check_image_dtype(image.dtype)
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"an image is a non-empty (H, W) or (H, W, C) array, got shape {image.shape}")
    return image
