"""The tiled canvas: images past Qt's 32767-pixel limit open, display (downsampled when zoomed out), stay
paintable at step 1, and only visible tiles are ever composited, with memory bounded by the tile cache."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.ui import canvas as canvas_module
from segstudio.ui.canvas import TILE, Canvas
from segstudio.ui.qt_image import MAX_QIMAGE_SIDE, qimage_to_array


def _session(height: int, width: int) -> ImageSession:
    """A grey image whose columns ramp (so every region is distinguishable) and a blank working mask."""
    image = np.empty((height, width), dtype=np.uint8)
    image[:] = (np.arange(width, dtype=np.uint32) * 7 % 200 + 20).astype(np.uint8)[None, :]
    return ImageSession.start(image, LabelSet.with_count(3))


@pytest.fixture
def canvas(qtbot) -> Canvas:
    widget = Canvas()
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    return widget


def grab(widget: Canvas) -> np.ndarray:
    return qimage_to_array(widget.grab().toImage())


def test_a_past_the_limit_image_opens_and_displays(canvas: Canvas) -> None:
    session = _session(600, 33_000)
    assert session.shape[1] > MAX_QIMAGE_SIDE
    canvas.set_session(session)  # fitted: zoomed out, a downsampled view
    assert canvas.step > 1
    pixels = grab(canvas)
    shown = canvas.image_to_widget(16_500, 300)
    x, y = round(shown.x()), round(shown.y())
    assert not np.array_equal(pixels[y, x, :3], [40, 40, 40])  # image, not the empty background
    # No buffer is larger than a tile, and only a handful exist (the fitted view is one strip of tiles).
    assert all(max(tile.buffer.shape) <= TILE for tile in canvas.tiles.values())
    assert canvas.tile_count <= 4


def test_paint_at_step_1_near_the_far_end_of_a_wide_image(canvas: Canvas, qtbot) -> None:
    session = _session(600, 33_000)
    canvas.set_session(session)
    target_x, target_y = 32_900, 300
    # Zoom to 1:1 and centre the view on the target (far past column 32767).
    canvas.zoom_at(QPointF(400, 300), 1.0 / canvas.scale)
    here = canvas.image_to_widget(target_x, target_y)
    canvas.pan_by(400 - here.x(), 300 - here.y())
    assert canvas.step == 1
    before = grab(canvas)
    canvas.tools.value = 2
    canvas.tools.size = 10
    point = canvas.image_to_widget(target_x, target_y).toPoint()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    QTest.mouseMove(canvas, point + QPoint(8, 0))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point + QPoint(8, 0))
    assert session.mask[target_y, target_x] == 2
    assert session.mask[target_y, target_x + 8] == 2
    assert session.mask[target_y, : 32_000].max() == 0  # nothing painted elsewhere
    # The displayed tile shows the stroke: the pixel under the brush changed colour, towards class 2's.
    after = grab(canvas)
    assert not np.array_equal(after[point.y(), point.x()], before[point.y(), point.x()])
    away = QPoint(point.x() - 200, point.y() - 200)
    assert np.array_equal(after[away.y(), away.x()], before[away.y(), away.x()])
    # The tile behind it is at step 1 and lies past Qt's limit in image coordinates.
    key = (1, target_y // TILE, target_x // TILE)
    assert key in canvas.tiles and canvas.tiles[key].origin[1] > MAX_QIMAGE_SIDE
    colour = session.labels.colours[2]
    tile = canvas.tiles[key]
    oy, ox = tile.origin
    shown = tile.buffer.array[target_y - oy, target_x - ox, :3].astype(int)
    image_grey = int(session.image[target_y, target_x])
    assert np.abs(shown - colour.astype(int)).sum() < np.abs(np.array([image_grey] * 3) - colour.astype(int)).sum()


def test_paint_when_zoomed_out_updates_the_downsampled_tile(canvas: Canvas) -> None:
    session = _session(600, 33_000)
    canvas.set_session(session)
    step = canvas.step
    assert step > 1
    canvas.grab()
    rect = session.paint((32_000, 300), (32_000, 300), radius=60, value=1)
    assert not rect.is_empty and session.mask[300, 32_000] == 1
    canvas.grab()
    key = (step, 0, (32_000 // step) // TILE)
    tile = canvas.tiles[key]
    oy, ox = tile.origin
    shown = tile.buffer.array[(300 - oy) // step, (32_000 - ox) // step, :3].astype(int)
    grey = int(session.image[(300 // step) * step, (32_000 // step) * step])
    assert not np.array_equal(shown, [grey] * 3)


def test_only_visible_tiles_are_composited(canvas: Canvas) -> None:
    session = _session(8192, 8192)
    canvas.set_session(session)
    canvas.zoom_at(QPointF(0, 0), 1.0 / canvas.scale)  # 1:1 at the top-left corner
    canvas.pan_by(-canvas.image_to_widget(0, 0).x() + 0.5, -canvas.image_to_widget(0, 0).y() + 0.5)
    before = canvas.tiles_composited
    canvas.grab()
    visible = canvas.visible_tiles()
    # An 800x600 view at 1:1 from the corner touches 2x2 tiles of the 16x16 an 8192 image has.
    assert len(visible) == 4
    assert canvas.tiles_composited - before == len(visible)
    assert canvas.composited_pixels <= (len(visible) + 8) * TILE * TILE  # never the whole image
    # A repaint with nothing changed composites nothing.
    pixels = canvas.composited_pixels
    canvas.grab()
    assert canvas.composited_pixels == pixels
    # A small edit composites only its rectangle, not whole tiles.
    tiles = canvas.tiles_composited
    session.paint((100, 100), (110, 100), radius=5, value=1)
    canvas.grab()
    assert canvas.tiles_composited == tiles
    assert 0 < canvas.composited_pixels - pixels < 1000


def test_tile_memory_stays_bounded_while_panning(canvas: Canvas, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canvas_module, "MAX_TILE_BYTES", 8 * TILE * TILE * 4)
    session = _session(8192, 8192)
    canvas.set_session(session)
    canvas.zoom_at(QPointF(0, 0), 1.0 / canvas.scale)
    for _ in range(12):
        canvas.pan_by(-600, -400)
        canvas.grab()
        assert canvas.tile_bytes <= max(8, len(canvas.visible_tiles())) * TILE * TILE * 4
    # Tiles were evicted, and a tile scrolled back into view is recomposited correctly.
    canvas.fit()
    pixels = grab(canvas)
    centre = canvas.image_to_widget(4096, 4096)
    assert not np.array_equal(pixels[round(centre.y()), round(centre.x()), :3], [40, 40, 40])
