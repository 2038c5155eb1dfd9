"""A dataset's scores as figures, drawn with QPainter into a given rectangle (no widgets): the confusion matrix as a
heat map, a histogram of per-image mean IoU and per-class IoU/Dice bars, and how they share a rectangle.

The numbers come from :class:`~segstudio.ui.figure_data.FigureData` (the same ones ``segstudio evaluate --json``
writes), so the dataset view, the report (:mod:`segstudio.ui.report_files`) and the JSON agree. The heat map's rows
are the ground truth and its columns the prediction; the ignore id is no class and so no row or column (its pixels
are not counted at all). The same drawing code paints the window's dataset view (:mod:`segstudio.ui.dataset_view`)
and the report, so the geometry functions here (:func:`heatmap_geometry`) also answer which cell a point is on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen


from segstudio.ui.figure_data import (
    FigureData,
    FigureStyle,
    GRID,
    HISTOGRAM_BAR,
    MUTED,
    TEXT,
    elided,
    score_text,
    text_width,
)

# -- per-class bars -------------------------------------------------------------------------------------------
from segstudio.ui.heatmap_figure import HeatmapGeometry, draw_confusion_heatmap, heatmap_geometry



def _axis_ticks(painter: QPainter, plot: QRectF, font: QFont, horizontal_values: Sequence[float], labels: Sequence[str]) -> None:
    """Vertical grid lines at ``horizontal_values`` (0..1 across ``plot``) with their labels under the plot."""
    metrics = QFontMetricsF(font)
    painter.setFont(font)
    for value, label in zip(horizontal_values, labels):
        x = plot.left() + value * plot.width()
        painter.setPen(QPen(GRID, 1))
        painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        if label:
            painter.setPen(TEXT)
            width = metrics.horizontalAdvance(label)
            painter.drawText(QPointF(x - width / 2, plot.bottom() + 3 + metrics.ascent()), label)


def _lighter(colour: QColor, amount: float = 0.55) -> QColor:
    return QColor(*(round(c + (255 - c) * amount) for c in (colour.red(), colour.green(), colour.blue())))


def _begin_figure(painter: QPainter, rect: QRectF, style: FigureStyle, title: str
                  ) -> tuple[QFont, QFont, float, float, float]:
    """Start a figure in ``rect``: the painter saved (the caller restores it), its title drawn; returns the body and
    small fonts, their line heights and the y under the title, with the small font set for what follows."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    title_font, font, small = style.title_font(), style.font(), style.font(style.small_px)
    title_h = QFontMetricsF(title_font).height() + 4
    painter.setFont(title_font)
    painter.setPen(TEXT)
    painter.drawText(QRectF(rect.left(), rect.top(), rect.width(), title_h), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                     elided(title_font, title, rect.width()))
    painter.setFont(small)
    return font, small, QFontMetricsF(font).height(), QFontMetricsF(small).height(), rect.top() + title_h


def draw_class_bars(painter: QPainter, rect: QRectF, data: FigureData, *, style: FigureStyle = FigureStyle()) -> QRectF:
    """Per class, its IoU (solid, the class's colour) and Dice (light) of the summed counts, with the values printed
    and n/a classes (in neither mask) marked; a dashed line at the mean IoU. Returns the plot area (0..1 across)."""
    font, small, line, small_line, y = _begin_figure(
        painter, rect, style, "IoU and Dice per class (pixels summed over the images)")
    # Legend line.
    x = rect.left()
    example = QColor(110, 110, 110)
    for label, fill in (("IoU", example), ("Dice", _lighter(example))):
        painter.setPen(QPen(example, 1))
        painter.setBrush(fill)
        painter.drawRect(QRectF(x, y + small_line / 2 - 5, 18, 10))
        painter.setPen(TEXT)
        painter.drawText(QPointF(x + 22, y + QFontMetricsF(small).ascent()), label)
        x += 22 + text_width(small, label) + 14
    if data.mean_iou is not None:
        painter.setPen(QPen(TEXT, 1.2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, y + small_line / 2), QPointF(x + 18, y + small_line / 2))
        painter.setPen(TEXT)
        painter.drawText(QPointF(x + 22, y + QFontMetricsF(small).ascent()),
                         f"mean IoU {score_text(data.mean_iou)}, mean Dice {score_text(data.mean_dice)}")
    n = max(1, data.num_classes)
    top = y + small_line + 6
    bottom = rect.bottom() - small_line - 3 - line - 2  # tick labels and the axis title
    row = max(1.0, (bottom - top) / n)
    name_px = min(float(style.text_px), max(7.0, row * 0.75))
    name_font = style.font(name_px)
    names_w = min(max((text_width(name_font, nm) for nm in data.class_names), default=0.0), rect.width() * 0.3) + 8
    value_font = style.font(min(style.small_px, max(7.0, row * 0.42)))
    value_w = text_width(value_font, "0.000") + 6
    plot = QRectF(rect.left() + names_w, top, max(10.0, rect.width() - names_w - value_w), row * n)
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    _axis_ticks(painter, plot, small, ticks, [f"{v:.1f}" for v in ticks])
    painter.setFont(font)
    painter.setPen(TEXT)
    painter.drawText(QRectF(plot.left(), plot.bottom() + 3 + small_line, plot.width(), line), Qt.AlignmentFlag.AlignCenter, "score")
    if data.mean_iou is not None:  # under the bars and their values, which stay readable across it
        x = plot.left() + data.mean_iou * plot.width()
        painter.setPen(QPen(TEXT, 1.2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
    bar_h = row * 0.36
    show_values = row * 0.5 >= 6
    for i, name in enumerate(data.class_names):
        colour = QColor(*data.class_colours[i])
        row_top = plot.top() + i * row
        painter.setFont(name_font)
        painter.setPen(TEXT)
        painter.drawText(QRectF(rect.left(), row_top, names_w - 6, row), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         elided(name_font, name, names_w - 6))
        iou, dice = data.iou[i], data.dice[i]
        if iou is None or dice is None:
            painter.setFont(style.font(min(style.small_px, max(7.0, row * 0.6)), italic=True))
            painter.setPen(MUTED)
            painter.drawText(QRectF(plot.left() + 4, row_top, plot.width(), row), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             "n/a: in neither mask")
            continue
        painter.setFont(value_font)
        for k, (value, fill) in enumerate(((iou, colour), (dice, _lighter(colour)))):
            bar_top = row_top + row * 0.12 + k * (bar_h + row * 0.04)
            bar = QRectF(plot.left(), bar_top, value * plot.width(), bar_h)
            painter.setPen(QPen(colour.darker(140), 0.8))
            painter.setBrush(fill)
            painter.drawRect(bar)
            if show_values:
                text = score_text(value)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(255, 255, 255))
                painter.drawRect(QRectF(bar.right() + 2, bar_top, text_width(value_font, text) + 2, bar_h))
                painter.setPen(TEXT)
                painter.drawText(QRectF(bar.right() + 3, bar_top - row * 0.1, value_w, bar_h + row * 0.2),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
    painter.setPen(QPen(MUTED, 1))
    painter.drawLine(plot.bottomLeft(), plot.bottomRight())
    painter.drawLine(plot.topLeft(), plot.bottomLeft())
    painter.restore()
    return plot


# -- histogram of per-image mean IoU --------------------------------------------------------------------------


def _nice_step(maximum: float, ticks: int = 5) -> int:
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)


def histogram_notes(data: FigureData) -> list[str]:
    """The lines under the histogram's title: what it counts and what it leaves out."""
    notes = [f"n/a: {data.na_images} image{'s' if data.na_images != 1 else ''} (no class in either mask; not in the bars)"]
    if data.not_scored:
        notes.append(f"not scored (no ground truth or no prediction): {data.not_scored}")
    return notes


def draw_iou_histogram(painter: QPainter, rect: QRectF, data: FigureData, *, style: FigureStyle = FigureStyle()) -> QRectF:
    """How many images have each mean IoU (:data:`HISTOGRAM_BINS` bins over 0..1), the n/a images counted and said,
    a dashed line at the mean over images. Returns the plot area."""
    scored = data.num_images - data.na_images
    font, small, line, small_line, y = _begin_figure(
        painter, rect, style, f"Mean IoU per image ({scored} image{'s' if scored != 1 else ''})")
    painter.setPen(MUTED)
    for note in histogram_notes(data):
        painter.drawText(QRectF(rect.left(), y, rect.width(), small_line), Qt.AlignmentFlag.AlignLeft, elided(small, note, rect.width()))
        y += small_line
    if data.images_mean_iou is not None:
        painter.setPen(QPen(TEXT, 1.2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(rect.left(), y + small_line / 2), QPointF(rect.left() + 18, y + small_line / 2))
        painter.setPen(TEXT)
        painter.drawText(QPointF(rect.left() + 22, y + QFontMetricsF(small).ascent()),
                         f"mean over the images {score_text(data.images_mean_iou)}")
        y += small_line
    counts = data.histogram_counts
    top_count = max(counts, default=0)
    step = _nice_step(top_count)
    y_max = max(step, math.ceil(top_count / step) * step) if top_count else 1
    tick_labels = [str(v) for v in range(0, y_max + 1, step)]
    label_w = max(text_width(small, t) for t in tick_labels) + 6
    left = rect.left() + line + 4 + label_w
    top = y + small_line + 4  # room for the counts over the bars
    plot = QRectF(left, top, max(10.0, rect.right() - 8 - left), max(10.0, rect.bottom() - small_line - 3 - line - 2 - top))
    # y axis: grid and labels
    metrics = QFontMetricsF(small)
    for value in range(0, y_max + 1, step):
        yy = plot.bottom() - value / y_max * plot.height()
        painter.setPen(QPen(GRID, 1))
        painter.drawLine(QPointF(plot.left(), yy), QPointF(plot.right(), yy))
        painter.setPen(TEXT)
        text = str(value)
        painter.drawText(QPointF(plot.left() - 4 - metrics.horizontalAdvance(text), yy + metrics.ascent() / 2 - 1), text)
    edges = data.histogram_edges
    labels: list[tuple[QRectF, str]] = []
    for i, count in enumerate(counts):
        x0 = plot.left() + edges[i] * plot.width()
        x1 = plot.left() + edges[i + 1] * plot.width()
        height = count / y_max * plot.height()
        bar = QRectF(x0 + 0.5, plot.bottom() - height, x1 - x0 - 1, height)
        if count:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(HISTOGRAM_BAR)
            painter.drawRect(bar)
            if metrics.horizontalAdvance(str(count)) <= x1 - x0:
                labels.append((QRectF(x0, bar.top() - small_line - 1, x1 - x0, small_line), str(count)))
    if data.images_mean_iou is not None:  # over the bars, under their counts
        x = plot.left() + data.images_mean_iou * plot.width()
        painter.setPen(QPen(TEXT, 1.2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
    painter.setFont(small)
    for where, text in labels:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255))
        width = metrics.horizontalAdvance(text) + 2
        painter.drawRect(QRectF(where.center().x() - width / 2, where.bottom() - metrics.height(), width, metrics.height()))
        painter.setPen(TEXT)
        painter.drawText(where, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, text)
    ticks = [i / 10 for i in range(11)]
    _axis_labels_only(painter, plot, small, ticks, [f"{v:.1f}" if i % 2 == 0 else "" for i, v in enumerate(ticks)])
    painter.setPen(QPen(MUTED, 1))
    painter.drawLine(plot.bottomLeft(), plot.bottomRight())
    painter.drawLine(plot.topLeft(), plot.bottomLeft())
    painter.setFont(font)
    painter.setPen(TEXT)
    painter.drawText(QRectF(plot.left(), plot.bottom() + 3 + small_line, plot.width(), line), Qt.AlignmentFlag.AlignCenter,
                     "mean IoU of an image (classes in it averaged)")
    painter.save()
    painter.translate(rect.left(), plot.bottom())
    painter.rotate(-90)
    painter.drawText(QRectF(0, 0, plot.height(), line), Qt.AlignmentFlag.AlignCenter, "images")
    painter.restore()
    painter.restore()
    return plot


def _axis_labels_only(painter: QPainter, plot: QRectF, font: QFont, values: Sequence[float], labels: Sequence[str]) -> None:
    metrics = QFontMetricsF(font)
    painter.setFont(font)
    for value, label in zip(values, labels):
        x = plot.left() + value * plot.width()
        painter.setPen(QPen(MUTED, 1))
        painter.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 3))
        if label:
            painter.setPen(TEXT)
            painter.drawText(QPointF(x - metrics.horizontalAdvance(label) / 2, plot.bottom() + 3 + metrics.ascent()), label)


# -- the three figures together -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FiguresLayout:
    """Where :func:`draw_figures` puts the heat map, the bars and the histogram."""

    matrix: QRectF
    bars: QRectF
    histogram: QRectF


SIDE_BY_SIDE_WIDTH = 700.0  # the tall layout puts bars and histogram side by side from this width
HISTOGRAM_HEIGHT = 240.0
GAP = 16.0


def figures_layout(rect: QRectF, data: FigureData, style: FigureStyle, *, normalised: bool = False) -> FiguresLayout:
    """Wide (:func:`is_wide`): the heat map left, bars over the histogram right. Tall: the heat map on top, as high
    as its width lets it use, then bars and histogram side by side (or stacked when narrow)."""
    n = data.num_classes
    if is_wide(rect.width(), rect.height()):
        side = min(rect.height(), rect.width() * 0.55)
        matrix = QRectF(rect.left(), rect.top(), side, rect.height())
        right = QRectF(matrix.right() + GAP, rect.top(), rect.right() - matrix.right() - GAP, rect.height())
        bars_h = right.height() * min(0.7, max(0.5, 0.4 + n * 0.012))
        return FiguresLayout(matrix, QRectF(right.left(), right.top(), right.width(), bars_h),
                             QRectF(right.left(), right.top() + bars_h + GAP, right.width(), right.height() - bars_h - GAP))
    matrix_h = max(rect.height() * 0.4, rect.height() - _lower_height(rect.width(), n) - GAP)
    matrix_h = min(matrix_h, heatmap_height(rect.width(), data, style, normalised=normalised))
    matrix = QRectF(rect.left(), rect.top(), rect.width(), matrix_h)
    rest = QRectF(rect.left(), matrix.bottom() + GAP, rect.width(), rect.bottom() - matrix.bottom() - GAP)
    if rest.width() >= SIDE_BY_SIDE_WIDTH:
        half = (rest.width() - GAP) / 2
        return FiguresLayout(matrix, QRectF(rest.left(), rest.top(), half, rest.height()),
                             QRectF(rest.left() + half + GAP, rest.top(), half, rest.height()))
    bars_h = (rest.height() - GAP) * _bars_height(n) / (_bars_height(n) + HISTOGRAM_HEIGHT)
    return FiguresLayout(matrix, QRectF(rest.left(), rest.top(), rest.width(), bars_h),
                         QRectF(rest.left(), rest.top() + bars_h + GAP, rest.width(), rest.height() - bars_h - GAP))


def heatmap_height(width: float, data: FigureData, style: FigureStyle, *, normalised: bool = False) -> float:
    """The height the heat map uses at ``width`` when height is no limit (its grid is square)."""
    geometry = heatmap_geometry(QRectF(0, 0, width, max(4000.0, 3 * width)), data, style, normalised=normalised)
    return geometry.bottom


def _bars_height(num_classes: int) -> float:
    return max(200.0, 26.0 * num_classes + 90.0)


def _lower_height(width: float, num_classes: int) -> float:
    """The bars' and histogram's height in the tall layout."""
    if width >= SIDE_BY_SIDE_WIDTH:
        return max(_bars_height(num_classes), HISTOGRAM_HEIGHT)
    return _bars_height(num_classes) + GAP + HISTOGRAM_HEIGHT


def is_wide(width: float, height: float) -> bool:
    """Whether :func:`figures_layout` puts the heat map beside the other figures (else above them)."""
    return width >= 1.25 * height


def tall_height(width: float, data: FigureData, style: FigureStyle, *, normalised: bool = False) -> float:
    """The height the tall layout needs at ``width`` for every figure to stay readable (a scroll area gives it)."""
    return min(heatmap_height(width, data, style, normalised=normalised), 760.0) + GAP + _lower_height(width, data.num_classes)


def draw_figures(
    painter: QPainter, rect: QRectF, data: FigureData, *, normalised: bool = False, style: FigureStyle = FigureStyle(),
    highlight: tuple[int, int] | None = None,
) -> HeatmapGeometry:  # fmt: skip
    """The heat map, the per-class bars and the histogram laid out in ``rect`` (:func:`figures_layout`)."""
    layout = figures_layout(rect, data, style, normalised=normalised)
    geometry = draw_confusion_heatmap(painter, layout.matrix, data, normalised=normalised, style=style, highlight=highlight)
    draw_class_bars(painter, layout.bars, data, style=style)
    draw_iou_histogram(painter, layout.histogram, data, style=style)
    return geometry
