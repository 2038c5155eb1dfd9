"""ImageDisplay: the window of raw values shown from black to white (how composite uses it: test_compositing.py)."""

from __future__ import annotations

import numpy as np

from segstudio.core.image_display import ImageDisplay, WindowMode


def test_the_window_follows_the_mode_and_the_image_type() -> None:
    rng = np.random.default_rng(8)
    image = (rng.integers(1000, 3000, (45, 61))).astype(np.uint16)
    image[0, 0] = 65535  # one hot pixel: percentiles ignore it, min/max does not
    auto = ImageDisplay.for_image(image)
    assert 1000 <= auto.low < auto.high <= 3000
    assert ImageDisplay.for_image(image, WindowMode.MIN_MAX).high == 65535
    assert ImageDisplay.for_image(image.astype(np.uint8)) == ImageDisplay(0.0, 255.0)
