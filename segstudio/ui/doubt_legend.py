"""The model-doubt layer's legend, under its row in the layer panel: the ramp from "sure" to "no idea", composited by
the same code and table as the canvas (over a grey "image", at the layer's opacity), with the certainty each point
of it stands for, so the legend and the picture cannot disagree.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QWidget

from segstudio.core.compositing import composite
from segstudio.core.geometry import Rect
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes
from segstudio.ui.qt_image import wrap_rgba

RAMP_WIDTH, RAMP_HEIGHT = 180, 12
_GREY = 150  # a neutral "image" under the ramp
TICKS = ("1 sure", "0.5", "0 no idea")  # the certainties at the ramp's left end, middle and right end


def ramp_pixels(opacity: float, width: int = RAMP_WIDTH, height: int = RAMP_HEIGHT) -> np.ndarray:
    """``(height, width, 4)`` RGBA: doubt 0 (left, the model sure) to 255 (right) composited over grey as the
    canvas composites the layer at ``opacity``."""
    levels = np.rint(np.linspace(0, 255, width)).astype(np.uint8)
    doubt = np.broadcast_to(levels, (height, width)).copy()
    image = np.full((height, width), _GREY, dtype=np.uint8)
    out = np.empty((height, width, 4), dtype=np.uint8)
    composite(out, Rect(0, 0, height, width), image=image,
              layers=[(LayerKind.CERTAINTY, doubt, LayerStyle(True, opacity))],
              palettes=Palettes(np.zeros((1, 4), np.uint8)))
    return out


class DoubtLegend(QWidget):
    """The ramp and its ticks; :meth:`set_opacity` follows the layer's slider."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(22, 0, 0, 4)
        grid.setVerticalSpacing(1)
        self.title = QLabel("how sure the model was of its class:", self)
        self.title.setToolTip("the probability the model gave the class it predicted at each pixel, kept from its "
                              "last prediction of this image; clear where it was sure, more opaque the less sure it was")
        grid.addWidget(self.title, 0, 0)
        self.ramp = QLabel(self)
        self.ramp.setFixedSize(RAMP_WIDTH, RAMP_HEIGHT)
        grid.addWidget(self.ramp, 1, 0)
        ticks = QWidget(self)
        ticks.setFixedWidth(RAMP_WIDTH)
        row = QHBoxLayout(ticks)
        row.setContentsMargins(0, 0, 0, 0)
        self.ticks = [QLabel(text, ticks) for text in TICKS]
        for number, label in enumerate(self.ticks):
            label.setStyleSheet("font-size: 9pt;")
            row.addWidget(label)
            if number < len(self.ticks) - 1:
                row.addStretch(1)
        grid.addWidget(ticks, 2, 0)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        grid.addWidget(self.note, 3, 0)
        self._ramp: np.ndarray | None = None
        self.set_opacity(1.0)

    def set_opacity(self, opacity: float) -> None:
        self._ramp = ramp_pixels(opacity)
        self.ramp.setPixmap(QPixmap.fromImage(wrap_rgba(self._ramp).copy()))

    def set_note(self, text: str) -> None:
        """What the layer shows now, e.g. "no prediction of this image kept yet"."""
        self.note.setText(text)
        self.note.setVisible(bool(text))


__all__ = ["DoubtLegend", "ramp_pixels"]
