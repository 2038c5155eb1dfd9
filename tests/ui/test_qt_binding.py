"""The Qt binding itself: PySide6 6.12.0 on CPython 3.11 dropped a reference to None on every Qt call that
returns nothing, so a few thousand repaints aborted the app ("deallocating None"). pyproject excludes it; this
test catches any other release with the same fault before a user does."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QWidget


def test_void_and_bool_qt_calls_keep_reference_counts(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = QWidget()
    qtbot.addWidget(widget)
    none_before, true_before, false_before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(20_000):
        widget.update()
        widget.isVisible()
    assert abs(sys.getrefcount(None) - none_before) < 100
    assert abs(sys.getrefcount(True) - true_before) < 100
    assert abs(sys.getrefcount(False) - false_before) < 100
