"""In the window: the outline tool (O) on a CamVid mask: a click traces the region under it, an unedited exact
outline writes back bit-exact, a dragged vertex moves the region's edge, a right-click deletes a vertex, Enter is one
undo step and Esc drops the outline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from segstudio.core.outlines import outline_pixels, region_under
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from tests.ui.test_main_window import open_and_wait, paint_stroke, widget_point


def _largest_region_point(mask: np.ndarray) -> tuple[float, float]:
    import cv2

    best = None
    for value in np.unique(mask):
        count, labels, stats, _ = cv2.connectedComponentsWithStats((mask == value).astype(np.uint8), connectivity=8)
        for label in range(1, count):
            area = int(stats[label, cv2.CC_STAT_AREA])
            if 2000 < area < 20000 and (best is None or area > best[0]):
                rows, cols = np.nonzero(labels == label)
                middle = len(rows) // 2
                best = (area, float(cols[middle]), float(rows[middle]))
    assert best is not None
    return best[1], best[2]


def test_outline_round_trip_edit_undo(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    session, canvas, tools = window.canvas.session, window.canvas, window.canvas.tools
    x, y = _largest_region_point(session.mask)
    rect, region, value = region_under(session.mask, (x, y))
    before = session.mask.copy()

    # Tolerance 0: the exact pixel edges; writing it unedited changes nothing.
    tools.outlines.tolerance = 0.0
    window.commands.action(Command.OUTLINE).trigger()
    with qtbot.waitSignal(canvas.tool_note) as note:
        paint_stroke(qtbot, window, [(x, y)])
    assert "writing it changes nothing" in note.args[0]
    outline = tools.outlines.outline
    assert outline is not None and outline.value == value
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    assert np.array_equal(session.mask, before) and tools.outlines.outline is None

    # Tolerance 2: simplified; drag a vertex 12 px out, Enter writes it, one undo step.
    tools.outlines.tolerance = 2.0
    paint_stroke(qtbot, window, [(x, y)])
    outline = tools.outlines.outline
    vx, vy = (float(v) for v in outline.exterior[0])
    target = (vx - 12.0, vy - 12.0)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, vx, vy))
    QTest.mouseMove(canvas, widget_point(window, *target))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       widget_point(window, *target))
    moved = tools.outlines.outline
    assert moved is not None and np.allclose(moved.exterior[0], target, atol=1.0)
    expected_inside = outline_pixels(moved, session.shape)
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    inside = np.zeros(session.shape, dtype=bool)
    inside[expected_inside.rect.slices] = expected_inside.pixels
    assert (session.mask[inside] == value).all()
    old = np.zeros(session.shape, dtype=bool)
    old[rect.slices] = region
    untouched = ~(inside | old)
    assert np.array_equal(session.mask[untouched], before[untouched])
    window.commands.action(Command.UNDO).trigger()
    assert np.array_equal(session.mask, before)

    # Right-click deletes a vertex; Esc drops the outline, writing nothing.
    paint_stroke(qtbot, window, [(x, y)])
    count = tools.outlines.outline.vertex_count
    vx, vy = (float(v) for v in tools.outlines.outline.exterior[1])
    QTest.mouseClick(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, widget_point(window, vx, vy))
    assert tools.outlines.outline.vertex_count == count - 1
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert tools.outlines.outline is None and np.array_equal(session.mask, before)
