"""The dataset view: a dataset's model-vs-truth scores as pictures (:mod:`segstudio.ui.report_figures`), not tables.

:class:`DatasetView` shows a :class:`~segstudio.app.scoring.DatasetScoresResult`: the confusion matrix as a heat map
(counts, or each truth row's shares with "Row-normalised"), per-class IoU/Dice bars and a histogram of per-image mean
IoU. Hovering a cell says its truth class, predicted class, pixels and share of the row; clicking it lists, under the
figures, the images where that confusion (pixels of truth *t* predicted as *p*) is largest, and clicking an image
there emits :attr:`DatasetView.image_chosen`.

Responsive with 10,000 images: the figures are drawn from :class:`~segstudio.ui.report_figures.FigureData`, computed
once per result, and the images of a cell are ranked on click, with numpy, over the per-image confusion matrices
stacked once (:class:`ConfusionStack`), never per paint.
"""

from __future__ import annotations

import html

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QMouseEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from segstudio.app.scoring import DatasetScoresResult, ImageScore
from segstudio.app.dataset_instance_ap import DatasetInstanceScores
from segstudio.core.labels import LabelSet
from segstudio.ui.figure_data import FigureData, FigureStyle, score_text
from segstudio.ui.heatmap_figure import HeatmapGeometry, heatmap_geometry
from segstudio.ui.report_figures import draw_figures, figures_layout, is_wide, tall_height

CELL_LIST_LIMIT = 200  # images listed for a clicked cell, most pixels first
STACK_LIMIT_BYTES = 512 * 1024 * 1024  # above this the matrices are not stacked: a cell's column is gathered instead


@dataclass(frozen=True)
class CellImage:
    """One image of a clicked cell: its pixels of truth ``truth`` predicted as ``predicted``, and of truth ``truth``."""

    key: str
    pixels: int
    row_pixels: int

    @property
    def share(self) -> float:
        return self.pixels / self.row_pixels if self.row_pixels else 0.0


class ConfusionStack:
    """The scored images' confusion matrices, stacked into one ``(images, C, C)`` array the first time a cell is
    ranked, so that ranking a cell is a numpy column read and a partial sort."""

    def __init__(self, per_image: Mapping[str, ImageScore]) -> None:
        self._scores = [(key, score.confusion) for key, score in per_image.items() if score.confusion is not None]
        self.keys: tuple[str, ...] = tuple(key for key, _ in self._scores)

    def __len__(self) -> int:
        return len(self.keys)

    @cached_property
    def stacked(self) -> np.ndarray | None:
        """``(images, C, C)`` int64, or None when there are no images or stacking would take too much memory."""
        if not self._scores:
            return None
        classes = self._scores[0][1].shape[0]  # type: ignore[union-attr]
        if len(self._scores) * classes * classes * 8 > STACK_LIMIT_BYTES:
            return None
        return np.stack([matrix for _, matrix in self._scores]).astype(np.int64, copy=False)

    def column(self, truth: int, predicted: int) -> np.ndarray:
        """Every image's pixels of truth ``truth`` predicted as ``predicted``, in :attr:`keys` order."""
        stacked = self.stacked
        if stacked is not None:
            return stacked[:, truth, predicted]
        return np.fromiter((m[truth, predicted] for _, m in self._scores), dtype=np.int64, count=len(self._scores))  # type: ignore[index]

    def row_pixels(self, indices: np.ndarray, truth: int) -> np.ndarray:
        stacked = self.stacked
        if stacked is not None:
            return stacked[indices, truth, :].sum(axis=1)
        return np.array([int(self._scores[i][1][truth].sum()) for i in indices.tolist()], dtype=np.int64)  # type: ignore[index]

    def images_with(self, truth: int, predicted: int) -> int:
        """How many images have any pixel of this confusion."""
        return int(np.count_nonzero(self.column(truth, predicted))) if self.keys else 0

    def largest(self, truth: int, predicted: int, limit: int = CELL_LIST_LIMIT) -> tuple[CellImage, ...]:
        """The images with the most pixels of truth ``truth`` predicted as ``predicted`` (none with zero), most
        first; ties in the dataset's order."""
        if not self.keys or limit <= 0:
            return ()
        column = self.column(truth, predicted)
        candidates = np.flatnonzero(column)
        if candidates.size > limit:
            kept = np.argpartition(-column[candidates], limit - 1)[:limit]
            threshold = column[candidates[kept]].min()
            candidates = candidates[column[candidates] >= threshold]  # every tie at the cut, sorted below
        order = candidates[np.lexsort((candidates, -column[candidates]))][:limit]
        rows = self.row_pixels(order, truth)
        return tuple(CellImage(self.keys[i], int(column[i]), int(r)) for i, r in zip(order.tolist(), rows.tolist()))


class FiguresCanvas(QWidget):
    """Paints the three figures; says which heat-map cell a point is on, shows its tooltip, reports clicks."""

    cell_clicked = Signal(int, int)  # truth, predicted

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(QSize(380, 420))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._data: FigureData | None = None
        self._normalised = False
        self._selected: tuple[int, int] | None = None
        self._hover: tuple[int, int] | None = None
        self._geometry: HeatmapGeometry | None = None
        self._geometry_for: tuple[object, ...] | None = None

    @property
    def data(self) -> FigureData | None:
        return self._data

    def set_data(self, data: FigureData | None) -> None:
        self._data = data
        self._selected = self._hover = None
        self.update()

    @property
    def normalised(self) -> bool:
        return self._normalised

    def set_normalised(self, normalised: bool) -> None:
        self._normalised = normalised
        self.update()

    def set_selected(self, cell: tuple[int, int] | None) -> None:
        self._selected = cell
        self.update()

    @property
    def style_(self) -> FigureStyle:
        return FigureStyle(self.font().family(), text_px=12, small_px=11, title_px=13)

    def figures_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(10, 8, -10, -8)

    def heatmap(self) -> HeatmapGeometry | None:
        """Where the heat map lies at the widget's current size (the same layout paintEvent draws)."""
        if self._data is None:
            return None
        key = (id(self._data), self.width(), self.height(), self._normalised, self.font().family())
        if self._geometry is None or self._geometry_for != key:
            matrix = figures_layout(self.figures_rect(), self._data, self.style_, normalised=self._normalised).matrix
            self._geometry = heatmap_geometry(matrix, self._data, self.style_, normalised=self._normalised)
            self._geometry_for = key
        return self._geometry

    def cell_at(self, point: QPointF | QPoint) -> tuple[int, int] | None:
        geometry = self.heatmap()
        return geometry.cell_at(QPointF(point)) if geometry is not None else None

    def cell_centre(self, truth: int, predicted: int) -> QPoint:
        """The widget point at the middle of a cell (for tests and scripts)."""
        geometry = self.heatmap()
        if geometry is None:
            raise ValueError("no figures shown")
        return geometry.cell_rect(truth, predicted).center().toPoint()

    def tooltip(self, truth: int, predicted: int) -> str:
        data = self._data
        if data is None:
            return ""
        names = data.class_names
        pixels = int(data.matrix[truth, predicted])
        row = int(data.row_totals[truth])
        share = f"{pixels / row:.2%}" if row else "n/a (no such pixels in the truth)"
        verdict = "correct" if truth == predicted else "confusion"
        return (
            f"truth {names[truth]}, predicted {names[predicted]} ({verdict})\n"
            f"{pixels:,} pixels over {data.num_images} images\n"
            f"{share} of the {row:,} {names[truth]} pixels of the truth\n"
            "click: the images where this is largest"
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002, N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(255, 255, 255))
        if self._data is None:
            painter.setPen(QColor(110, 110, 110))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No dataset scores yet: run Dataset metrics")
            painter.end()
            return
        highlight = self._selected if self._selected is not None else self._hover
        draw_figures(painter, self.figures_rect(), self._data, normalised=self._normalised, style=self.style_, highlight=highlight)
        painter.end()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            cell = self.cell_at(event.pos())
            if cell is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self.tooltip(*cell), self)
            return True
        return super().event(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        cell = self.cell_at(event.position())
        if cell != self._hover:
            self._hover = cell
            self.setCursor(Qt.CursorShape.PointingHandCursor if cell is not None else Qt.CursorShape.ArrowCursor)
            if self._selected is None:
                self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        if self._hover is not None:
            self._hover = None
            self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            cell = self.cell_at(event.position())
            if cell is not None:
                self.cell_clicked.emit(*cell)
                event.accept()
                return
        super().mousePressEvent(event)


class FiguresScroll(QScrollArea):
    """Holds the canvas: as large as the panel when it is wide; as tall as the figures need when it is narrow, so
    that class names and values stay readable (it scrolls then)."""

    def __init__(self, canvas: FiguresCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.setWidget(canvas)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QScrollArea.Shape.NoFrame)

    def fit_canvas(self) -> None:
        size = self.viewport().size()
        data = self.canvas.data
        if data is None or is_wide(size.width(), size.height()):
            needed = 420
        else:
            needed = int(tall_height(size.width() - 20, data, self.canvas.style_, normalised=self.canvas.normalised) + 16)
        if self.canvas.minimumHeight() != needed:
            self.canvas.setMinimumHeight(needed)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fit_canvas()


class DatasetView(QWidget):
    """A dataset's scores as pictures (see the module notes). :meth:`show_result`, :meth:`clear`; clicking an image
    listed for a matrix cell emits :attr:`image_chosen` with its key."""

    image_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._stack: ConfusionStack | None = None
        self._cell: tuple[int, int] | None = None
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.instance_summary = QLabel()
        self.instance_summary.setWordWrap(True)
        self.instance_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.instance_summary.hide()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.normalised_box = QCheckBox("Row-normalised")
        self.normalised_box.setToolTip("Colour each ground-truth row by its shares (where each class's pixels went) "
                                       "instead of by pixel counts")
        self.normalised_box.toggled.connect(self.set_row_normalised)
        self.figures = FiguresCanvas()
        self.figures.cell_clicked.connect(self.choose_cell)
        self.cell_title = QLabel("Click a cell of the matrix to list the images where that confusion is largest.")
        self.cell_title.setWordWrap(True)
        self.cell_list = QListWidget()
        self.cell_list.setUniformItemSizes(True)
        self.cell_list.itemClicked.connect(self._item_chosen)
        self.cell_list.itemActivated.connect(self._item_chosen)

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.summary, 1)
        header.addWidget(self.normalised_box, 0, Qt.AlignmentFlag.AlignTop)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        lower_layout.addWidget(self.cell_title)
        lower_layout.addWidget(self.cell_list, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.scroll = FiguresScroll(self.figures)
        self.splitter.addWidget(self.scroll)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        lower.setMinimumHeight(90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.instance_summary)
        layout.addWidget(self.splitter, 1)
        self.clear()

    # -- what is shown --------------------------------------------------------------------------------------

    @property
    def data(self) -> FigureData | None:
        """The numbers the figures show (None when cleared)."""
        return self.figures.data

    @property
    def row_normalised(self) -> bool:
        return self.normalised_box.isChecked()

    def show_result(self, result: DatasetScoresResult, labels: LabelSet, *, title: str = "model vs ground truth") -> None:
        """Show the "dataset metrics" job's result; ``title`` says what was scored against what."""
        data = FigureData.from_result(result, labels)
        self._stack = ConfusionStack(result.per_image)
        self._cell = None
        self.figures.set_data(data)
        self.scroll.fit_canvas()
        self.summary.setText(
            f"<b>{title}</b>: {data.num_images} of {max(result.total, data.num_images)} images scored. Pixels summed: "
            f"mean IoU {score_text(data.mean_iou)}, mean Dice {score_text(data.mean_dice)}, pixel accuracy "
            f"{score_text(data.pixel_accuracy)}; mean of per-image mean IoU {score_text(data.images_mean_iou)}"
        )
        for note in result.notes:
            self.summary.setText(self.summary.text() + f"<br><i>{note}</i>")
        self._reset_cell_list()

    def show_instance_scores(self, result: DatasetInstanceScores | None) -> None:
        """The mask AP of the predicted instances, per class and overall (hidden when there is none)."""
        self.instance_summary.setVisible(result is not None)
        if result is None:
            return
        scores = result.scores
        rows = "".join(
            f"<tr><td>{html.escape(c.name)}</td><td align=right>{score_text(c.ap50)}</td>"
            f"<td align=right>{score_text(c.ap75)}</td><td align=right>{score_text(c.ap)}</td>"
            f"<td align=right>{c.matched_objects:,} / {c.truth_objects:,}</td>"
            f"<td align=right>{c.predicted_objects:,}</td></tr>" for c in scores.classes)
        notes = "".join(f"<br><i>{html.escape(note)}</i>" for note in result.notes())
        self.instance_summary.setText(
            f"<b>instances, mask AP</b> (COCO, {len(result.per_image)} images with instance truth and instance "
            "predictions):<table cellspacing=0 cellpadding=2><tr><th align=left>class</th><th>AP@0.5</th>"
            "<th>AP@0.75</th><th>AP@[.5:.95]</th><th>matched / truth</th><th>predicted</th></tr>"
            f"{rows}<tr><td><b>overall</b></td><td align=right><b>{score_text(scores.ap50)}</b></td>"
            f"<td align=right>{score_text(scores.ap75)}</td><td align=right><b>{score_text(scores.ap)}</b></td>"
            f"<td align=right>{scores.matched_objects:,} / {scores.truth_objects:,}</td>"
            f"<td align=right>{scores.predicted_objects:,}</td></tr></table>{notes}")

    def clear(self) -> None:
        self._stack = None
        self._cell = None
        self.figures.set_data(None)
        self.summary.setText("No dataset scores yet.")
        self._reset_cell_list()

    def set_row_normalised(self, normalised: bool) -> None:
        if self.normalised_box.isChecked() != normalised:
            self.normalised_box.setChecked(normalised)  # comes back here through toggled
            return
        self.figures.set_normalised(normalised)
        self.scroll.fit_canvas()

    # -- a cell's images ------------------------------------------------------------------------------------

    @property
    def chosen_cell(self) -> tuple[int, int] | None:
        return self._cell

    def cell_images(self, truth: int, predicted: int, limit: int = CELL_LIST_LIMIT) -> tuple[CellImage, ...]:
        """The images where pixels of truth ``truth`` were predicted as ``predicted``, most pixels first."""
        return self._stack.largest(truth, predicted, limit) if self._stack is not None else ()

    def choose_cell(self, truth: int, predicted: int) -> None:
        """What clicking a cell does: outline it and list its images."""
        data = self.data
        if data is None or self._stack is None:
            return
        self._cell = (truth, predicted)
        self.figures.set_selected(self._cell)
        images = self.cell_images(truth, predicted)
        having = self._stack.images_with(truth, predicted)
        names = data.class_names
        what = "correctly" if truth == predicted else f"as {names[predicted]}"
        shown = f"; the {len(images)} largest listed" if having > len(images) else ""
        self.cell_title.setText(
            f"<b>Truth {names[truth]} predicted {what}</b>: {int(data.matrix[truth, predicted]):,} pixels in "
            f"{having} of {len(self._stack)} images{shown}, most first. Click an image to open it."
        )
        self.cell_list.clear()
        row_name = names[truth]
        for image in images:
            item = QListWidgetItem(f"{image.key}    {image.pixels:,} px  ({image.share:.1%} of its {row_name} pixels)")
            item.setData(Qt.ItemDataRole.UserRole, image.key)
            self.cell_list.addItem(item)
        if not images:
            item = QListWidgetItem("no image has this confusion")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.cell_list.addItem(item)

    def listed_keys(self) -> list[str]:
        keys = []
        for row in range(self.cell_list.count()):
            key = self.cell_list.item(row).data(Qt.ItemDataRole.UserRole)
            if key is not None:
                keys.append(str(key))
        return keys

    def _reset_cell_list(self) -> None:
        self.cell_list.clear()
        self.figures.set_selected(None)
        self.cell_title.setText("Click a cell of the matrix to list the images where that confusion is largest."
                                if self.data is not None else "")

    def _item_chosen(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        if key is not None:
            self.image_chosen.emit(str(key))
