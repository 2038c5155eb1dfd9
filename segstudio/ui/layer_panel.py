"""Layer controls: per layer a visibility checkbox and an opacity slider; outlines-only for the masks."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSlider, QWidget

from segstudio.core.layers import LayerKind, LayerStyle

MASK_KINDS = (LayerKind.GROUND_TRUTH, LayerKind.PREDICTION, LayerKind.WORKING)


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
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(QLabel("layer"), 0, 0)
        grid.addWidget(QLabel("opacity"), 0, 1)
        grid.addWidget(QLabel("outline"), 0, 2)
        for row, kind in enumerate(LayerKind, start=1):
            box = QCheckBox(kind.value, self)
            slider = QSlider(Qt.Orientation.Horizontal, self)
            slider.setRange(0, 100)
            box.toggled.connect(lambda _on, k=kind: self._changed(k))
            slider.valueChanged.connect(lambda _v, k=kind: self._changed(k))
            self.visible[kind], self.opacity[kind] = box, slider
            grid.addWidget(box, row, 0)
            grid.addWidget(slider, row, 1)
            if kind in MASK_KINDS:
                outline = QCheckBox(self)
                outline.setToolTip("draw class boundaries only")
                outline.toggled.connect(lambda _on, k=kind: self._changed(k))
                self.outline[kind] = outline
                grid.addWidget(outline, row, 2)
            self.set_style(kind, self._styles[kind])
        grid.setRowStretch(len(LayerKind) + 1, 1)

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

    def toggle(self, kind: LayerKind) -> None:
        """Flip a layer's visibility as if its checkbox was clicked."""
        self.visible[kind].setChecked(not self.visible[kind].isChecked())

    def _changed(self, kind: LayerKind) -> None:
        outline = self.outline[kind].isChecked() if kind in self.outline else False
        style = LayerStyle(self.visible[kind].isChecked(), self.opacity[kind].value() / 100.0, outline)
        self._styles[kind] = style
        self.style_changed.emit(kind, style)
