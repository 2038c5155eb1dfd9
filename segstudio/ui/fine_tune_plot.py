"""The fine-tune's live plot: training loss (left axis) and held-out IoU (right axis) per epoch, the IoU before as a
dashed line and the kept epoch ringed, drawn with QPainter."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


LOSS_COLOUR = QColor("#2e6fba")
IOU_COLOUR = QColor("#d35400")
BEFORE_COLOUR = QColor("#7f8c8d")


class FineTunePlot(QWidget):
    """Training loss (left axis) and held-out mean IoU (right axis) per epoch; the IoU before fine-tuning dashed.

    Data (read by tests): ``points`` ``[(epoch, loss, iou or None)]``, ``before_iou``, ``epochs_planned``, ``live``
    ``(fractional epoch, running loss)`` while an epoch runs, ``best_epoch`` once known.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int, float, float | None]] = []
        self.before_iou: float | None = None
        self.epochs_planned = 1
        self.live: tuple[float, float] | None = None
        self.best_epoch: int | None = None
        self.setMinimumSize(260, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(380, 220)

    def reset(self, epochs: int) -> None:
        self.points, self.before_iou, self.live, self.best_epoch = [], None, None, None
        self.epochs_planned = max(1, int(epochs))
        self.update()

    def set_before(self, iou: float | None) -> None:
        self.before_iou = iou
        self.update()

    def add_epoch(self, epoch: int, loss: float, iou: float | None) -> None:
        self.points = [p for p in self.points if p[0] != epoch] + [(int(epoch), float(loss), iou)]
        self.points.sort()
        self.live = None
        self.update()

    def set_live(self, position: float, loss: float) -> None:
        self.live = (float(position), float(loss))
        self.update()

    # -- drawing -------------------------------------------------------------------------------------------------

    def _loss_top(self) -> float:
        losses = [p[1] for p in self.points] + ([self.live[1]] if self.live else [])
        top = max(losses, default=1.0)
        return _nice_ceiling(top if math.isfinite(top) and top > 0 else 1.0)

    def _iou_top(self) -> float:
        values = [p[2] for p in self.points if p[2] is not None] + ([self.before_iou] if self.before_iou else [])
        return min(1.0, max(0.1, math.ceil(max(values, default=0.1) * 10 + 0.5) / 10))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), self.palette().base())
        metrics = painter.fontMetrics()
        line = metrics.height()
        margin = metrics.horizontalAdvance("0.00") + 12
        legend = self._legend_rows(self.width() - 2 * margin, metrics.horizontalAdvance)
        area = QRectF(self.rect()).adjusted(margin, line * (0.5 + 1.3 * len(legend)), -margin, -(line * 2.2))
        if area.width() < 40 or area.height() < 30:
            return
        text_pen = QPen(self.palette().text().color())
        painter.setPen(QPen(self.palette().mid().color()))
        painter.drawRect(area)
        loss_top, iou_top, epochs = self._loss_top(), self._iou_top(), self.epochs_planned

        def x_of(epoch: float) -> float:
            return area.left() + area.width() * epoch / epochs

        def y_loss(value: float) -> float:
            return area.bottom() - area.height() * min(value, loss_top) / loss_top

        def y_iou(value: float) -> float:
            return area.bottom() - area.height() * min(value, iou_top) / iou_top

        # axes: ticks and labels (loss left, IoU right, epochs below)
        for i in range(5):
            fraction = i / 4
            y = area.bottom() - area.height() * fraction
            painter.setPen(QPen(self.palette().midlight().color(), 1, Qt.PenStyle.DotLine))
            if 0 < i < 4:
                painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(QPen(LOSS_COLOUR))
            painter.drawText(QRectF(0, y - line / 2, area.left() - 4, line), Qt.AlignmentFlag.AlignRight
                             | Qt.AlignmentFlag.AlignVCenter, _tick(loss_top * fraction))
            painter.setPen(QPen(IOU_COLOUR))
            painter.drawText(QRectF(area.right() + 4, y - line / 2, self.width() - area.right() - 4, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{iou_top * fraction:.2f}")
        painter.setPen(text_pen)
        step = max(1, math.ceil(epochs / 10))
        for epoch in range(0, epochs + 1, step):
            x = x_of(epoch)
            painter.drawText(QRectF(x - 20, area.bottom() + 2, 40, line), Qt.AlignmentFlag.AlignHCenter, str(epoch))
        painter.drawText(QRectF(area.left(), area.bottom() + line, area.width(), line), Qt.AlignmentFlag.AlignHCenter,
                         "epoch")

        # the legend above the plot, wrapped into rows that fit
        for row, items in enumerate(legend):
            x, y = area.left(), line * (0.8 + 1.3 * row)
            for colour, style, text in items:
                if style is Qt.PenStyle.NoPen:  # a marker: the kept epoch's ring, or this epoch's running loss
                    painter.setPen(QPen(colour, 2 if "kept" in text else 1.5))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawEllipse(QPointF(x + 8, y), 5 if "kept" in text else 3, 5 if "kept" in text else 3)
                else:
                    painter.setPen(QPen(colour, 2, style))
                    painter.drawLine(QPointF(x, y), QPointF(x + 16, y))
                painter.setPen(text_pen)
                painter.drawText(QPointF(x + 20, y + metrics.ascent() / 2 - 1), text)
                x += 20 + metrics.horizontalAdvance(text) + 14

        if self.before_iou is not None:
            painter.setPen(QPen(BEFORE_COLOUR, 1.5, Qt.PenStyle.DashLine))
            y = y_iou(self.before_iou)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.setClipRect(area.adjusted(-4, -4, 4, 4))
        self._series(painter, [(x_of(e), y_loss(loss)) for e, loss, _ in self.points], LOSS_COLOUR)
        ious = [(x_of(e), y_iou(iou)) for e, _, iou in self.points if iou is not None]
        if self.before_iou is not None:
            ious.insert(0, (x_of(0), y_iou(self.before_iou)))
        self._series(painter, ious, IOU_COLOUR)
        if self.best_epoch is not None:
            best = [p for p in self.points if p[0] == self.best_epoch and p[2] is not None]
            if best:
                painter.setPen(QPen(IOU_COLOUR, 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(QPointF(x_of(best[0][0]), y_iou(best[0][2])), 6, 6)
        if self.live is not None:
            painter.setPen(QPen(LOSS_COLOUR, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(x_of(self.live[0]), y_loss(self.live[1])), 3, 3)
        painter.setClipping(False)
        if not self.points:
            painter.setPen(text_pen)
            font = QFont(painter.font())
            font.setItalic(True)
            painter.setFont(font)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "the first epoch's point appears when it ends")

    def _legend_rows(self, width: float, advance) -> list[list[tuple[QColor, Qt.PenStyle, str]]]:  # noqa: ANN001
        items = [(LOSS_COLOUR, Qt.PenStyle.SolidLine, "training loss (left)"),
                 (IOU_COLOUR, Qt.PenStyle.SolidLine, "held-out IoU (right)")]
        if self.before_iou is not None:
            items.append((BEFORE_COLOUR, Qt.PenStyle.DashLine, f"IoU before {self.before_iou:.3f}"))
        if self.live is not None:
            items.append((LOSS_COLOUR, Qt.PenStyle.NoPen, "loss so far this epoch"))
        if self.best_epoch is not None:
            items.append((IOU_COLOUR, Qt.PenStyle.NoPen, f"kept: epoch {self.best_epoch}"))
        rows: list[list[tuple[QColor, Qt.PenStyle, str]]] = [[]]
        used = 0.0
        for item in items:
            size = 20 + advance(item[2]) + 14
            if rows[-1] and used + size > width:
                rows.append([])
                used = 0.0
            rows[-1].append(item)
            used += size
        return rows

    @staticmethod
    def _series(painter: QPainter, points: list[tuple[float, float]], colour: QColor) -> None:
        if not points:
            return
        painter.setPen(QPen(colour, 2))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            painter.drawLine(QPointF(x0, y0), QPointF(x1, y1))
        painter.setBrush(colour)
        for x, y in points:
            painter.drawEllipse(QPointF(x, y), 2.5, 2.5)
        painter.setBrush(Qt.BrushStyle.NoBrush)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10 x a power of ten that is at least ``value``: a top
    whose quarters (the axis' ticks) are round numbers too."""
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10):
        if step * power >= value * 0.999:
            return step * power
    return 10 * power


def _tick(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"
