"""Layer controls: per layer a visibility checkbox and an opacity slider; outlines-only for the masks and the
error map; under the error map and the model's doubt, their legends (:mod:`segstudio.ui.error_legend`,
:mod:`segstudio.ui.doubt_legend`), each shown while its layer is."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSlider, QWidget

from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.ui.doubt_legend import DoubtLegend
from segstudio.ui.error_legend import ErrorLegend

MASK_KINDS = (LayerKind.GROUND_TRUTH, LayerKind.PREDICTION, LayerKind.WORKING, LayerKind.ERROR_MAP)
_OUTLINE_TIPS = {LayerKind.ERROR_MAP: "outline the mistakes only, without the stripes"}
_LAYER_TIPS = {
    LayerKind.GROUND_TRUTH: "the ground truth (G: hold to see it alone, filled)",
    LayerKind.PREDICTION: "the model's prediction, as it came (V)",
    LayerKind.WORKING: "the mask you are correcting",
    LayerKind.ERROR_MAP: "where the working mask differs from the ground truth, hatched (X); legend below",
    LayerKind.CERTAINTY: "how unsure the model was of each pixel's class, from its last prediction of this image "
                         "(Shift+U); legend below",
}


class LayerPanel(QWidget):
    """``style_changed(LayerKind, LayerStyle)`` on every user change; :meth:`set_style` updates the controls
    without emitting (e.g. when a shortcut toggled a layer)."""

    style_changed = Signal(object, object)

    def __init__(self, styles: dict[LayerKind, LayerStyle], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._styles = dict(styles)
        self.visible: dict[LayerKind, QCheckBox] = {}
        self.opacity: dict[LayerKind, QSlider] = {}
        self.outline: dict[LayerKind, QCheckBox] = {}
        self.legend = ErrorLegend(self)
        self.doubt_legend = DoubtLegend(self)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(QLabel("layer"), 0, 0)
        grid.addWidget(QLabel("opacity"), 0, 1)
        grid.addWidget(QLabel("outline"), 0, 2)
        rows = {kind: row for row, kind in enumerate(LayerKind, start=1)}
        rows[LayerKind.CERTAINTY] += 1  # below the error map's legend
        for kind, row in rows.items():
            box = QCheckBox(kind.value, self)
            box.setToolTip(_LAYER_TIPS.get(kind, ""))
            slider = QSlider(Qt.Orientation.Horizontal, self)
            slider.setRange(0, 100)
            box.toggled.connect(lambda _on, k=kind: self._changed(k))
            slider.valueChanged.connect(lambda _v, k=kind: self._changed(k))
            self.visible[kind], self.opacity[kind] = box, slider
            grid.addWidget(box, row, 0)
            grid.addWidget(slider, row, 1)
            if kind in MASK_KINDS:
                outline = QCheckBox(self)
                outline.setToolTip(_OUTLINE_TIPS.get(kind, "draw class boundaries only"))
                outline.toggled.connect(lambda _on, k=kind: self._changed(k))
                self.outline[kind] = outline
                grid.addWidget(outline, row, 2)
            if kind is LayerKind.ERROR_MAP:
                grid.addWidget(self.legend, row + 1, 0, 1, 3)
            if kind is LayerKind.CERTAINTY:
                grid.addWidget(self.doubt_legend, row + 1, 0, 1, 3)
            self.set_style(kind, self._styles[kind])
        grid.setRowStretch(len(LayerKind) + 3, 1)

    def set_legend_colours(self, errors: np.ndarray, background: str | None) -> None:
        """The error colours the canvas draws with now and the background class's name, for the legend."""
        self.legend.set_colours(errors, background)

    def style(self, kind: LayerKind) -> LayerStyle:
        return self._styles[kind]

    def set_style(self, kind: LayerKind, style: LayerStyle) -> None:
        self._styles[kind] = style
        widgets = [self.visible[kind], self.opacity[kind]] + ([self.outline[kind]] if kind in self.outline else [])
        for widget in widgets:
            widget.blockSignals(True)
        self.visible[kind].setChecked(style.visible)
        self.opacity[kind].setValue(round(style.opacity * 100))
        if kind in self.outline:
            self.outline[kind].setChecked(style.outline_only)
        for widget in widgets:
            widget.blockSignals(False)
        self._follow(kind)

    def toggle(self, kind: LayerKind) -> None:
        """Flip a layer's visibility as if its checkbox was clicked."""
        self.visible[kind].setChecked(not self.visible[kind].isChecked())

    def _changed(self, kind: LayerKind) -> None:
        outline = self.outline[kind].isChecked() if kind in self.outline else False
        style = replace(self._styles[kind], visible=self.visible[kind].isChecked(),
                        opacity=self.opacity[kind].value() / 100.0, outline_only=outline)
        self._styles[kind] = style
        self._follow(kind)
        self.style_changed.emit(kind, style)

    def _follow(self, kind: LayerKind) -> None:
        if kind is LayerKind.CERTAINTY:
            style = self._styles[kind]
            self.doubt_legend.set_opacity(style.opacity)
            self.doubt_legend.setVisible(style.visible)
        if kind is LayerKind.ERROR_MAP:
            style = self._styles[kind]
            self.legend.set_style(style)
            self.legend.setVisible(style.visible)
