"""A dataset's scores as figures, drawn with QPainter into a given rectangle (no widgets): the confusion matrix as a
heat map, a histogram of per-image mean IoU and per-class IoU/Dice bars; and the whole report (the figures and a
title) written to a PNG or SVG file.

:class:`FigureData` holds every number a figure shows, taken from the same :class:`~segstudio.core.metrics.
DatasetScores` that ``segstudio evaluate --json`` writes (summed confusion matrix, per-class IoU/Dice of the summed
counts, each image's mean IoU), so the dataset view, the report and the JSON agree. The heat map's rows are the
ground truth and its columns the prediction; the ignore id is no class and so no row or column (its pixels are not
counted at all). The same drawing code paints the window's dataset view (:mod:`segstudio.ui.dataset_view`) and the
report, so the geometry functions here (:func:`heatmap_geometry`) also answer which cell a point is on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtSvg import QSvgGenerator

from segstudio.app.scoring import DatasetScoresResult
from segstudio.core.atomic import write_bytes_atomic
from segstudio.core.labels import Colour, LabelSet, default_colours
from segstudio.core.metrics import DatasetScores

HISTOGRAM_BINS = 20  # per-image mean IoU in bins of 0.05 over [0, 1] (1.0 falls in the last bin)
REPORT_FORMATS = (".png", ".svg")

# ColorBrewer's sequential "Blues": light for few pixels, dark for many; readable in grey and for colour-blind eyes.
SCALE_ANCHORS: tuple[Colour, ...] = (
    (247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
    (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107),
)  # fmt: skip
TEXT = QColor(30, 30, 30)
MUTED = QColor(100, 100, 100)
GRID = QColor(225, 225, 225)
HIGHLIGHT = QColor(230, 120, 0)
HISTOGRAM_BAR = QColor(70, 130, 180)


# -- the numbers ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureData:
    """Every number the figures show, as the JSON of ``segstudio evaluate`` holds it.

    ``confusion`` is ``confusion_matrix`` (rows truth, columns prediction, summed over the images); ``iou``/``dice``
    are ``per_class[name].iou``/``.dice`` (None = n/a); ``mean_iou``, ``mean_dice``, ``pixel_accuracy`` the top
    level; ``image_iou`` each scored image's ``per_image[key].mean_iou`` in ``image_keys`` order;
    ``images_mean_iou`` is ``mean_of_images.mean_iou``. ``histogram_counts`` bins the images' mean IoU that are
    not n/a (:data:`HISTOGRAM_BINS` bins over [0, 1]). ``not_scored``: images of the dataset without a score at
    all (no ground truth or no prediction; the window's datasets only).
    """

    class_names: tuple[str, ...]
    class_colours: tuple[Colour, ...]
    confusion: tuple[tuple[int, ...], ...]
    iou: tuple[float | None, ...]
    dice: tuple[float | None, ...]
    mean_iou: float | None
    mean_dice: float | None
    pixel_accuracy: float | None
    image_keys: tuple[str, ...]
    image_iou: tuple[float | None, ...]
    images_mean_iou: float | None
    histogram_counts: tuple[int, ...]
    ignore_index: int | None = None
    ignore_name: str = "ignore"
    not_scored: int = 0

    @classmethod
    def from_scores(cls, scores: DatasetScores, labels: LabelSet | None = None, *, not_scored: int = 0) -> FigureData:
        """The figures of ``scores`` (what ``evaluate`` scored; its JSON is ``scores.to_json_dict()``)."""
        image_iou = tuple(s.mean_iou for s in scores.per_image.values())
        return cls._build(scores, labels, tuple(scores.per_image), image_iou, not_scored)

    @classmethod
    def from_result(cls, result: DatasetScoresResult, labels: LabelSet) -> FigureData:
        """The figures of the window's "dataset metrics" job; images without a score count as ``not_scored``."""
        scored = [(key, s.mean_iou) for key, s in result.per_image.items() if s.confusion is not None]
        if result.scores is None:
            return cls.empty(labels, not_scored=max(result.total, len(result.per_image)))
        keys = tuple(key for key, _ in scored)
        image_iou = tuple(value for _, value in scored)
        return cls._build(result.scores, labels, keys, image_iou, max(0, result.total - len(keys)))

    @classmethod
    def empty(cls, labels: LabelSet, *, not_scored: int = 0) -> FigureData:
        """Nothing scored: an all-zero matrix, every class n/a."""
        n = labels.num_classes
        none: tuple[float | None, ...] = (None,) * n
        return cls(
            labels.names, _colours(labels, n), tuple((0,) * n for _ in range(n)), none, none, None, None, None, (), (),
            None, (0,) * HISTOGRAM_BINS, labels.ignore_index, labels.ignore_name, not_scored,
        )  # fmt: skip

    @classmethod
    def _build(
        cls, scores: DatasetScores, labels: LabelSet | None, keys: tuple[str, ...],
        image_iou: tuple[float | None, ...], not_scored: int,
    ) -> FigureData:  # fmt: skip
        overall = scores.overall
        n = overall.num_classes
        values = np.array([v for v in image_iou if v is not None], dtype=np.float64)
        counts, _ = np.histogram(values, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
        return cls(
            class_names=overall.class_names,
            class_colours=_colours(labels, n),
            confusion=tuple(tuple(int(v) for v in row) for row in overall.confusion.tolist()),
            iou=tuple(c.iou for c in overall.classes),
            dice=tuple(c.dice for c in overall.classes),
            mean_iou=overall.mean_iou,
            mean_dice=overall.mean_dice,
            pixel_accuracy=overall.pixel_accuracy,
            image_keys=keys,
            image_iou=image_iou,
            images_mean_iou=scores.image_mean.mean_iou,
            histogram_counts=tuple(int(c) for c in counts),
            ignore_index=scores.ignore_index if labels is None else labels.ignore_index,
            ignore_name=labels.ignore_name if labels is not None else "ignore",
            not_scored=not_scored,
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_images(self) -> int:
        """Images scored (in the histogram or among its n/a)."""
        return len(self.image_keys)

    @property
    def na_images(self) -> int:
        """Scored images whose mean IoU is n/a (no class in either mask: every pixel ignored)."""
        return sum(1 for v in self.image_iou if v is None)

    @property
    def histogram_edges(self) -> tuple[float, ...]:
        return tuple(float(v) for v in np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1))

    @cached_property
    def matrix(self) -> np.ndarray:
        """``confusion`` as a read-only int64 array."""
        array = np.array(self.confusion, dtype=np.int64).reshape(self.num_classes, self.num_classes)
        array.flags.writeable = False
        return array

    @cached_property
    def row_totals(self) -> np.ndarray:
        """Pixels of each ground-truth class (the rows' sums)."""
        return self.matrix.sum(axis=1)

    @cached_property
    def row_fractions(self) -> np.ndarray:
        """Each cell's share of its row (the truth class's pixels); 0 in an empty row."""
        totals = self.row_totals[:, None].astype(np.float64)
        fractions = np.zeros(self.matrix.shape, dtype=np.float64)
        np.divide(self.matrix, totals, out=fractions, where=totals > 0)
        fractions.flags.writeable = False
        return fractions

    def values(self, normalised: bool) -> np.ndarray:
        """What the heat map colours: the counts, or the rows' shares."""
        return self.row_fractions if normalised else self.matrix.astype(np.float64)

    def colour_scale(self, normalised: bool) -> ColourScale:
        if normalised:
            return ColourScale(1.0, log=False)
        return ColourScale(float(self.matrix.max()) if self.matrix.size else 0.0, log=True)


def _colours(labels: LabelSet | None, count: int) -> tuple[Colour, ...]:
    if labels is not None and labels.num_classes == count:
        return tuple(c.colour for c in labels.classes)
    return tuple(tuple(int(v) for v in c) for c in default_colours(count))  # type: ignore[misc]


# -- the colour scale -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColourScale:
    """Value -> colour of the heat map. Counts on a log scale (log10(1 + pixels): the big classes' millions and the
    small classes' thousands both show), shares of a row linearly from 0 to 1."""

    maximum: float
    log: bool

    def position(self, value: float) -> float:
        """Where ``value`` lies on the scale, 0 (lightest) to 1 (darkest)."""
        if self.maximum <= 0 or value <= 0:
            return 0.0
        if self.log:
            return min(1.0, math.log10(1.0 + value) / math.log10(1.0 + self.maximum))
        return min(1.0, value / self.maximum)

    def colour(self, value: float) -> QColor:
        return scale_colour(self.position(value))

    def ticks(self) -> list[tuple[float, str]]:
        """(value, label) for the legend."""
        if not self.log:
            return [(v, f"{round(v * 100)}%") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
        ticks = [(0.0, "0")]
        if self.maximum >= 1:
            top = int(math.floor(math.log10(self.maximum)))
            step = max(1, math.ceil((top + 1) / 6))  # at most about six labels
            ticks += [(10.0**k, compact_count(10**k)) for k in range(0, top + 1, step)]
        return ticks


def scale_colour(position: float) -> QColor:
    """The colour at ``position`` (0..1) along :data:`SCALE_ANCHORS`, interpolated linearly in RGB."""
    position = min(1.0, max(0.0, float(position)))
    scaled = position * (len(SCALE_ANCHORS) - 1)
    i = min(int(scaled), len(SCALE_ANCHORS) - 2)
    t = scaled - i
    a, b = SCALE_ANCHORS[i], SCALE_ANCHORS[i + 1]
    return QColor(*(round(a[c] + (b[c] - a[c]) * t) for c in range(3)))


def compact_count(value: int) -> str:
    """A pixel count in three significant digits: 950, 12.3k, 4.56M (exact counts are in the JSON and tooltips)."""
    value = int(value)
    if value < 1000:
        return str(value)
    group = min(4, int(math.log10(value)) // 3)
    text = f"{value / 1000**group:.3g}"
    if float(text) >= 1000 and group < 4:  # 999,960 is 1M, not 1e+03k
        group += 1
        text = f"{value / 1000**group:.3g}"
    return text + ("", "k", "M", "G", "T")[group]


def share_text(fraction: float) -> str:
    """A row share for a cell: whole percent, "<1%" for a share that is there but small, "" for none."""
    if fraction <= 0:
        return ""
    if fraction < 0.005:
        return "<1%"
    return f"{fraction * 100:.0f}%"


def score_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# -- style ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureStyle:
    """Fonts of the figures, in pixels. ``family`` empty: the application's font."""

    family: str = ""
    text_px: int = 12
    small_px: int = 11
    title_px: int = 13

    def font(self, px: float | None = None, *, bold: bool = False, italic: bool = False) -> QFont:
        font = QFont(self.family) if self.family else QFont()
        if self.family in ("sans-serif", "sans"):
            font.setStyleHint(QFont.StyleHint.SansSerif)
        font.setPixelSize(max(5, round(px if px is not None else self.text_px)))
        font.setBold(bold)
        font.setItalic(italic)
        return font

    def title_font(self) -> QFont:
        return self.font(self.title_px, bold=True)


REPORT_STYLE = FigureStyle("sans-serif", text_px=14, small_px=13, title_px=16)


def _text_width(font: QFont, text: str) -> float:
    return QFontMetricsF(font).horizontalAdvance(text)


def _elided(font: QFont, text: str, width: float) -> str:
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, max(0.0, width))


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
        widest = max((_text_width(font, name) for name in data.class_names), default=0.0)
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
    widest = max(_text_width(font, label) for _, label in data.colour_scale(normalised).ticks())
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
        while px > 7 and _text_width(style.font(px), widest_text) > size - 3:
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
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _elided(font, name, text_w))
        # Column: swatch under the grid, name below it turned to read upwards.
        x = grid.left() + (i + 0.5) * size
        painter.setPen(QPen(colour.darker(150), 0.8))
        painter.drawRect(QRectF(x - swatch / 2, grid.bottom() + 4, swatch, swatch))
        painter.save()
        painter.translate(x, grid.bottom() + 4 + 10 + 4)
        painter.rotate(-90)
        painter.setPen(TEXT)
        painter.drawText(QRectF(-text_w, -line / 2, text_w, line),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _elided(font, name, text_w))
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
                         Qt.AlignmentFlag.AlignCenter, _elided(note_font, note, geometry.rect.width()))


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


# -- per-class bars -------------------------------------------------------------------------------------------


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


def draw_class_bars(painter: QPainter, rect: QRectF, data: FigureData, *, style: FigureStyle = FigureStyle()) -> QRectF:
    """Per class, its IoU (solid, the class's colour) and Dice (light) of the summed counts, with the values printed
    and n/a classes (in neither mask) marked; a dashed line at the mean IoU. Returns the plot area (0..1 across)."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    title_font, font, small = style.title_font(), style.font(), style.font(style.small_px)
    title_h = QFontMetricsF(title_font).height() + 4
    line = QFontMetricsF(font).height()
    small_line = QFontMetricsF(small).height()
    painter.setFont(title_font)
    painter.setPen(TEXT)
    painter.drawText(QRectF(rect.left(), rect.top(), rect.width(), title_h), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                     _elided(title_font, "IoU and Dice per class (pixels summed over the images)", rect.width()))
    # Legend line.
    y = rect.top() + title_h
    painter.setFont(small)
    x = rect.left()
    example = QColor(110, 110, 110)
    for label, fill in (("IoU", example), ("Dice", _lighter(example))):
        painter.setPen(QPen(example, 1))
        painter.setBrush(fill)
        painter.drawRect(QRectF(x, y + small_line / 2 - 5, 18, 10))
        painter.setPen(TEXT)
        painter.drawText(QPointF(x + 22, y + QFontMetricsF(small).ascent()), label)
        x += 22 + _text_width(small, label) + 14
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
    names_w = min(max((_text_width(name_font, nm) for nm in data.class_names), default=0.0), rect.width() * 0.3) + 8
    value_font = style.font(min(style.small_px, max(7.0, row * 0.42)))
    value_w = _text_width(value_font, "0.000") + 6
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
                         _elided(name_font, name, names_w - 6))
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
                painter.drawRect(QRectF(bar.right() + 2, bar_top, _text_width(value_font, text) + 2, bar_h))
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
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    title_font, font, small = style.title_font(), style.font(), style.font(style.small_px)
    title_h = QFontMetricsF(title_font).height() + 4
    line = QFontMetricsF(font).height()
    small_line = QFontMetricsF(small).height()
    painter.setFont(title_font)
    painter.setPen(TEXT)
    scored = data.num_images - data.na_images
    title = f"Mean IoU per image ({scored} image{'s' if scored != 1 else ''})"
    painter.drawText(QRectF(rect.left(), rect.top(), rect.width(), title_h), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                     _elided(title_font, title, rect.width()))
    y = rect.top() + title_h
    painter.setFont(small)
    painter.setPen(MUTED)
    for note in histogram_notes(data):
        painter.drawText(QRectF(rect.left(), y, rect.width(), small_line), Qt.AlignmentFlag.AlignLeft, _elided(small, note, rect.width()))
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
    label_w = max(_text_width(small, t) for t in tick_labels) + 6
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


# -- the report file ------------------------------------------------------------------------------------------


TITLE_BLOCK = 84  # the report's three title lines


def report_size(num_classes: int) -> QSize:
    """The report's size in pixels: two heat maps (counts and row shares) side by side over the bars and the
    histogram; grows with the classes so that every name keeps its row."""
    side = max(760, 34 * num_classes + 260)
    bottom = max(480, 26 * num_classes + 140)
    return QSize(2 * side + 3 * 24, 24 + TITLE_BLOCK + side + 24 + bottom + 24)


def summary_lines(data: FigureData, title: str) -> list[str]:
    """The report's title (what was scored against what), what was counted, and the dataset's figures."""
    images = f"{data.num_images} image{'s' if data.num_images != 1 else ''}"
    classes = f"{data.num_classes} classes"
    if data.ignore_index is not None:
        classes += f" ({data.ignore_name} = {data.ignore_index} not scored)"
    figures = (
        f"pixels summed over the images: mean IoU {_four(data.mean_iou)}, mean Dice {_four(data.mean_dice)}, "
        f"pixel accuracy {_four(data.pixel_accuracy)}; mean of per-image mean IoU {_four(data.images_mean_iou)}"
    )
    return [title, f"{images}, {classes}", figures]


def _four(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def draw_report(painter: QPainter, size: QSize, data: FigureData, title: str, *, style: FigureStyle = REPORT_STYLE) -> None:
    """The whole report on ``painter`` (``size`` pixels): a title, the counts and row-share heat maps, the bars
    and the histogram, on white."""
    margin = 24.0
    painter.fillRect(QRect(0, 0, size.width(), size.height()), QColor(255, 255, 255))
    first, *others = summary_lines(data, title)
    width = size.width() - 2 * margin
    title_px = float(style.title_px + 2)
    while title_px > style.small_px and _text_width(style.font(title_px, bold=True), first) > width:
        title_px -= 1  # long folder names: a smaller title before any is cut
    title_font = style.font(title_px, bold=True)
    text_font = style.font()
    painter.setPen(TEXT)
    painter.setFont(title_font)
    title_h = QFontMetricsF(title_font).height()
    # Long folder names lose their middle, never their ends.
    painter.drawText(QRectF(margin, margin, width, title_h), Qt.AlignmentFlag.AlignLeft,
                     QFontMetricsF(title_font).elidedText(first, Qt.TextElideMode.ElideMiddle, width))
    painter.setFont(text_font)
    y = margin + title_h + 4
    for line in others:
        painter.drawText(QRectF(margin, y, width, QFontMetricsF(text_font).height()), Qt.AlignmentFlag.AlignLeft,
                         _elided(text_font, line, width))
        y += QFontMetricsF(text_font).height() + 2
    top = margin + TITLE_BLOCK
    side = (size.width() - 3 * margin) / 2
    matrix_h = max(760, 34 * data.num_classes + 260)
    draw_confusion_heatmap(painter, QRectF(margin, top, side, matrix_h), data, normalised=False, style=style)
    draw_confusion_heatmap(painter, QRectF(2 * margin + side, top, side, matrix_h), data, normalised=True, style=style)
    lower = top + matrix_h + margin
    bottom_h = size.height() - margin - lower
    draw_class_bars(painter, QRectF(margin, lower, side, bottom_h), data, style=style)
    draw_iou_histogram(painter, QRectF(2 * margin + side, lower, side, bottom_h), data, style=style)


def report_bytes(data: FigureData, fmt: str, title: str) -> bytes:
    """The report as PNG or SVG bytes (``fmt`` ``"png"`` or ``"svg"``). Needs a QGuiApplication."""
    fmt = fmt.lower().lstrip(".")
    size = report_size(data.num_classes)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if fmt == "svg":
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(size)
        generator.setViewBox(QRect(0, 0, size.width(), size.height()))
        generator.setResolution(96)
        generator.setTitle(title)
        generator.setDescription("segstudio dataset report: confusion matrix, per-class IoU/Dice, per-image mean IoU")
        painter = QPainter(generator)
        try:
            draw_report(painter, size, data, title)
        finally:
            painter.end()
    elif fmt == "png":
        image = QImage(size, QImage.Format.Format_RGB32)
        image.fill(QColor(255, 255, 255))
        painter = QPainter(image)
        try:
            draw_report(painter, size, data, title)
        finally:
            painter.end()
        if not image.save(buffer, "PNG"):
            raise RuntimeError("Qt could not encode the report as PNG")
    else:
        raise ValueError(f"a report is written as {' or '.join(REPORT_FORMATS)}, not {fmt!r}")
    buffer.close()
    return bytes(buffer.data())


def render_report(data: FigureData, path: Path, title: str) -> None:
    """Write the report to ``path`` (.png or .svg, atomically; :class:`~segstudio.core.errors.FileProblem` when
    it cannot be written)."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_FORMATS:
        raise ValueError(f"{path}: a report is written as {' or '.join(REPORT_FORMATS)} (the name says which)")
    write_bytes_atomic(path, report_bytes(data, path.suffix, title))
