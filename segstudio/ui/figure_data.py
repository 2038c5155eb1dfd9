"""The numbers a dataset's figures show (:class:`FigureData`, taken from the same
:class:`~segstudio.core.metrics.DatasetScores` that ``segstudio evaluate --json`` writes), their colour scale and how
their values are written; the drawing is :mod:`segstudio.ui.report_figures`, the report file
:mod:`segstudio.ui.report_files`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF

from segstudio.app.scoring import DatasetScoresResult
from segstudio.core.labels import Colour, LabelSet, default_colours
from segstudio.core.metrics import DatasetScores

HISTOGRAM_BINS = 20  # per-image mean IoU in bins of 0.05 over [0, 1] (1.0 falls in the last bin)

# ColorBrewer's sequential "Blues": light for few pixels, dark for many; readable in grey and for colour-blind eyes.
SCALE_ANCHORS: tuple[Colour, ...] = (
    (247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
    (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107),
)  # fmt: skip


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


def text_width(font: QFont, text: str) -> float:
    return QFontMetricsF(font).horizontalAdvance(text)


def elided(font: QFont, text: str, width: float) -> str:
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, max(0.0, width))


# The figures' ink: text, secondary text, grid lines, a chosen cell, histogram bars.
TEXT = QColor(30, 30, 30)
MUTED = QColor(100, 100, 100)
GRID = QColor(225, 225, 225)
HIGHLIGHT = QColor(230, 120, 0)
HISTOGRAM_BAR = QColor(70, 130, 180)
