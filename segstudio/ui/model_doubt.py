"""The model-doubt layer of one window: the shown image's certainty per pixel, kept from its last semantic prediction
(:class:`~segstudio.core.confidence.Confidence`), handed to the canvas as one byte a pixel
(:meth:`~segstudio.core.confidence.Confidence.doubt`) and drawn through the doubt ramp, with the legend under the
layer's row saying what it shows now. It follows a new prediction, the certainty threshold's re-derivation and the
image; shown without a kept prediction, it says how to get one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from segstudio.core.confidence import Confidence
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.ui.canvas import Canvas
from segstudio.ui.layer_panel import LayerPanel
from segstudio.ui.predictions import PredictionController

NO_PREDICTION = ("predict this image with a semantic model (Model panel) to see how sure it was: the certainty is kept "
                 "from that run")


class ModelDoubt(QObject):
    """Feeds the canvas's doubt layer. ``status(message, ms)``: why the shown layer is empty."""

    status = Signal(str, int)

    def __init__(self, canvas: Canvas, predictions: PredictionController, panel: LayerPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._predictions = predictions
        self._panel = panel
        self._shown: Confidence | None = None
        self._levels = None  # the doubt of _shown, computed once per prediction
        predictions.confidence_changed.connect(lambda _confidence: self.refresh())
        canvas.palettes_changed.connect(self.refresh)  # a new session
        panel.style_changed.connect(self._on_style)

    def refresh(self) -> None:
        """Give the canvas the shown image's doubt (None when no prediction of it is kept)."""
        confidence = self._predictions.confidence
        session = self._canvas.session
        if confidence is None or session is None or confidence.shape != session.shape:
            confidence = None
        if confidence is not self._shown:
            self._shown = confidence
            self._levels = None if confidence is None else confidence.doubt()
        if self._canvas.doubt is not self._levels:  # a new session starts without it
            self._canvas.set_doubt(self._levels)
        self._panel.doubt_legend.set_note("" if confidence is not None else NO_PREDICTION)

    def _on_style(self, kind: LayerKind, style: LayerStyle) -> None:
        if kind is LayerKind.CERTAINTY and style.visible and self._shown is None:
            self.status.emit(NO_PREDICTION, 8000)


__all__ = ["ModelDoubt", "NO_PREDICTION"]
