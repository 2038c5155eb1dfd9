"""What an edit writes, and the masks it may write into: :class:`Stamp` and the checks of masks and class values.

A :class:`Stamp` is a rectangle, the pixels inside it that get a value, and that value: the result of an editing
operation (:mod:`segstudio.core.editing`) before anything is written. Only
:class:`segstudio.core.document.MaskDocument` writes pixels, and it checks every stamp's value with
:func:`check_value`; :func:`check_mask` is the one definition of a class-index mask (2-D uint8 or uint16) that
both sides share.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from segstudio.core.geometry import EMPTY_RECT, Rect

MASK_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
_LIMITS = {dtype: int(np.iinfo(dtype).max) for dtype in MASK_DTYPES}  # np.iinfo per dab is measurable


@dataclass(frozen=True, eq=False)
class Stamp:
    """What an edit would write: ``value`` into the pixels of ``rect`` where ``pixels`` is True.

    ``rect`` lies inside the image it was computed for; it bounds the candidate shape and may be looser
    than the set pixels (see :meth:`trimmed`). ``pixels`` has the shape of ``rect``.
    """

    rect: Rect
    pixels: np.ndarray
    value: int

    def __post_init__(self) -> None:
        if self.pixels.dtype != np.bool_ or self.pixels.ndim != 2:
            raise ValueError(f"stamp pixels must be a 2-D bool array, "
                             f"got {self.pixels.dtype} with {self.pixels.ndim} dims")
        if self.pixels.shape != (self.rect.height, self.rect.width):
            raise ValueError(f"stamp pixels have shape {self.pixels.shape} but the rectangle {self.rect} needs "
                             f"{(self.rect.height, self.rect.width)}")
        if self.value < 0:
            raise ValueError(f"a class value is >= 0, got {self.value}")

    @classmethod
    def empty(cls, value: int) -> Stamp:
        return cls(EMPTY_RECT, np.zeros((0, 0), dtype=bool), value)

    @property
    def is_empty(self) -> bool:
        """True when the stamp writes no pixel."""
        return self.rect.is_empty or not self.pixels.any()

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.pixels))

    def trimmed(self) -> Stamp:
        """The same stamp with ``rect`` shrunk to the bounding box of its set pixels."""
        rows = np.flatnonzero(self.pixels.any(axis=1))
        if rows.size == 0:
            return Stamp.empty(self.value)
        cols = np.flatnonzero(self.pixels.any(axis=0))
        top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        if (top, left, bottom, right) == (0, 0, self.rect.height, self.rect.width):
            return self
        inner = Rect(top, left, bottom, right)
        return replace(self, rect=inner.translated(self.rect.top, self.rect.left), pixels=self.pixels[inner.slices])


def check_mask(mask: np.ndarray) -> None:
    """Raise ValueError unless ``mask`` is a 2-D uint8 or uint16 class-index array."""
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"a mask is a 2-D class-index array, got {type(mask).__name__} with shape {np.shape(mask)}")
    if mask.dtype not in MASK_DTYPES:
        raise ValueError(f"a mask is uint8 (up to 255 classes) or uint16, got {mask.dtype}; convert it with "
                         f"mask.astype(np.uint8) or mask.astype(np.uint16)")


def check_value(value: int, dtype: np.dtype) -> int:
    """Return ``value`` as an int if it is a class index that a mask of ``dtype`` can hold; else ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"a class value is an integer, got {value!r}")
    limit = _LIMITS.get(dtype) or np.iinfo(dtype).max
    if not 0 <= value <= limit:
        hint = "; store the mask as uint16 for more than 255 classes" if np.dtype(dtype) == np.uint8 else ""
        raise ValueError(f"class value {value} does not fit a {np.dtype(dtype)} mask (0..{limit}){hint}")
    return int(value)
