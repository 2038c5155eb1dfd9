"""Paint latency: a synthetic mouse-move event -> one brush segment -> repainted canvas + refreshed metrics.

Same stroke, same 1:1 view, on an 8192x8192 and a 1024x1024 image (random image, ground truth and
prediction); prints the median time per segment for each and their ratio (the issue asks for <= 1.2x).
Run: QT_QPA_PLATFORM=offscreen python bench/bench_paint_latency.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.ui.canvas import Canvas
from segstudio.ui.metrics_panel import MetricsPanel

SEGMENTS = 200


def make_session(side: int) -> ImageSession:
    rng = np.random.default_rng(side)
    labels = LabelSet.with_count(6)
    blocks = rng.integers(0, 6, size=(side // 64 + 1, side // 64 + 1), dtype=np.uint8)
    truth = np.kron(blocks, np.ones((64, 64), dtype=np.uint8))[:side, :side].copy()
    prediction = truth.copy()
    prediction[::7] = (prediction[::7] + 1) % 6
    image = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    return ImageSession.start(image, labels, ground_truth=truth, prediction=prediction)


def mouse(kind: QEvent.Type, point: QPointF, buttons: Qt.MouseButton) -> QMouseEvent:
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    return QMouseEvent(kind, point, point, button, buttons, Qt.KeyboardModifier.NoModifier)


def measure(app: QApplication, side: int) -> list[float]:
    canvas = Canvas()
    canvas.resize(1000, 800)
    panel = MetricsPanel()
    canvas.edited.connect(lambda _rect: panel.schedule_refresh())
    canvas.show()
    session = make_session(side)
    canvas.set_session(session)
    panel.set_session(session)
    canvas.zoom_at(QPointF(500, 400), 1.0 / canvas.scale)  # 1:1
    canvas.tools.value = 3
    canvas.tools.size = 20
    canvas.repaint()
    app.processEvents()
    times = []
    start = QPointF(200, 200)
    app.sendEvent(canvas, mouse(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton))
    app.processEvents()
    for index in range(SEGMENTS):
        point = QPointF(200 + (index % 100) * 6, 200 + (index // 100) * 40 + (index % 7))
        t0 = time.perf_counter()
        app.sendEvent(canvas, mouse(QEvent.Type.MouseMove, point, Qt.MouseButton.LeftButton))
        app.processEvents()  # the paint of the updated rectangle and the metrics refresh
        panel.refresh()
        times.append(time.perf_counter() - t0)
    app.sendEvent(canvas, mouse(QEvent.Type.MouseButtonRelease, point, Qt.MouseButton.NoButton))
    canvas.close()
    return times


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    results = {}
    for side in (1024, 8192):
        times = measure(app, side)
        results[side] = statistics.median(times)
        print(f"{side}x{side}: median {results[side] * 1e3:.2f} ms per segment "
              f"(p90 {sorted(times)[int(0.9 * len(times))] * 1e3:.2f} ms, {len(times)} segments)")
    print(f"ratio 8192/1024: {results[8192] / results[1024]:.2f}x (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
