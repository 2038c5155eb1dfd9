"""The canvas: an image session's layers, composited lazily into a persistent RGBA buffer, with zoom, pan and
the editing tools.

Rendering (see ARCHITECTURE.md, "render lazily, copy nothing"):

- The buffer shows the whole image at ``step`` image pixels per buffer pixel (1 when zoomed in; a power of two
  when zoomed out, raised further so the buffer stays under Qt's 32767-pixel limit and a memory cap). It is one
  :class:`~segstudio.ui.qt_image.RgbaImage`, reallocated only when the step changes.
- Nothing is composited until a paint needs it. The buffer is cut into square tiles with a "valid" flag; a paint
  composites only the invalid tiles it can see. An edit reported by the session (a small rectangle) is queued
  and composited exactly, at the next paint, and only that rectangle of the widget is updated.
- Painting draws only the visible part of the buffer, scaled with no smoothing (pixels stay square).

View: ``scale`` widget pixels per image pixel; image pixel ``(x, y)`` (centre on integers) covers widget
``[offset + x * scale, offset + (x + 1) * scale)``.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF, QWheelEvent, QKeyEvent
from PySide6.QtWidgets import QWidget

from segstudio.core.compositing import LayerKind, LayerStyle, Palettes, composite, out_rect, out_shape
from segstudio.core.geometry import Rect
from segstudio.core.session import ImageSession
from segstudio.ui.qt_image import MAX_QIMAGE_SIDE, RgbaImage
from segstudio.ui.tools import Tool, ToolController, ToolResult

TILE = 256  # buffer pixels per tile side
MAX_BUFFER_PIXELS = 1 << 26  # 64 M pixels = 256 MiB of RGBA
MIN_SCALE, MAX_SCALE = 1.0 / 256.0, 64.0
SMALL_EDIT = TILE * TILE * 4  # edits up to this many buffer pixels are composited exactly, larger ones by tiles

DEFAULT_STYLES: dict[LayerKind, LayerStyle] = {
    LayerKind.IMAGE: LayerStyle(True, 1.0),
    LayerKind.GROUND_TRUTH: LayerStyle(True, 0.9, outline_only=True),
    LayerKind.PREDICTION: LayerStyle(False, 0.5),
    LayerKind.WORKING: LayerStyle(True, 0.5),
    LayerKind.ERROR_MAP: LayerStyle(False, 0.6),
}
MASK_LAYERS = (LayerKind.GROUND_TRUTH, LayerKind.PREDICTION, LayerKind.WORKING, LayerKind.ERROR_MAP)


def step_for(scale: float, shape: tuple[int, int]) -> int:
    """Image pixels per buffer pixel at ``scale``: a power of two <= 1/scale, at least what the limits need."""
    step = 1
    while step * 2 <= 1.0 / scale:
        step *= 2
    height, width = shape
    while (
        -(-height // step) > MAX_QIMAGE_SIDE
        or -(-width // step) > MAX_QIMAGE_SIDE
        or (-(-height // step)) * (-(-width // step)) > MAX_BUFFER_PIXELS
    ):
        step += 1
    return step


class Canvas(QWidget):
    """Shows one :class:`ImageSession` and forwards gestures to a :class:`ToolController`.

    Signals: ``cursor_moved(x, y, class_or_minus_1)`` in image pixels (-1 outside the image);
    ``class_picked(int)``; ``edited(Rect)`` after every change a gesture made; ``view_changed()``;
    ``brush_size_changed(int)``.
    """

    cursor_moved = Signal(int, int, int)
    class_picked = Signal(int)
    edited = Signal(object)
    view_changed = Signal()
    brush_size_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 150)
        self.tools = ToolController()
        self._session: ImageSession | None = None
        self._palettes: Palettes | None = None
        self._styles: dict[LayerKind, LayerStyle] = dict(DEFAULT_STYLES)
        self._peek_truth = False
        self._scale = 1.0
        self._offset = QPointF(0.0, 0.0)
        self._fitted = True
        self._step = 1
        self._buffer: RgbaImage | None = None
        self._valid: np.ndarray = np.zeros((0, 0), dtype=bool)
        self._pending: list[Rect] = []
        self._space_down = False
        self._pan_from: QPointF | None = None
        self._mouse: QPointF | None = None
        self.composited_pixels = 0  # buffer pixels composited so far (for tests and the bench)

    # -- session ---------------------------------------------------------------------------------------

    @property
    def session(self) -> ImageSession | None:
        return self._session

    def set_session(self, session: ImageSession | None) -> None:
        if self._session is not None:
            try:
                self._session.remove_listener(self._on_session_change)
            except ValueError:
                pass
        self._session = session
        self.tools.set_session(session)
        self._palettes = None if session is None else Palettes.for_labels(session.labels, background=session.background)
        if session is not None:
            session.add_listener(self._on_session_change)
        self._buffer = None
        if self._fitted or session is None:
            self.fit()
        else:
            self._reset_buffer()
            self.update()

    def _on_session_change(self, rect: Rect) -> None:
        if self._buffer is None or rect.is_empty:
            return
        target = out_rect(rect, self._image_shape(), self._buffer.array.shape, self._step)
        if target.area <= SMALL_EDIT:
            self._pending.append(rect)
        else:
            self._invalidate_buffer_rect(target)
        self.update(self._widget_rect_of(rect))

    # -- layers ----------------------------------------------------------------------------------------

    def layer_style(self, kind: LayerKind) -> LayerStyle:
        return self._styles[kind]

    def set_layer_style(self, kind: LayerKind, style: LayerStyle) -> None:
        if self._styles.get(kind) == style:
            return
        self._styles[kind] = style
        self.invalidate()

    def set_peek_truth(self, peeking: bool) -> None:
        """While held: show the image and the ground truth only (filled), to compare with the working mask."""
        if peeking != self._peek_truth:
            self._peek_truth = peeking
            self.invalidate()

    def invalidate(self) -> None:
        """Recomposite everything (lazily, as it becomes visible)."""
        self._valid[:] = False
        self._pending.clear()
        self.update()

    def _layers(self) -> list[tuple[LayerKind, np.ndarray, LayerStyle]]:
        session = self._session
        assert session is not None
        arrays = {
            LayerKind.GROUND_TRUTH: session.ground_truth,
            LayerKind.PREDICTION: session.prediction,
            LayerKind.WORKING: session.mask,
            LayerKind.ERROR_MAP: session.error_map,
        }
        if self._peek_truth and session.ground_truth is not None:
            return [(LayerKind.GROUND_TRUTH, session.ground_truth, LayerStyle(True, 0.7))]
        return [(kind, arrays[kind], self._styles[kind]) for kind in MASK_LAYERS if arrays[kind] is not None]

    # -- view ------------------------------------------------------------------------------------------

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def step(self) -> int:
        return self._step

    def _image_shape(self) -> tuple[int, int]:
        return (1, 1) if self._session is None else self._session.shape

    def fit(self) -> None:
        height, width = self._image_shape()
        scale = min(max(1, self.width()) / width, max(1, self.height()) / height)
        self._set_view(scale, QPointF((self.width() - width * scale) / 2, (self.height() - height * scale) / 2))
        self._fitted = True

    def actual_size(self) -> None:
        """1:1 around the widget's centre."""
        self.zoom_at(QPointF(self.width() / 2, self.height() / 2), 1.0 / self._scale)

    def zoom_at(self, anchor: QPointF, factor: float) -> None:
        """Zoom by ``factor`` keeping the image point under widget point ``anchor`` still."""
        scale = min(MAX_SCALE, max(MIN_SCALE, self._scale * factor))
        factor = scale / self._scale
        offset = anchor - (anchor - self._offset) * factor
        self._set_view(scale, offset)
        self._fitted = False

    def pan_by(self, dx: float, dy: float) -> None:
        self._set_view(self._scale, self._offset + QPointF(dx, dy))
        self._fitted = False

    def _set_view(self, scale: float, offset: QPointF) -> None:
        self._scale, self._offset = float(scale), QPointF(offset)
        step = step_for(self._scale, self._image_shape())
        if self._buffer is None or step != self._step:
            self._step = step
            self._reset_buffer()
        self.update()
        self.view_changed.emit()

    def _reset_buffer(self) -> None:
        if self._session is None:
            self._buffer = None
            self._valid = np.zeros((0, 0), dtype=bool)
            return
        rows, cols, _ = out_shape(self._session.shape, self._step)
        self._buffer = RgbaImage(np.empty((rows, cols, 4), dtype=np.uint8))
        self._valid = np.zeros((-(-rows // TILE), -(-cols // TILE)), dtype=bool)
        self._pending.clear()

    def image_to_widget(self, x: float, y: float) -> QPointF:
        """Widget position of image point ``(x, y)`` (pixel centres on integers)."""
        return QPointF(self._offset.x() + (x + 0.5) * self._scale, self._offset.y() + (y + 0.5) * self._scale)

    def widget_to_image(self, point: QPointF) -> tuple[float, float]:
        return ((point.x() - self._offset.x()) / self._scale - 0.5, (point.y() - self._offset.y()) / self._scale - 0.5)

    def _widget_rect_of(self, rect: Rect) -> QRect:
        """The widget pixels showing image rectangle ``rect`` (rounded outwards, plus the brush cursor)."""
        s, o = self._scale * self._step, self._offset
        step = self._step
        left = o.x() + (rect.left // step) * s
        top = o.y() + (rect.top // step) * s
        right = o.x() + (-(-rect.right // step)) * s
        bottom = o.y() + (-(-rect.bottom // step)) * s
        return QRectF(left, top, right - left, bottom - top).toAlignedRect().adjusted(-2, -2, 2, 2)

    def _visible_buffer_rect(self, clip: QRect) -> Rect:
        """Buffer pixels that land in widget rectangle ``clip``."""
        assert self._buffer is not None
        rows, cols = self._buffer.shape
        s = self._scale * self._step
        left = max(0, math.floor((clip.left() - self._offset.x()) / s))
        top = max(0, math.floor((clip.top() - self._offset.y()) / s))
        right = min(cols, math.ceil((clip.right() + 1 - self._offset.x()) / s))
        bottom = min(rows, math.ceil((clip.bottom() + 1 - self._offset.y()) / s))
        if right <= left or bottom <= top:
            return Rect(0, 0, 0, 0)
        return Rect(top, left, bottom, right)

    def _invalidate_buffer_rect(self, target: Rect) -> None:
        if target.is_empty:
            return
        self._valid[target.top // TILE : -(-target.bottom // TILE), target.left // TILE : -(-target.right // TILE)] = False

    # -- compositing -----------------------------------------------------------------------------------

    def _bring_up_to_date(self, visible: Rect) -> None:
        """Composite the queued edits and the invalid tiles inside ``visible`` (buffer pixels)."""
        assert self._buffer is not None and self._session is not None and self._palettes is not None
        session, out, step = self._session, self._buffer.array, self._step
        layers = self._layers()
        image_style = self._styles[LayerKind.IMAGE]
        pending, self._pending = self._pending, []
        for rect in pending:
            done = composite(out, rect, image=session.image, layers=layers, palettes=self._palettes, step=step,
                             image_style=image_style)
            self.composited_pixels += done.area
        if visible.is_empty:
            return
        t0, t1 = visible.top // TILE, -(-visible.bottom // TILE)
        l0, l1 = visible.left // TILE, -(-visible.right // TILE)
        block = self._valid[t0:t1, l0:l1]
        if block.all():
            return
        for ty, tx in zip(*np.nonzero(~block)):
            row, col = (t0 + int(ty)) * TILE, (l0 + int(tx)) * TILE
            image_rect = Rect(row * step, col * step, (row + TILE) * step, (col + TILE) * step)
            done = composite(out, image_rect, image=session.image, layers=layers, palettes=self._palettes,
                             step=step, image_style=image_style)
            self.composited_pixels += done.area
        block[:] = True

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(event.rect(), QColor(40, 40, 40))
        if self._session is not None and self._buffer is not None:
            visible = self._visible_buffer_rect(event.rect())
            self._bring_up_to_date(visible)
            if not visible.is_empty:
                s = self._scale * self._step
                target = QRectF(self._offset.x() + visible.left * s, self._offset.y() + visible.top * s,
                                visible.width * s, visible.height * s)
                source = QRectF(visible.left, visible.top, visible.width, visible.height)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
                painter.drawImage(target, self._buffer.qimage, source)
            self._draw_overlays(painter)
        painter.end()

    def _draw_overlays(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        polygon = self.tools.polygon
        if polygon:
            points = [self.image_to_widget(x, y) for x, y in polygon]
            if self._mouse is not None:
                points.append(self._mouse)
            painter.setPen(QPen(QColor(255, 255, 0), 1.5))
            painter.drawPolyline(QPolygonF(points))
        if self._mouse is not None and self.tools.tool.paints_strokes and not self._space_down:
            radius = self.tools.radius * self._scale
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(0, 0, 0), 3))
            painter.drawEllipse(self._mouse, radius, radius)
            painter.setPen(QPen(QColor(255, 255, 255), 1))
            painter.drawEllipse(self._mouse, radius, radius)

    def _cursor_rect(self, point: QPointF | None) -> QRect:
        if point is None:
            return QRect()
        r = self.tools.radius * self._scale + 4
        return QRectF(point.x() - r, point.y() - r, 2 * r, 2 * r).toAlignedRect()

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001
        if self._fitted:
            self.fit()
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, 600)

    # -- input -----------------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if delta:
            self.zoom_at(event.position(), 1.25 ** (delta / 120.0))
        event.accept()

    def _apply(self, result: ToolResult) -> None:
        if result.picked is not None:
            self.class_picked.emit(result.picked)
        if not result.changed.is_empty:
            self.edited.emit(result.changed)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        position = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space_down
        ):
            self._pan_from = position
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._apply(self.tools.press(self.widget_to_image(position)))
            if self.tools.tool is Tool.POLYGON:
                self.update()
        elif event.button() == Qt.MouseButton.RightButton and self.tools.tool is Tool.POLYGON:
            self._apply(self.tools.close_polygon())
            self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.tools.tool is Tool.POLYGON and event.button() == Qt.MouseButton.LeftButton:
            self._apply(self.tools.close_polygon())
            self.update()
        else:
            self.mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        position = event.position()
        old = self._mouse
        self._mouse = position
        if self._pan_from is not None:
            delta = position - self._pan_from
            self._pan_from = position
            self.pan_by(delta.x(), delta.y())
            return
        x, y = self.widget_to_image(position)
        self._apply(self.tools.move((x, y)))
        self.update(self._cursor_rect(old).united(self._cursor_rect(position)))
        if self.tools.polygon:
            self.update()
        session = self._session
        value = None if session is None else session.class_at(x, y)
        if value is None:
            self.cursor_moved.emit(-1, -1, -1)
        else:
            self.cursor_moved.emit(math.floor(x + 0.5), math.floor(y + 0.5), value)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.unsetCursor()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._apply(self.tools.release(self.widget_to_image(event.position())))

    def leaveEvent(self, event) -> None:  # noqa: N802, ANN001
        old, self._mouse = self._mouse, None
        self.update(self._cursor_rect(old))
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.tools.polygon:
            self._apply(self.tools.close_polygon())
            self.update()
            return
        if event.key() == Qt.Key.Key_Escape and self.tools.polygon:
            self.tools.cancel()
            self.update()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self._pan_from = None
            self.unsetCursor()
            return
        super().keyReleaseEvent(event)

    def set_brush_size(self, size: int) -> None:
        before = self.tools.size
        self.tools.size = size
        if self.tools.size != before:
            self.update(self._cursor_rect(self._mouse).adjusted(-600, -600, 600, 600))
            self.brush_size_changed.emit(self.tools.size)
