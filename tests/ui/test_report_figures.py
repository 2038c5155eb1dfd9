"""The dataset figures drawn with QPainter: what they show is checked in the pixels (cell colours against the colour
scale, the darkest cell, bar heights) and in the SVG's text (class names, the values printed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from segstudio.core.labels import LabelSet
from segstudio.core.metrics import DatasetEvaluator
from segstudio.ui.figure_data import (
    ColourScale,
    FigureData,
    FigureStyle,
    HISTOGRAM_BINS,
    compact_count,
    scale_colour,
    score_text,
)
from segstudio.ui.report_figures import (
    HISTOGRAM_BAR,
    draw_class_bars,
    draw_confusion_heatmap,
    draw_iou_histogram,
    histogram_notes,
)
from segstudio.ui.report_files import (
    render_report,
    report_bytes,
    report_size,
)

SVG = "{http://www.w3.org/2000/svg}"
LABELS = LabelSet.from_names(["road", "car", "pedestrian"], ignore_index=255, ignore_name="void")


def figure_data(matrices: dict[str, np.ndarray], labels: LabelSet = LABELS) -> FigureData:
    evaluator = DatasetEvaluator(labels.num_classes, labels.ignore_index, labels.names)
    for key, matrix in matrices.items():
        evaluator.add_confusion(key, np.asarray(matrix, dtype=np.int64))
    return FigureData.from_scores(evaluator.result(), labels)


def paint(draw, size: tuple[int, int] = (700, 640)) -> tuple[QImage, object]:  # noqa: ANN001
    image = QImage(size[0], size[1], QImage.Format.Format_RGB32)
    image.fill(QColor(255, 255, 255))
    painter = QPainter(image)
    try:
        result = draw(painter, QRectF(10, 10, size[0] - 20, size[1] - 20))
    finally:
        painter.end()
    return image, result


def pixel(image: QImage, point: QPointF) -> tuple[int, int, int]:
    colour = image.pixelColor(int(point.x()), int(point.y()))
    return colour.red(), colour.green(), colour.blue()


def svg_texts(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return [(t.text or "").strip() for t in root.iter(f"{SVG}text")]


# The largest count (900) lies in row 0, but row 1's correct pixels are its whole row: counts and row shares
# disagree about the darkest cell.
KNOWN = np.array([[900, 100, 0], [0, 40, 0], [5, 0, 45]])


@pytest.mark.parametrize("normalised", [False, True])
def test_every_cell_has_the_colour_of_its_value_on_the_scale(qapp, normalised: bool) -> None:  # noqa: ANN001, ARG001
    data = figure_data({"a": KNOWN})
    image, geometry = paint(lambda p, r: draw_confusion_heatmap(p, r, data, normalised=normalised))
    scale = data.colour_scale(normalised)
    values = data.values(normalised)
    for t in range(3):
        for p in range(3):
            corner = geometry.cell_rect(t, p).topLeft() + QPointF(4, 4)  # off the cell's text and border
            expected = scale.colour(float(values[t, p]))
            got = pixel(image, corner)
            assert max(abs(a - b) for a, b in zip(got, (expected.red(), expected.green(), expected.blue()))) <= 2, (t, p)


def _darkest_cell(image: QImage, geometry) -> tuple[int, int]:  # noqa: ANN001
    lightness = {
        (t, p): sum(pixel(image, geometry.cell_rect(t, p).topLeft() + QPointF(4, 4)))
        for t in range(geometry.count) for p in range(geometry.count)
    }  # fmt: skip
    return min(lightness, key=lightness.get)


def test_row_normalised_changes_which_cell_is_darkest(qapp) -> None:  # noqa: ANN001, ARG001
    data = figure_data({"a": KNOWN})
    counts, geometry = paint(lambda p, r: draw_confusion_heatmap(p, r, data, normalised=False))
    shares, shares_geometry = paint(lambda p, r: draw_confusion_heatmap(p, r, data, normalised=True))
    assert _darkest_cell(counts, geometry) == (0, 0)  # 900 pixels
    assert _darkest_cell(shares, shares_geometry) == (1, 1)  # 40 of 40: 100% of its row


def test_the_colour_scale_runs_light_to_dark_and_counts_are_logarithmic() -> None:
    light, dark = scale_colour(0.0), scale_colour(1.0)
    assert light.lightness() > 240 and dark.lightness() < 70
    counts = ColourScale(1_000_000.0, log=True)
    assert counts.position(0) == 0.0 and counts.position(1_000_000) == pytest.approx(1.0)
    assert counts.position(999) == pytest.approx(0.5, abs=0.01)  # log10(1000) / log10(1e6)
    assert ColourScale(1.0, log=False).position(0.25) == 0.25


def test_cells_say_their_counts_or_shares_and_names_label_both_axes(qapp) -> None:  # noqa: ANN001, ARG001
    data = figure_data({"a": np.array([[1_234_567, 3_000, 0], [7, 40, 0], [5, 0, 45]])})
    texts = svg_texts(report_bytes(data, "svg", "test"))
    for name in LABELS.names:
        assert texts.count(name) >= 4  # rows and columns of two heat maps, and the bars
    for shown in ("1.23M", "3k", "7", "45", "100%", "15%", "85%", "<1%"):
        assert shown in texts, shown
    assert "void" not in texts  # the ignore id is no row or column; only the note names it
    assert any("pixels marked void (255)" in t for t in texts)
    for axis in ("ground truth (rows)", "prediction (columns)", "pixels (log scale)", "share of the truth row"):
        assert axis in texts


def test_bars_print_each_class_s_scores_and_mark_a_class_in_neither_mask(qapp) -> None:  # noqa: ANN001, ARG001
    data = figure_data({"a": np.array([[50, 10, 0], [30, 60, 0], [0, 0, 0]])})  # pedestrian: in neither mask
    assert data.iou[2] is None and data.dice[2] is None
    texts = svg_texts(report_bytes(data, "svg", "test"))
    assert texts.count("n/a: in neither mask") == 1
    for i in (0, 1):
        assert score_text(data.iou[i]) in texts and score_text(data.dice[i]) in texts
    assert data.iou[0] == pytest.approx(50 / (60 + 80 - 50))


def test_bar_lengths_are_the_scores(qapp) -> None:  # noqa: ANN001, ARG001
    data = figure_data({"a": np.array([[80, 20, 0], [20, 30, 0], [0, 0, 10]])})
    image, plot = paint(lambda p, r: draw_class_bars(p, r, data, style=FigureStyle()), size=(800, 420))
    row = plot.height() / 3
    for i, colour in enumerate(data.class_colours):
        y = int(plot.top() + i * row + row * 0.12 + row * 0.18)  # the middle of the IoU bar
        xs = [x for x in range(int(plot.left()), int(plot.right()) + 1)
              if max(abs(a - b) for a, b in zip(pixel(image, QPointF(x, y)), colour)) <= 3]  # fmt: skip
        assert xs, data.class_names[i]
        assert (max(xs) + 1 - plot.left()) / plot.width() == pytest.approx(data.iou[i], abs=0.01)


def test_histogram_counts_images_by_mean_iou_and_says_the_na_ones(qapp) -> None:  # noqa: ANN001, ARG001
    perfect = np.diag([10, 10, 10])
    half = np.array([[10, 10, 0], [0, 0, 0], [0, 0, 0]])  # road IoU 0.5, car IoU 0: mean 0.25
    matrices = {"p1": perfect, "p2": perfect, "p3": perfect, "h": half, "nothing": np.zeros((3, 3), int)}
    data = figure_data(matrices)
    assert data.image_iou == (1.0, 1.0, 1.0, 0.25, None)
    assert data.na_images == 1 and data.num_images == 5
    expected = np.zeros(HISTOGRAM_BINS, int)
    expected[-1], expected[5] = 3, 1  # 1.0 in the last bin; 0.25 in [0.25, 0.30)
    assert data.histogram_counts == tuple(expected)
    assert histogram_notes(data)[0].startswith("n/a: 1 image ")
    image, plot = paint(lambda p, r: draw_iou_histogram(p, r, data), size=(700, 420))

    def bar_height(bin_: int) -> int:
        x = int(plot.left() + (bin_ + 0.5) / HISTOGRAM_BINS * plot.width())
        bar = (HISTOGRAM_BAR.red(), HISTOGRAM_BAR.green(), HISTOGRAM_BAR.blue())
        return sum(1 for y in range(int(plot.top()), int(plot.bottom()) + 1) if pixel(image, QPointF(x, y)) == bar)

    # The y axis runs to 3 images: 3 fills the plot's height, 1 a third of it (antialiased edges aside).
    assert bar_height(HISTOGRAM_BINS - 1) == pytest.approx(plot.height(), abs=3)
    assert bar_height(5) == pytest.approx(plot.height() / 3, abs=3)
    assert bar_height(0) == 0
    texts = svg_texts(report_bytes(data, "svg", "test"))
    assert any(t.startswith("n/a: 1 image (no class in either mask") for t in texts)


def test_counts_are_written_in_three_significant_digits() -> None:
    assert [compact_count(v) for v in (0, 999, 1000, 12_345, 999_960, 4_720_000, 12_345_678_901)] == [
        "0", "999", "1k", "12.3k", "1M", "4.72M", "12.3G",
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_the_report_file_has_the_report_s_size_and_the_title(qapp, tmp_path, suffix: str) -> None:  # noqa: ANN001, ARG001
    labels = LabelSet.camvid()
    rng = np.random.default_rng(0)
    data = figure_data({f"img{i}": rng.integers(0, 5000, (11, 11)) for i in range(4)}, labels)
    path = tmp_path / f"report{suffix}"
    render_report(data, path, "model X vs truth Y")
    size = report_size(11)
    if suffix == ".png":
        image = QImage(str(path))
        assert (image.width(), image.height()) == (size.width(), size.height())
    else:
        root = ET.fromstring(path.read_bytes())
        assert root.attrib["viewBox"] == f"0 0 {size.width()} {size.height()}"
        texts = svg_texts(path.read_bytes())
        assert texts[:2] == ["model X vs truth Y", "4 images, 11 classes (Unlabelled = 11 not scored)"]


def test_a_report_of_another_format_is_refused(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="report.pdf"):
        render_report(figure_data({"a": KNOWN}), tmp_path / "report.pdf", "t")
    assert not (tmp_path / "report.pdf").exists()
