"""Stamp, the value an edit computes before anything is written, and the mask and class-value checks."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.geometry import Rect
from segstudio.core.stamp import Stamp


def test_trimmed_shrinks_to_set_pixels():
    pixels = np.zeros((6, 8), dtype=bool)
    pixels[2:4, 3:5] = True
    stamp = Stamp(Rect(10, 20, 16, 28), pixels, 1).trimmed()
    assert stamp.rect == Rect(12, 23, 14, 25) and stamp.pixels.all()
    assert Stamp(Rect(0, 0, 3, 3), np.zeros((3, 3), bool), 1).trimmed().is_empty


def test_stamp_validates_its_shape():
    with pytest.raises(ValueError, match="shape"):
        Stamp(Rect(0, 0, 2, 3), np.zeros((3, 2), bool), 1)
    with pytest.raises(ValueError, match="bool"):
        Stamp(Rect(0, 0, 2, 3), np.zeros((2, 3), np.uint8), 1)
