"""How sure a semantic model was of each pixel, kept small: :class:`Confidence`, built from the model's per-class
probabilities once, then used without running the model again.

The ``(K, H, W)`` probabilities cost K times the image; a :class:`Confidence` keeps the prediction (its class per
pixel) and its certainty (the probability of that class, float16), 3 bytes a pixel whatever K, reduced from the
probabilities one band of rows at a time so no float32 copy of them is made. From it:

- :meth:`Confidence.uncertain`: the pixels the model gave less than a threshold to (a review aid: where to look);
- :meth:`Confidence.doubt`: the certainty as a layer, one byte a pixel (0: the model was sure of its class, 255: it
  gave it no probability), drawn by the canvas through the doubt ramp (:func:`~segstudio.core.palettes.doubt_palette`);
- :meth:`Confidence.classes_at`: the prediction re-derived at a certainty threshold: uncertain pixels take the label
  set's unlabelled value (so they are left out of the scores and stand out to be labelled), the rest keep their
  class; equal to thresholding a fresh prediction's probabilities the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BAND_PIXELS = 1 << 20  # rows per band: about a megapixel of each class's probabilities at a time


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Confidence:
    """The prediction ``classes`` and each pixel's ``certainty`` (the probability of its class, float16)."""

    classes: np.ndarray
    certainty: np.ndarray

    def __post_init__(self) -> None:
        if self.classes.shape != self.certainty.shape or self.classes.ndim != 2:
            raise ValueError(f"classes {self.classes.shape} and certainty {self.certainty.shape} must be one 2-D shape")

    @classmethod
    def from_probabilities(cls, classes: np.ndarray, probabilities: np.ndarray) -> Confidence:
        """From a prediction's class mask and its ``(K, H, W)`` probabilities: each pixel's probability of the class
        it was given (not the maximum: on a near tie the prediction's class, decided in float32, may not be the
        float16 maximum, and the certainty must be of the class shown)."""
        classes = np.asarray(classes)
        probabilities = np.asarray(probabilities)
        if probabilities.ndim != 3 or probabilities.shape[1:] != classes.shape:
            raise ValueError(f"probabilities of shape {probabilities.shape} do not fit a {classes.shape} mask")
        count, height, width = probabilities.shape
        if classes.size and int(classes.max()) >= count:
            raise ValueError(f"the mask has class {int(classes.max())} but the probabilities have {count} classes")
        certainty = np.empty((height, width), dtype=np.float16)
        rows = max(1, _BAND_PIXELS // max(1, width))
        for top in range(0, height, rows):
            band = slice(top, min(height, top + rows))
            chosen = classes[band].astype(np.intp)[None]
            certainty[band] = np.take_along_axis(probabilities[:, band], chosen, axis=0)[0]
        return cls(_frozen(np.array(classes, copy=True)), _frozen(certainty))

    @property
    def shape(self) -> tuple[int, int]:
        return self.classes.shape  # type: ignore[return-value]

    @property
    def nbytes(self) -> int:
        return int(self.classes.nbytes + self.certainty.nbytes)

    def doubt(self) -> np.ndarray:
        """uint8 per pixel: ``round(255 * (1 - certainty))`` (0: sure; 128: a probability of one half), computed one
        band of rows at a time (no float32 copy of the image)."""
        height, width = self.certainty.shape
        levels = np.empty((height, width), dtype=np.uint8)
        rows = max(1, _BAND_PIXELS // max(1, width))
        for top in range(0, height, rows):
            band = slice(top, min(height, top + rows))
            doubt = 255.0 - self.certainty[band].astype(np.float32) * 255.0
            np.rint(np.clip(doubt, 0.0, 255.0), out=doubt)
            levels[band] = doubt
        return levels

    def uncertain(self, threshold: float) -> np.ndarray:
        """Bool mask: the pixels whose class the model gave a probability below ``threshold``."""
        return self.certainty < np.float16(_checked(threshold))

    def uncertain_share(self, threshold: float) -> float:
        return uncertain_share(self.certainty, threshold)

    def classes_at(self, threshold: float, *, unlabelled: int | None) -> np.ndarray:
        """The prediction with its uncertain pixels set to ``unlabelled`` (a new array); without an unlabelled
        value there is nothing to mark them with, and the prediction comes back as it is."""
        classes = np.array(self.classes, copy=True)
        if unlabelled is not None:
            classes[self.uncertain(threshold)] = unlabelled
        return classes


def uncertain_share(certainty: np.ndarray, threshold: float) -> float:
    """The share of pixels whose certainty is below ``threshold`` (a certainty map alone, e.g. read from a file)."""
    return float(np.count_nonzero(certainty < np.float16(_checked(threshold)))) / max(1, certainty.size)


def _checked(threshold: float) -> float:
    value = float(threshold)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a certainty threshold is a probability between 0 and 1, got {threshold}")
    return value


__all__ = ["Confidence", "uncertain_share"]
