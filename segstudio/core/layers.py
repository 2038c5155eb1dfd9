"""The layers the canvas stacks, and how each is drawn: :class:`LayerKind`, :class:`LayerStyle` and :data:`Layer`.

A layer is a ``(kind, mask, style)`` triple (:data:`Layer`) that :func:`~segstudio.core.compositing.composite` draws
over the image in order; the kind picks the palette (class colours, error colours for the error map, a doubt ramp for
the model's certainty) and the
style says whether it is shown, how opaque it is, and whether only class boundaries are drawn or the regions hatched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np


class LayerKind(Enum):
    """The layers the canvas shows, bottom to top in the usual order."""

    IMAGE = "image"
    GROUND_TRUTH = "ground truth"
    PREDICTION = "prediction"
    WORKING = "working mask"
    ERROR_MAP = "error map"
    CERTAINTY = "model doubt"  # how unsure the model was of each pixel's class (0: sure), from its probabilities


@dataclass(frozen=True, slots=True)
class LayerStyle:
    """How one layer is drawn: shown or not, its opacity (0..1), and for masks whether only class
    boundaries are drawn (a pixel whose 4-neighbour holds another value) or the regions hatched: their
    boundaries plus diagonal stripes, so whatever lies below shows between the stripes (the error map over the
    working mask's class colours). ``outline_only`` wins over ``hatched``."""

    visible: bool = True
    opacity: float = 1.0
    outline_only: bool = False
    hatched: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.opacity, (int, float)) and math.isfinite(self.opacity) and 0.0 <= self.opacity <= 1.0):
            raise ValueError(f"layer opacity is a number from 0 (invisible) to 1 (opaque), got {self.opacity!r}")

    @property
    def shows(self) -> bool:
        """Whether drawing the layer changes anything at all."""
        return self.visible and self.opacity > 0.0


Layer = tuple[LayerKind, np.ndarray, LayerStyle]
