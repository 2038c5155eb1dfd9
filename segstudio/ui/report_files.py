"""The whole report (the figures and a title saying what was scored against what) drawn into an image and written
as PNG or SVG, for ``segstudio evaluate --report`` and bug reports."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from segstudio.core.atomic import write_bytes_atomic
from segstudio.ui.figure_data import REPORT_STYLE, TEXT, FigureData, FigureStyle, elided, text_width
from segstudio.ui.heatmap_figure import draw_confusion_heatmap
from segstudio.ui.report_figures import draw_class_bars, draw_iou_histogram

REPORT_FORMATS = (".png", ".svg")

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
    while title_px > style.small_px and text_width(style.font(title_px, bold=True), first) > width:
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
                         elided(text_font, line, width))
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
