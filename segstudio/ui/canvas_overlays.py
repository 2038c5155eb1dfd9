"""What the canvas draws over its tiles, in widget pixels: the polygon being drawn, the brush's outline, an outline
being edited and the points clicked for a promptable model."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
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


def draw_outline(painter: QPainter, rings: list[list[QPointF]], handle: float = 3.0) -> None:
    """An outline being edited: each ring closed, black under yellow so it shows on any colour, and its vertices
    as small squares (``handle``: half their side, widget pixels)."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for width, colour in ((3.0, QColor(0, 0, 0)), (1.5, QColor(255, 255, 0))):
        painter.setPen(QPen(colour, width))
        for ring in rings:
            painter.drawPolygon(QPolygonF(ring))
    painter.setPen(QPen(QColor(0, 0, 0), 1))
    painter.setBrush(QColor(255, 255, 0))
    for ring in rings:
        for point in ring:
            painter.drawRect(QRectF(point.x() - handle, point.y() - handle, 2 * handle, 2 * handle))


__all__ = ["draw_outline", "draw_overlays"]


def draw_marks(painter: QPainter, marks: list[tuple[QPointF, bool]], radius: float = 5.0) -> None:
    """Click to segment's points: on the object a green dot with a plus, left out a red dot with a minus, each
    ringed in black and white so it shows on any colour."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    for at, inside in marks:
        painter.setPen(QPen(QColor(0, 0, 0), 3))
        painter.setBrush(QColor(39, 174, 96) if inside else QColor(235, 87, 87))
        painter.drawEllipse(at, radius, radius)
        painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.drawEllipse(at, radius, radius)
        arm = radius * 0.55
        painter.drawLine(QPointF(at.x() - arm, at.y()), QPointF(at.x() + arm, at.y()))
        if inside:
            painter.drawLine(QPointF(at.x(), at.y() - arm), QPointF(at.x(), at.y() + arm))


def draw_scribble(painter: QPainter, points: list[QPointF], keep: bool, width: float) -> None:
    """A box cut's refining stroke as it is drawn: green where it marks the object, red where it marks what is not,
    half transparent, ``width`` widget pixels wide (what it will mark)."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    colour = QColor(39, 174, 96, 160) if keep else QColor(235, 87, 87, 160)
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.drawPolyline(QPolygonF(points))
