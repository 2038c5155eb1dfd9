"""The confusion matrix as a heat map with class names on both axes and a colour legend (counts on a log scale, or
row shares), drawn with QPainter into a rectangle; :func:`heatmap_geometry` also answers which cell a point is on
(the dataset view's clicks and tooltips)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen


from segstudio.ui.figure_data import (
    HIGHLIGHT,
    MUTED,
    TEXT,
    ColourScale,
    FigureData,
    FigureStyle,
    compact_count,
    elided,
    scale_colour,
    share_text,
    text_width,
)

# -- per-class bars -------------------------------------------------------------------------------------------


# -- the confusion matrix -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapGeometry:
    """Where the heat map's parts lie: the cells' square grid, the class-name bands and the colour legend."""

    rect: QRectF
    grid: QRectF
    count: int
    label_px: float
    label_every: int  # a name on every n-th row/column (1 unless the cells are too small for every name)
    name_width: float
    legend: QRectF
    title: QRectF
    bottom: float  # the height from the rectangle's top that the heat map uses, its notes included

    @property
    def cell(self) -> float:
        return self.grid.width() / self.count if self.count else 0.0

    def cell_rect(self, truth: int, predicted: int) -> QRectF:
        size = self.cell
        return QRectF(self.grid.left() + predicted * size, self.grid.top() + truth * size, size, size)

    def cell_at(self, point: QPointF) -> tuple[int, int] | None:
        """(truth, predicted) of the cell under ``point``, or None off the grid."""
        if not self.count or not self.grid.contains(point):
            return None
        size = self.cell
        predicted = min(self.count - 1, int((point.x() - self.grid.left()) / size))
        truth = min(self.count - 1, int((point.y() - self.grid.top()) / size))
        return truth, predicted


def heatmap_geometry(rect: QRectF, data: FigureData, style: FigureStyle, *, normalised: bool = False) -> HeatmapGeometry:
    """Lay the heat map out in ``rect``: title on top, truth names left, prediction names below (upright text
    turned 90 degrees so long names never overlap), legend right, the largest square grid that fits."""
    n = max(1, data.num_classes)
    text_font = style.font()
    text_h = QFontMetricsF(text_font).height()
    title_h = QFontMetricsF(style.title_font()).height() + 6
    gap = 6.0
    swatch = 10.0
    legend_w = _legend_width(data, style, normalised)
    label_px = float(style.small_px)
    name_width = 0.0
    cell = 0.0
    for _ in range(3):  # the names' size depends on the cells', which depends on the names' room
        font = style.font(label_px)
        widest = max((text_width(font, name) for name in data.class_names), default=0.0)
        name_width = min(widest, max(40.0, rect.width() * 0.22)) + swatch + 4
        avail_w = rect.width() - text_h - gap - name_width - gap - legend_w
        avail_h = rect.height() - title_h - gap - name_width - gap - text_h - 2 * text_h  # axis title, a note line
        cell = max(1.0, min(avail_w, avail_h) / n)
        line = QFontMetricsF(font).height()
        if cell >= line or label_px <= 7:
            break
        label_px = max(7.0, math.floor(cell * 0.8))
    line = QFontMetricsF(style.font(label_px)).height()
    every = max(1, math.ceil(line / cell)) if cell < line else 1
    block_w = text_h + gap + name_width + cell * n + gap + legend_w
    left = rect.left() + max(0.0, (rect.width() - block_w) / 2)
    grid = QRectF(left + text_h + gap + name_width, rect.top() + title_h, cell * n, cell * n)
    legend = QRectF(grid.right() + gap + 4, grid.top(), 14, grid.height())
    title = QRectF(rect.left(), rect.top(), rect.width(), title_h)
    axis_h = QFontMetricsF(style.font(style.text_px, bold=True)).height()
    note_h = QFontMetricsF(style.font(style.small_px, italic=True)).height() + 2 if data.ignore_index is not None else 0.0
    bottom = grid.bottom() + 4 + name_width + 4 + axis_h + note_h + 4 - rect.top()
    return HeatmapGeometry(rect, grid, data.num_classes, label_px, every, name_width, legend, title, bottom)


def _legend_width(data: FigureData, style: FigureStyle, normalised: bool) -> float:
    font = style.font(style.small_px)
    widest = max(text_width(font, label) for _, label in data.colour_scale(normalised).ticks())
    return 4 + 14 + 4 + widest + 6 + QFontMetricsF(font).height()


def heatmap_title(data: FigureData, normalised: bool) -> str:
    if normalised:
        return "Confusion matrix: share of each ground-truth class's pixels"
    return f"Confusion matrix: pixels, summed over {data.num_images} image{'s' if data.num_images != 1 else ''}"


def draw_confusion_heatmap(
    painter: QPainter, rect: QRectF, data: FigureData, *, normalised: bool = False, style: FigureStyle = FigureStyle(),
    highlight: tuple[int, int] | None = None,
) -> HeatmapGeometry:  # fmt: skip
    """The confusion matrix as a heat map in ``rect`` (rows truth, columns prediction; counts on a log colour scale
    or each row's shares), with class names, axis titles, a legend and the value in every cell large enough to
    hold it. ``highlight``: a (truth, predicted) cell outlined. Returns where everything went."""
    geometry = heatmap_geometry(rect, data, style, normalised=normalised)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setFont(style.title_font())
    painter.setPen(TEXT)
    painter.drawText(geometry.title, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, heatmap_title(data, normalised))
    n = data.num_classes
    values = data.values(normalised)
    scale = data.colour_scale(normalised)
    size = geometry.cell
    texts = cell_texts(data, normalised) if size >= 14 else None
    cell_font = style.font(style.small_px)
    if texts is not None:
        widest_text = max((t for row in texts for t in row), key=len, default="")
        px = float(min(style.small_px, max(7.0, size * 0.45)))
        while px > 7 and text_width(style.font(px), widest_text) > size - 3:
            px -= 0.5
        cell_font = style.font(px)
    cell_metrics = QFontMetricsF(cell_font)
    # Every cell's value or none: a matrix where only the short numbers show would read as if the others were special.
    show_text = (texts is not None and size >= cell_metrics.height() + 2
                 and all(cell_metrics.horizontalAdvance(t) <= size - 2 for row in texts for t in row))
    painter.setFont(cell_font)
    border = QPen(QColor(255, 255, 255), 1) if size >= 6 else Qt.PenStyle.NoPen
    for t in range(n):
        for p in range(n):
            cell_rect = geometry.cell_rect(t, p)
            position = scale.position(float(values[t, p]))
            painter.setPen(border)
            painter.setBrush(scale_colour(position))
            painter.drawRect(cell_rect)
            if show_text and texts is not None:
                text = texts[t][p]
                if text:
                    painter.setPen(QColor(255, 255, 255) if position > 0.55 else TEXT)
                    painter.drawText(cell_rect, Qt.AlignmentFlag.AlignCenter, text)
    if highlight is not None and 0 <= highlight[0] < n and 0 <= highlight[1] < n:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(HIGHLIGHT, 2.5))
        painter.drawRect(geometry.cell_rect(*highlight).adjusted(1, 1, -1, -1))
    _draw_heatmap_names(painter, geometry, data, style)
    _draw_legend(painter, geometry, scale, style, normalised)
    painter.restore()
    return geometry


def cell_texts(data: FigureData, normalised: bool) -> list[list[str]]:
    """What each cell says: its pixels (3 significant digits) or its share of the row; empty for none."""
    if normalised:
        return [[share_text(float(v)) for v in row] for row in data.row_fractions.tolist()]
    return [[compact_count(v) if v else "" for v in row] for row in data.matrix.tolist()]


def _draw_heatmap_names(painter: QPainter, geometry: HeatmapGeometry, data: FigureData, style: FigureStyle) -> None:
    grid, size = geometry.grid, geometry.cell
    font = style.font(geometry.label_px)
    line = QFontMetricsF(font).height()
    swatch = min(10.0, max(4.0, size * 0.6))
    text_w = geometry.name_width - 10 - 4
    painter.setFont(font)
    for i, name in enumerate(data.class_names):
        if i % geometry.label_every:
            continue
        colour = QColor(*data.class_colours[i])
        centre = grid.top() + (i + 0.5) * size
        # Row: swatch next to the grid, name right-aligned before it.
        painter.setPen(QPen(colour.darker(150), 0.8))
        painter.setBrush(colour)
        painter.drawRect(QRectF(grid.left() - 4 - swatch, centre - swatch / 2, swatch, swatch))
        painter.setPen(TEXT)
        painter.drawText(QRectF(grid.left() - 4 - 10 - 4 - text_w, centre - line / 2, text_w, line),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, elided(font, name, text_w))
        # Column: swatch under the grid, name below it turned to read upwards.
        x = grid.left() + (i + 0.5) * size
        painter.setPen(QPen(colour.darker(150), 0.8))
        painter.drawRect(QRectF(x - swatch / 2, grid.bottom() + 4, swatch, swatch))
        painter.save()
        painter.translate(x, grid.bottom() + 4 + 10 + 4)
        painter.rotate(-90)
        painter.setPen(TEXT)
        painter.drawText(QRectF(-text_w, -line / 2, text_w, line),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, elided(font, name, text_w))
        painter.restore()
    axis_font = style.font(style.text_px, bold=True)
    axis_h = QFontMetricsF(axis_font).height()
    painter.setFont(axis_font)
    painter.setPen(TEXT)
    below = grid.bottom() + 4 + geometry.name_width + 4
    painter.drawText(QRectF(grid.left(), below, grid.width(), axis_h), Qt.AlignmentFlag.AlignCenter, "prediction (columns)")
    painter.save()
    painter.translate(grid.left() - geometry.name_width - 6 - axis_h, grid.bottom())
    painter.rotate(-90)
    painter.drawText(QRectF(0, 0, grid.height(), axis_h), Qt.AlignmentFlag.AlignCenter, "ground truth (rows)")
    painter.restore()
    if data.ignore_index is not None:
        note_font = style.font(style.small_px, italic=True)
        painter.setFont(note_font)
        painter.setPen(MUTED)
        note = f"pixels marked {data.ignore_name} ({data.ignore_index}) on either side are not counted"
        left = geometry.rect.left()
        painter.drawText(QRectF(left, below + axis_h + 2, geometry.rect.width(), QFontMetricsF(note_font).height()),
                         Qt.AlignmentFlag.AlignCenter, elided(note_font, note, geometry.rect.width()))


def _draw_legend(painter: QPainter, geometry: HeatmapGeometry, scale: ColourScale, style: FigureStyle, normalised: bool) -> None:
    legend = geometry.legend
    steps = 64
    painter.setPen(Qt.PenStyle.NoPen)
    for i in range(steps):  # darkest at the top; strips, not a gradient, so PNG and SVG show the same colours
        painter.setBrush(scale_colour(1.0 - (i + 0.5) / steps))
        top = legend.top() + legend.height() * i / steps
        painter.drawRect(QRectF(legend.left(), top, legend.width(), legend.height() / steps + 0.6))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(MUTED, 0.8))
    painter.drawRect(legend)
    font = style.font(style.small_px)
    metrics = QFontMetricsF(font)
    painter.setFont(font)
    widest = 0.0
    last_y = math.inf
    for value, label in scale.ticks():
        y = legend.bottom() - scale.position(value) * legend.height()
        if last_y - y < metrics.height() * 0.9:  # too close to the label below it (1 next to 0 on a log scale)
            continue
        last_y = y
        painter.setPen(QPen(MUTED, 0.8))
        painter.drawLine(QPointF(legend.right(), y), QPointF(legend.right() + 3, y))
        painter.setPen(TEXT)
        painter.drawText(QPointF(legend.right() + 5, y + metrics.ascent() / 2 - 1), label)
        widest = max(widest, metrics.horizontalAdvance(label))
    painter.save()
    painter.translate(legend.right() + 5 + widest + 4, legend.bottom())
    painter.rotate(-90)
    painter.setPen(MUTED)
    title = "share of the truth row" if normalised else "pixels (log scale)"
    painter.drawText(QRectF(0, 0, legend.height(), metrics.height()), Qt.AlignmentFlag.AlignCenter, title)
    painter.restore()
