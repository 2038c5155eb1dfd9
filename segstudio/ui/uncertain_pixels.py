"""Showing where the model was unsure (U): the shown image's uncertain pixels, those whose class the model gave a
probability below the Model panel's certainty threshold, marked in orange over the canvas. A review aid: where to
look first. The mark follows the threshold and a new prediction, and goes with the image.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from segstudio.core.confidence import Confidence
from segstudio.ui.canvas import Canvas
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.predictions import PredictionController

UNCERTAIN_COLOUR = (255, 140, 0)


class UncertainPixels(QObject):
    """The "Show uncertain pixels" toggle of one window. ``status(message, ms)``; ``shown_changed(bool)``."""

    status = Signal(str, int)
    shown_changed = Signal(bool)

    def __init__(self, canvas: Canvas, predictions: PredictionController, panel: ModelPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._predictions = predictions
        self._panel = panel
        self.shown = False
        predictions.confidence_changed.connect(lambda _confidence: self._refresh())
        panel.certainty_changed.connect(lambda _threshold: self._refresh())

    def toggle(self) -> None:
        self.set_shown(not self.shown)

    def set_shown(self, shown: bool) -> None:
        confidence = self._predictions.confidence
        if shown and confidence is None:
            self.status.emit("predict this image with a semantic model first: its certainty per pixel is kept from "
                             "that run", 6000)
            shown = False
        was, self.shown = self.shown, shown
        self.shown_changed.emit(shown)  # also when refused: the menu's check mark must say what is shown
        if was and not shown:
            self._canvas.set_highlight(None)
        self._refresh()

    def _refresh(self) -> None:
        if not self.shown:
            return
        confidence: Confidence | None = self._predictions.confidence
        session = self._canvas.session
        if confidence is None or session is None or confidence.shape != session.shape:
            self._canvas.set_highlight(None)
            return
        threshold = self._panel.certainty.value()
        self._canvas.set_highlight(confidence.uncertain(threshold), UNCERTAIN_COLOUR)
        self.status.emit(f"uncertain pixels (below {threshold:.2f}) in orange: "
                         f"{100 * confidence.uncertain_share(threshold):.1f} % of the image", 6000)


__all__ = ["UNCERTAIN_COLOUR", "UncertainPixels"]
