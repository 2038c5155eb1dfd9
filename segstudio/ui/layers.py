"""The canvas's layer styles and the layer panel kept in step: the user's changes, the shortcuts that toggle a
layer, the main view (prediction and error map shown once an image has both ground truth and a prediction), the
opacities and the visibility the user chose remembered between runs, and the error map's legend in the colours the
canvas draws with.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, QSettings

from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.session import ImageSession
from segstudio.ui.canvas import Canvas
from segstudio.ui.layer_panel import LayerPanel

MAIN_VIEW = (LayerKind.PREDICTION, LayerKind.ERROR_MAP)


def _opacity_key(kind: LayerKind) -> str:
    return f"opacity/{kind.name}"


def _visible_key(kind: LayerKind) -> str:
    return f"visible/{kind.name}"


class LayerController(QObject):
    """Layer styles of one window: the canvas draws them, the panel shows and changes them."""

    def __init__(self, canvas: Canvas, panel: LayerPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._panel = panel
        self._touched: set[LayerKind] = set()  # layers whose visibility the user changed this run
        self._chosen: dict[LayerKind, bool] = {}  # visibility the user chose, this run or an earlier one
        panel.style_changed.connect(self._on_user_change)
        canvas.palettes_changed.connect(self._show_legend_colours)
        self._show_legend_colours()

    def style(self, kind: LayerKind) -> LayerStyle:
        return self._canvas.layer_style(kind)

    def set_style(self, kind: LayerKind, style: LayerStyle) -> None:
        """Draw and show ``style`` (not a user change: the main view rule still applies to this layer)."""
        self._canvas.set_layer_style(kind, style)
        self._panel.set_style(kind, style)

    def toggle(self, kind: LayerKind) -> None:
        """Flip a layer's visibility as the user (a shortcut): the panel's checkbox, then the canvas."""
        self._panel.toggle(kind)

    def _show_legend_colours(self) -> None:
        palettes, session = self._canvas.palettes, self._canvas.session
        if palettes is None or session is None:
            return
        background = None
        if session.background is not None:
            try:
                background = session.labels.name_of(session.background)
            except KeyError:
                background = f"value {session.background}"
        self._panel.set_legend_colours(palettes.errors, background)

    def _on_user_change(self, kind: LayerKind, style: LayerStyle) -> None:
        if style.visible != self.style(kind).visible:
            self._chosen[kind] = style.visible
        self._touched.add(kind)
        self._canvas.set_layer_style(kind, style)

    def show_main_view(self, session: ImageSession) -> None:
        """With both ground truth and a prediction, show the prediction and the error map (the product's main
        view), unless the user changed those layers' visibility this run."""
        if session.ground_truth is None or session.prediction is None:
            return
        for kind in MAIN_VIEW:
            style = self.style(kind)
            if kind not in self._touched and not style.visible:
                self.set_style(kind, replace(style, visible=True))

    def restore(self, settings: QSettings) -> None:
        """The opacities of the last run, and the visibility the user chose in a run before (which the main view
        rule then leaves alone, as if chosen in this run)."""
        for kind in LayerKind:
            visible = settings.value(_visible_key(kind))
            if visible is not None:
                self._chosen[kind] = str(visible).lower() in ("true", "1")
                self._touched.add(kind)
                self.set_style(kind, replace(self.style(kind), visible=self._chosen[kind]))
            opacity = settings.value(_opacity_key(kind))
            if opacity is None:
                continue
            style = self.style(kind)
            try:
                self.set_style(kind, replace(style, opacity=min(1.0, max(0.0, float(opacity)))))
            except (TypeError, ValueError):
                continue

    def save(self, settings: QSettings) -> None:
        for kind in LayerKind:
            settings.setValue(_opacity_key(kind), self.style(kind).opacity)
        for kind, visible in self._chosen.items():
            settings.setValue(_visible_key(kind), visible)


__all__ = ["LayerController"]
