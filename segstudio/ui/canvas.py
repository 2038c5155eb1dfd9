"""The canvas: an image session's layers, composited lazily into small RGBA tiles, with zoom, pan and the
editing tools.

This module owns the widget: the view (``scale``, ``offset`` and the zoom's ``step``), painting the visible tiles
and the tools' overlays, and turning mouse, wheel and keys into tool calls, pans and zooms. The tiles and their
LRU cache (why memory is bounded by the cache, not the image) are :mod:`segstudio.ui.canvas_tiles`; what a tile
shows (layers, styles, the highlight, instances in their own shades) is :mod:`segstudio.ui.canvas_compositing`; the
polygon and brush outline drawn over it are :mod:`segstudio.ui.canvas_overlays`.

View: ``scale`` widget pixels per image pixel; image pixel ``(x, y)`` (centre on integers) covers widget
``[offset + x * scale, offset + (x + 1) * scale)``.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QWidget

from segstudio.core.geometry import Rect
from segstudio.core.instances import InstanceMask
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes
from segstudio.core.session import ImageSession
from segstudio.ui.canvas_compositing import DEFAULT_STYLES, HIGHLIGHT_COLOUR, ShownColours, composite_tile
from segstudio.ui.canvas_overlays import draw_marks, draw_outline, draw_overlays, draw_scribble
from segstudio.ui.canvas_tiles import (MAX_TILE_BYTES, TILE, Tile, TileCache, TileKey, step_for, tile_image_rect,
                                       tiles_in_view)
from segstudio.ui.tools import SCRIBBLE_RADIUS, Tool, ToolController, ToolResult

MIN_SCALE, MAX_SCALE = 1.0 / 256.0, 64.0
OUTLINE_HIT_PIXELS = 6.0  # a press this close (widget pixels) to an outline's vertex or edge takes it


class Canvas(QWidget):
    """Shows one :class:`ImageSession` and forwards gestures to a :class:`ToolController`.

    Signals: ``cursor_moved(x, y, class_or_minus_1)`` in image pixels (-1 outside the image);
    ``class_picked(int)``; ``edited(Rect)`` after every change a gesture made; ``stroke_ended()`` when the mouse
    is released or a gesture cancelled (a stroke that painted back what it painted changes nothing, so no edit says
    it ended); ``view_changed()``;
    ``brush_size_changed(int)``; ``tool_refused(str)``: a gesture did nothing for a reason the user must see
    (e.g. the eraser has no value to write in this label set), for the status bar; ``palettes_changed()``: the
    colours masks are drawn in changed (a new session or label set), e.g. for the error map's legend.
    """

    cursor_moved = Signal(int, int, int)
    class_picked = Signal(int)
    instance_picked = Signal(int)  # the Pick tool on an instance session: the instance under the cursor (0: none)
    instances_changed = Signal()  # instances came or went (new codes and colours: lists showing them refresh)
    region_clicked = Signal(float, float)  # the region tool clicked at this image point
    box_drawn = Signal(object)  # the box-to-mask tool's box (a Rect), for the GrabCut job
    prompt_clicked = Signal(float, float, bool)  # click to segment: a point on (True) or off (False) the object
    prompt_ended = Signal(bool)  # click to segment: Enter (True: write the proposal) or Esc (False: drop it)
    scribbled = Signal(object, bool)  # the box tool: a stroke's points marking the object (True) or not, to refine
    edited = Signal(object)
    stroke_ended = Signal()
    view_changed = Signal()
    brush_size_changed = Signal(int)
    tool_refused = Signal(str)
    tool_note = Signal(str)  # what a gesture did or how to go on (the outline tool), for the status bar
    palettes_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 150)
        self.tools = ToolController()
        self._session: ImageSession | None = None
        self._colours = ShownColours()
        self._styles: dict[LayerKind, LayerStyle] = dict(DEFAULT_STYLES)
        self._peek_truth = False
        self._scale = 1.0
        self._offset = QPointF(0.0, 0.0)
        self._fitted = True
        self._step = 1
        self._tiles = TileCache()
        self._highlight: np.ndarray | None = None  # bool mask drawn on top (e.g. a selected instance)
        self._highlight_colour = HIGHLIGHT_COLOUR
        self._doubt: np.ndarray | None = None  # the model-doubt layer's levels for the session (uint8)
        self._space_down = False
        self._pan_from: QPointF | None = None
        self._mouse: QPointF | None = None
        self.composited_pixels = 0  # output pixels composited so far (for tests and the bench)
        self.tiles_composited = 0  # whole tiles composited so far (for tests)

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
        self._colours.start(session)
        if session is not None:
            session.add_listener(self._on_session_change)
        self._highlight = None
        self._doubt = None
        self._tiles.clear()
        self.palettes_changed.emit()
        if self._fitted or session is None:
            self.fit()
        else:
            self._set_view(self._scale, self._offset)

    def set_palettes(self, palettes: Palettes) -> None:
        """Draw class masks with ``palettes`` from now on (e.g. after a class was added or recoloured)."""
        self._colours.set_classes(palettes, self._session)
        self.invalidate()
        self.palettes_changed.emit()

    def set_instances(self, instances: InstanceMask | None) -> None:
        """Draw ``instances`` (of the shown session's ground truth) apart, each object in its own shade of its class
        colour in the ground truth and the working mask; None: classes only."""
        self._colours.set_instances(instances, self._session)
        self.invalidate()

    def instance_at(self, x: int, y: int) -> int:
        """The id of the ground truth's instance at image pixel ``(x, y)`` (0: none, or no instances shown)."""
        return self._colours.instance_at(x, y)

    def instance_colour(self, instance_id: int) -> tuple[int, int, int] | None:
        """The shade instance ``instance_id`` is drawn in (None: not shown apart)."""
        return self._colours.instance_colour(instance_id)

    @property
    def palettes(self) -> Palettes | None:
        return self._colours.palettes

    def set_highlight(self, mask: np.ndarray | None, colour: tuple[int, int, int] = HIGHLIGHT_COLOUR) -> None:
        """Outline-free highlight: ``mask`` (bool, the image's shape) blended on top in ``colour`` (a selected
        instance in yellow, where two predictions disagree in cyan), or None. One at a time: the last one set."""
        if mask is not None and (self._session is None or mask.shape != self._session.shape):
            raise ValueError("a highlight mask must have the session image's shape")
        self._highlight = None if mask is None else np.asarray(mask, dtype=bool)
        self._highlight_colour = colour
        self.invalidate()

    def set_doubt(self, levels: np.ndarray | None) -> None:
        """The model-doubt layer (:meth:`~segstudio.core.confidence.Confidence.doubt`, the image's shape), or None."""
        if levels is not None and (self._session is None or levels.shape != self._session.shape):
            raise ValueError("the doubt layer must have the session image's shape")
        self._doubt = levels
        self.invalidate()

    @property
    def doubt(self) -> np.ndarray | None:
        return self._doubt

    def _on_session_change(self, rect: Rect) -> None:
        if rect.is_empty:
            return
        if self._colours.instances is not None and self._session is not None:
            if self._colours.instances.update(self._session, rect):
                self._colours.remix()  # instances came or went: new codes, new colours, everything redrawn
                self.invalidate()
                self.instances_changed.emit()
                return
            height, width = self._session.shape  # an instance's outline may move one pixel past the edit
            rect = Rect(max(0, rect.top - 1), max(0, rect.left - 1), min(height, rect.bottom + 1), min(width, rect.right + 1))
        self._tiles.queue_edit(rect, self._image_shape())
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
        self._tiles.invalidate()
        self.update()

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

    def show_rect(self, rect: Rect) -> None:
        """Bring image rectangle ``rect`` into view: left as it is when it already shows whole, else centred,
        zoomed out only as far as it needs to fit."""
        if rect.is_empty or self._session is None:
            return
        shown = QRectF(self.rect())
        corners = (self.image_to_widget(rect.left - 0.5, rect.top - 0.5),
                   self.image_to_widget(rect.right - 0.5, rect.bottom - 0.5))
        if all(shown.contains(corner) for corner in corners):
            return
        fits = min(self.width() / (rect.width * 1.25), self.height() / (rect.height * 1.25))
        scale = max(MIN_SCALE, min(self._scale, fits))
        centre_x, centre_y = (rect.left + rect.right) / 2, (rect.top + rect.bottom) / 2
        self._set_view(scale, QPointF(self.width() / 2 - centre_x * scale, self.height() / 2 - centre_y * scale))
        self._fitted = False

    def pan_by(self, dx: float, dy: float) -> None:
        self._set_view(self._scale, self._offset + QPointF(dx, dy))
        self._fitted = False

    def _set_view(self, scale: float, offset: QPointF) -> None:
        self._scale, self._offset = float(scale), QPointF(offset)
        self._step = step_for(self._scale)
        self.tools.outlines.hit_radius = OUTLINE_HIT_PIXELS / self._scale  # what a press takes, in image pixels
        self.tools.view = self._shown_rect()
        self.update()
        self.view_changed.emit()

    def _shown_rect(self) -> Rect | None:
        """The image pixels the widget shows (None without a session)."""
        if self._session is None:
            return None
        height, width = self._session.shape
        left, top = self.widget_to_image(QPointF(0, 0))
        right, bottom = self.widget_to_image(QPointF(self.width(), self.height()))
        top_row, left_col = min(height, max(0, math.floor(top))), min(width, max(0, math.floor(left)))
        # Panned off the image: an empty rectangle at its edge, never a negative one.
        return Rect(top_row, left_col, max(top_row, min(height, math.ceil(bottom) + 1)),
                    max(left_col, min(width, math.ceil(right) + 1)))

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

    # -- tiles -----------------------------------------------------------------------------------------

    @property
    def tile_count(self) -> int:
        """Tiles held in the cache now (all zoom levels)."""
        return len(self._tiles)

    @property
    def tiles(self) -> TileCache:
        """The tiles held now, by ``(step, row, column)``: for checking what is shown and what memory holds."""
        return self._tiles

    @property
    def tile_bytes(self) -> int:
        """Bytes of RGBA held by the tile cache now."""
        return self._tiles.nbytes

    def visible_tiles(self, clip: QRect | None = None) -> list[TileKey]:
        """Keys ``(step, ty, tx)`` of the tiles at the current step that land in widget rectangle ``clip``
        (default: the whole widget)."""
        if self._session is None:
            return []
        clip = self.rect() if clip is None else clip
        return tiles_in_view((clip.left(), clip.top(), clip.right() + 1, clip.bottom() + 1), self._session.shape,
                             self._step, self._scale, (self._offset.x(), self._offset.y()))

    # -- compositing -----------------------------------------------------------------------------------

    def _composite(self, tile: Tile, step: int, rect: Rect) -> None:
        """Composite image rectangle ``rect`` into ``tile`` (clipped to it)."""
        assert self._session is not None and self._colours.palettes is not None
        done = composite_tile(tile, step, rect, session=self._session, palettes=self._colours.palettes,
                              styles=self._styles, peek_truth=self._peek_truth, highlight=self._highlight,
                              highlight_colour=self._highlight_colour, instances=self._colours.instances,
                              doubt=self._doubt)
        self.composited_pixels += done.area

    def _bring_up_to_date(self, key: TileKey, tile: Tile) -> None:
        step = key[0]
        if not tile.valid:
            self._composite(tile, step, tile_image_rect(key, self._image_shape()))
            self.tiles_composited += 1
            tile.valid, tile.dirty = True, []
            return
        dirty, tile.dirty = tile.dirty, []
        for rect in dirty:
            self._composite(tile, step, rect)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), QColor(40, 40, 40))
        if self._session is not None and self._colours.palettes is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            s = self._scale * self._step
            keys = self.visible_tiles(event.rect())
            for key in keys:
                tile = self._tiles.tile(key, self._image_shape())
                self._bring_up_to_date(key, tile)
                rows, cols = tile.buffer.shape
                _, ty, tx = key
                target = QRectF(self._offset.x() + tx * TILE * s, self._offset.y() + ty * TILE * s, cols * s, rows * s)
                painter.drawImage(target, tile.buffer.qimage, QRectF(0, 0, cols, rows))
            # Keep every tile of the whole view (not only this paint's clip) when evicting.
            self._tiles.evict(set(self.visible_tiles()) | set(keys), MAX_TILE_BYTES)
            self._draw_overlays(painter)
        painter.end()

    def _draw_overlays(self, painter: QPainter) -> None:
        polygon = [self.image_to_widget(x, y) for x, y in self.tools.polygon]
        if polygon and self._mouse is not None and self.tools.tool is not Tool.BOX:
            polygon.append(self._mouse)
        brush = self.tools.tool.paints_strokes and not self._space_down
        draw_overlays(painter, polygon, self._mouse if brush else None, self.tools.radius * self._scale)
        if self.tools.scribble is not None:
            points, keep = self.tools.scribble
            draw_scribble(painter, [self.image_to_widget(x, y) for x, y in points], keep,
                          max(2.0, SCRIBBLE_RADIUS * 2 * self._scale))
        if self.tools.marks:
            draw_marks(painter, [(self.image_to_widget(x, y), inside) for x, y, inside in self.tools.marks])
        outline = self.tools.outlines.outline
        if outline is not None:
            draw_outline(painter, [[self.image_to_widget(float(x), float(y)) for x, y in ring] for ring in outline.rings])

    def _cursor_rect(self, point: QPointF | None) -> QRect:
        if point is None:
            return QRect()
        r = self.tools.radius * self._scale + 4
        return QRectF(point.x() - r, point.y() - r, 2 * r, 2 * r).toAlignedRect()

    def resizeEvent(self, event) -> None:
        if self._fitted:
            self.fit()
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    # -- input -----------------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta:
            self.zoom_at(event.position(), 1.25 ** (delta / 120.0))
        event.accept()

    def _apply(self, result: ToolResult) -> None:
        if result.picked is not None:
            self.class_picked.emit(result.picked)
        if result.picked_instance is not None:
            self.instance_picked.emit(result.picked_instance)
        if result.region_point is not None:
            self.region_clicked.emit(*result.region_point)
        if result.box is not None:
            self.box_drawn.emit(result.box)
        if result.prompt is not None:
            self.prompt_clicked.emit(*result.prompt)
        if result.scribble is not None:
            self.scribbled.emit(*result.scribble)
        if result.problem is not None:
            self.tool_refused.emit(result.problem)
        if result.note is not None:
            self.tool_note.emit(result.note)
        if not result.changed.is_empty:
            self.edited.emit(result.changed)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space_down
        ):
            self._pan_from = position
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        scribbling = self.tools.tool is Tool.BOX and (event.button() == Qt.MouseButton.RightButton or (
            event.button() == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        if scribbling:
            self.tools.start_scribble(self.widget_to_image(position), event.button() == Qt.MouseButton.LeftButton)
        elif event.button() == Qt.MouseButton.LeftButton:
            self._apply(self.tools.press(self.widget_to_image(position)))
            if self.tools.tool in (Tool.POLYGON, Tool.LASSO):
                self.update()
        elif event.button() == Qt.MouseButton.RightButton and self.tools.tool in (Tool.POLYGON, Tool.LASSO):
            self._apply(self.tools.close_polygon())
            self.update()
        elif event.button() == Qt.MouseButton.RightButton and self.tools.tool is Tool.CLICK:
            self.prompt_clicked.emit(*self.widget_to_image(position), False)
        elif event.button() == Qt.MouseButton.RightButton and self.tools.tool is Tool.OUTLINE:
            self._apply(self.tools.delete_outline_vertex(self.widget_to_image(position)))
            self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.tools.tool in (Tool.POLYGON, Tool.LASSO) and event.button() == Qt.MouseButton.LeftButton:
            self._apply(self.tools.close_polygon())
            self.update()
        else:
            self.mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
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
        if self.tools.polygon or self.tools.outlines.editing or self.tools.scribble is not None:
            self.update()
        session = self._session
        value = None if session is None else session.class_at(x, y)
        if value is None:
            self.cursor_moved.emit(-1, -1, -1)
        else:
            self.cursor_moved.emit(math.floor(x + 0.5), math.floor(y + 0.5), value)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.unsetCursor()
            return
        if self.tools.scribble is not None and event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._apply(self.tools.end_scribble())
            self.update()
        elif event.button() == Qt.MouseButton.LeftButton:
            self._apply(self.tools.release(self.widget_to_image(event.position())))
            self.stroke_ended.emit()

    def leaveEvent(self, event) -> None:
        old, self._mouse = self._mouse, None
        self.update(self._cursor_rect(old))
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.tools.polygon:
            self._apply(self.tools.close_polygon())
            self.update()
            return
        if event.key() == Qt.Key.Key_Escape and (self.tools.polygon or self.tools.outlines.editing):
            self.tools.cancel()
            self.update()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape) and self.tools.marks:
            self.prompt_ended.emit(event.key() != Qt.Key.Key_Escape)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.tools.outlines.editing:
            self._apply(self.tools.commit_outline())
            self.update()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
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
