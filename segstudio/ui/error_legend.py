"""The error map's legend, under its row in the layer panel: what each mark means, each swatch drawn by the same
compositing as the canvas (the label set's error colours, hatched or outlined as the layer is), so the legend
and the picture cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from segstudio.core.compositing import composite
from segstudio.core.error_map import ERROR_COLOURS, ErrorKind, error_palette
from segstudio.core.geometry import Rect
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes
from segstudio.ui.pixel_readout import MARK_WORDS
from segstudio.ui.qt_image import wrap_rgba

SWATCH = 18  # pixels per side
_SWATCH_GREY = 150  # a neutral "image" under the swatch's mark


@dataclass(frozen=True)
class LegendEntry:
    """One row: the kind, its short text, the longer explanation (tooltip) and the RGB it is drawn in (None:
    not drawn, "no mark")."""

    kind: ErrorKind
    text: str
    explanation: str
    colour: tuple[int, int, int] | None


def legend_entries(errors: np.ndarray, background: str | None) -> list[LegendEntry]:
    """The legend's rows for error palette ``errors`` (``(N, 4)`` RGBA by :class:`ErrorKind`) when the class
    named ``background`` counts as "nothing there" (None: no class does, so every mistake is a wrong class)."""
    def colour(kind: ErrorKind) -> tuple[int, int, int] | None:
        r, g, b, a = (int(v) for v in errors[kind])
        return (r, g, b) if a else None

    rows: list[LegendEntry] = []
    if background is not None:
        rows += [
            LegendEntry(ErrorKind.FALSE_NEGATIVE, f"{MARK_WORDS[ErrorKind.FALSE_NEGATIVE]} (false negative)",
                        f"the ground truth has a class here, the working mask has {background}",
                        colour(ErrorKind.FALSE_NEGATIVE)),
            LegendEntry(ErrorKind.FALSE_POSITIVE, f"{MARK_WORDS[ErrorKind.FALSE_POSITIVE]} (false positive)",
                        f"the working mask has a class here, the ground truth has {background}",
                        colour(ErrorKind.FALSE_POSITIVE)),
        ]
    rows += [
        LegendEntry(ErrorKind.WRONG_CLASS, MARK_WORDS[ErrorKind.WRONG_CLASS],
                    "the working mask and the ground truth have different classes here", colour(ErrorKind.WRONG_CLASS)),
        LegendEntry(ErrorKind.TRUE_POSITIVE, "correct: no mark",
                    "the working mask agrees with the ground truth: only its class colour shows",
                    colour(ErrorKind.TRUE_POSITIVE)),
        LegendEntry(ErrorKind.IGNORED, "not scored: no mark",
                    "the ground truth or the working mask is unlabelled here (the ignore id): left out of every score",
                    colour(ErrorKind.IGNORED)),
    ]
    return rows


def swatch_pixels(kind: ErrorKind, errors: np.ndarray, style: LayerStyle) -> np.ndarray:
    """``(SWATCH, SWATCH, 4)`` RGBA: a patch of ``kind`` inside a correct border, composited over grey as the
    canvas composites the error map in ``style`` (hatched or outlined), at full opacity whatever its visibility."""
    kinds = np.full((SWATCH, SWATCH), ErrorKind.TRUE_NEGATIVE, dtype=np.uint8)
    kinds[2:-2, 2:-2] = kind
    image = np.full((SWATCH, SWATCH), _SWATCH_GREY, dtype=np.uint8)
    out = np.empty((SWATCH, SWATCH, 4), dtype=np.uint8)
    shown = LayerStyle(True, 1.0, style.outline_only, style.hatched)  # the colour itself, as the legend names it
    composite(out, Rect(0, 0, SWATCH, SWATCH), image=image, layers=[(LayerKind.ERROR_MAP, kinds, shown)],
              palettes=Palettes(np.zeros((1, 4), np.uint8), errors))
    return out


class ErrorLegend(QWidget):
    """The legend rows (see the module notes); :meth:`set_colours` and :meth:`set_style` keep them current."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._errors = error_palette(colours=ERROR_COLOURS)
        self._background: str | None = "background"
        self._style = LayerStyle(hatched=True)
        grid = QGridLayout(self)
        grid.setContentsMargins(22, 0, 0, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(1)
        self.title = QLabel("working mask vs ground truth:", self)
        self.title.setToolTip("the error map marks where the working mask differs from the ground truth; "
                              "painting a fix removes the mark")
        grid.addWidget(self.title, 0, 0, 1, 2)
        self._rows: dict[ErrorKind, tuple[QLabel, QLabel]] = {}
        for row, kind in enumerate(_ORDER, start=1):
            swatch, text = QLabel(self), QLabel(self)
            swatch.setFixedSize(SWATCH, SWATCH)
            grid.addWidget(swatch, row, 0)
            grid.addWidget(text, row, 1)
            self._rows[kind] = (swatch, text)
        self._entries: list[LegendEntry] = []
        self._refresh()

    @property
    def entries(self) -> list[LegendEntry]:
        """The rows shown now."""
        return list(self._entries)

    def set_colours(self, errors: np.ndarray, background: str | None) -> None:
        """The error palette the canvas draws with, and the name of the class that counts as background."""
        self._errors = np.array(errors, dtype=np.uint8, copy=True)
        self._background = background
        self._refresh()

    def set_style(self, style: LayerStyle) -> None:
        """The error map's layer style (hatched or outline only): the swatches follow it."""
        if style != self._style:
            self._style = style
            self._refresh()

    def _refresh(self) -> None:
        self._entries = legend_entries(self._errors, self._background)
        shown = {entry.kind: entry for entry in self._entries}
        for kind, (swatch, text) in self._rows.items():
            entry = shown.get(kind)
            swatch.setVisible(entry is not None)
            text.setVisible(entry is not None)
            if entry is None:
                continue
            text.setText(entry.text)
            text.setToolTip(entry.explanation)
            swatch.setToolTip(entry.explanation)
            if entry.colour is None:
                swatch.clear()
            else:
                pixels = swatch_pixels(entry.kind, self._errors, self._style)
                swatch.setPixmap(QPixmap.fromImage(wrap_rgba(pixels).copy()))


_ORDER = (ErrorKind.FALSE_NEGATIVE, ErrorKind.FALSE_POSITIVE, ErrorKind.WRONG_CLASS, ErrorKind.TRUE_POSITIVE,
          ErrorKind.IGNORED)

__all__ = ["LegendEntry", "ErrorLegend", "legend_entries", "swatch_pixels"]
