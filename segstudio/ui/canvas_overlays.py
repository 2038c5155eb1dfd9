"""What the canvas draws over its tiles, in widget pixels: the polygon being drawn and the brush's outline."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF


def draw_overlays(painter: QPainter, polygon: list[QPointF], brush_at: QPointF | None, brush_radius: float) -> None:
    """The polygon's points so far (the last one following the mouse) in yellow, and the brush's circle of
    ``brush_radius`` widget pixels around ``brush_at`` (None: no brush shown), black under white so it shows on
    any colour."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if polygon:
        painter.setPen(QPen(QColor(255, 255, 0), 1.5))
        painter.drawPolyline(QPolygonF(polygon))
    if brush_at is not None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0), 3))
        painter.drawEllipse(brush_at, brush_radius, brush_radius)
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawEllipse(brush_at, brush_radius, brush_radius)


__all__ = ["draw_overlays"]
