"""What a user does in the window, for the tests that drive it: open a folder and wait for its first image, paint a
short stroke."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest


def open_and_wait(qtbot, window, folder: Path) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder)


def paint(qtbot, window, x: float, y: float) -> None:  # noqa: ANN001
    """A 30 x 10 px drag from image point ``(x, y)`` with the current tool and class."""
    canvas = window.canvas
    start = canvas.image_to_widget(x, y).toPoint()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, start + QPoint(30, 10))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(30, 10))
    qtbot.wait(10)
