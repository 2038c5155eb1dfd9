"""Paint latency: a synthetic mouse-move event -> one brush segment -> repainted canvas + refreshed metrics.

Same stroke, same 1:1 view, on an 8192x8192 and a 1024x1024 image (random image, ground truth and
prediction); prints the median time per segment for each and their ratio (the issue asks for <= 1.2x).

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/bench_paint_latency.py      # with napari (real GL)
    QT_QPA_PLATFORM=offscreen python bench/bench_paint_latency.py                    # ours only by default
    pip install -e ".[bench]"                                                         # napari, for the comparison

What our figure includes, per segment: ``sendEvent(MouseMove)`` to the Canvas widget (the brush segment is
painted into the working mask, the dirty rectangle's metrics are updated and ``update(rect)`` is scheduled),
``processEvents()`` (the canvas' paint event for that rectangle really runs: a counter on QEvent.Paint checks
it), and ``MetricsPanel.refresh()`` (the readouts' text set). The canvas and the metrics panel are the app's own
widgets, not the whole MainWindow.

napari (optional; "napari not installed: skipped" when absent; only on a real X server, since its canvas is
OpenGL): a ``napari.Viewer`` with an RGB image layer and a Labels layer of the same size, mode 'paint',
``brush_size`` = our brush diameter, zoom 1. Each segment is a Qt ``QMouseEvent(MouseMove)`` with the left
button held, sent to the vispy canvas' native Qt widget - the same path as a real mouse move (vispy -> napari's
mouse-drag generator ``draw`` -> ``Labels._draw`` -> partial texture update) - then ``processEvents()`` and
``native.repaint()`` + ``glFinish`` so the GL redraw really ran. napari computes no metrics: its figure is
painting + redraw only. Our figure includes the metrics readout.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless; under xvfb-run the real X server (xcb)
os.environ.setdefault("QT_API", "pyside6")  # napari (qtpy) on our PySide6

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.ui.canvas import Canvas
from segstudio.ui.metrics_panel import MetricsPanel

SEGMENTS = 200
BRUSH = 20
RATIO_TARGET = 1.2


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def stroke_point(index: int) -> QPointF:
    return QPointF(200 + (index % 100) * 6, 200 + (index // 100) * 40 + (index % 7))


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


def measure(app: QApplication, side: int) -> tuple[list[float], int]:
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
    canvas.tools.size = BRUSH
    counter = PaintCounter()
    canvas.installEventFilter(counter)
    canvas.repaint()
    app.processEvents()
    times = []
    start = QPointF(200, 200)
    app.sendEvent(canvas, mouse(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton))
    app.processEvents()
    counter.count = 0
    for index in range(SEGMENTS):
        point = stroke_point(index)
        t0 = time.perf_counter()
        app.sendEvent(canvas, mouse(QEvent.Type.MouseMove, point, Qt.MouseButton.LeftButton))
        app.processEvents()  # the paint of the updated rectangle and the metrics refresh
        panel.refresh()
        times.append(time.perf_counter() - t0)
    app.sendEvent(canvas, mouse(QEvent.Type.MouseButtonRelease, point, Qt.MouseButton.NoButton))
    paints = counter.count
    canvas.close()
    return times, paints


def measure_napari(app: QApplication, side: int) -> list[float] | None:
    """The same stroke painted by napari's Labels layer through Qt mouse events on its vispy canvas."""
    import napari
    from qtpy.QtCore import QPointF as NPointF  # the same PySide6 classes (QT_API=pyside6)

    rng = np.random.default_rng(side)
    image = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1400, 1000)
    viewer.add_image(image, rgb=True, name="image")
    labels = viewer.add_labels(np.zeros((side, side), dtype=np.uint8), name="labels")
    labels.mode = "paint"
    labels.brush_size = BRUSH
    labels.selected_label = 3
    viewer.layers.selection.active = labels
    canvas = viewer.window._qt_viewer.canvas
    native = canvas.native
    for _ in range(5):
        app.processEvents()
    width, height = native.width(), native.height()
    camera = getattr(getattr(viewer, "scene", None), "camera", None) or viewer.camera
    camera.zoom = 1.0
    # widget (200, 200) shows data pixel (side/2 - 300, side/2 - 300): the stroke stays on the image at both sizes
    camera.center = (side / 2 - 300 + (height / 2 - 200), side / 2 - 300 + (width / 2 - 200))
    native.repaint()
    app.processEvents()
    gl_finish = _gl_finish()

    def send(kind: QEvent.Type, point: QPointF, buttons: Qt.MouseButton) -> None:
        app.sendEvent(native, mouse(kind, NPointF(point), buttons))

    send(QEvent.Type.MouseButtonPress, stroke_point(0), Qt.MouseButton.LeftButton)
    app.processEvents()
    times, event_only = [], []
    before = labels.data.astype(bool).sum()
    for index in range(SEGMENTS):
        t0 = time.perf_counter()
        send(QEvent.Type.MouseMove, stroke_point(index), Qt.MouseButton.LeftButton)
        app.processEvents()  # vispy's own update() -> paintGL usually runs here already
        t1 = time.perf_counter()
        native.repaint()  # one more GL redraw, synchronously, so a redraw is surely in the figure
        gl_finish()
        times.append(time.perf_counter() - t0)
        event_only.append(t1 - t0)
    send(QEvent.Type.MouseButtonRelease, stroke_point(SEGMENTS - 1), Qt.MouseButton.NoButton)
    app.processEvents()
    painted = int(labels.data.astype(bool).sum()) - int(before)
    viewer.close()
    app.processEvents()
    if painted <= 0:
        print(f"napari {side}x{side}: the mouse events painted nothing (the measurement is void)")
        return None
    print(f"  (napari painted {painted} pixels with the stroke; event + processEvents alone, without the forced "
          f"repaint: median {statistics.median(event_only) * 1e3:.2f} ms)")
    return times


def _gl_finish():  # noqa: ANN202
    try:
        from OpenGL import GL

        return GL.glFinish
    except Exception:  # noqa: BLE001
        return lambda: None


def napari_available() -> str | None:
    """None when napari can be used here, else why not."""
    try:
        import importlib.util

        if importlib.util.find_spec("napari") is None:
            return "napari not installed: skipped (pip install -e '.[bench]')"
    except Exception as error:  # noqa: BLE001
        return f"napari not importable ({error}): skipped"
    if QApplication.platformName() in ("offscreen", "minimal"):
        return f"napari needs OpenGL on a real display (Qt platform {QApplication.platformName()}): skipped; run under xvfb-run"
    return None


def summary(times: list[float]) -> str:
    return (f"median {statistics.median(times) * 1e3:.2f} ms per segment "
            f"(p90 {sorted(times)[int(0.9 * len(times))] * 1e3:.2f} ms, {len(times)} segments)")


def main() -> int:
    os.environ.setdefault("QT_API", "pyside6")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    print(f"Qt platform {app.platformName()}, {os.cpu_count()} CPUs, brush {BRUSH} px, {SEGMENTS} segments of ~6 px")
    results = {}
    for side in (1024, 8192):
        times, paints = measure(app, side)
        results[side] = statistics.median(times)
        print(f"segstudio {side}x{side}: {summary(times)}; {paints} canvas paint events "
              f"[mouse move + paint + metrics readout]")
    ratio = results[8192] / results[1024]
    verdicts = ["PASS" if ratio <= RATIO_TARGET else "FAIL"]
    print(f"{verdicts[0]}: segstudio ratio 8192/1024: {ratio:.2f}x (target <= {RATIO_TARGET}x)")

    why_not = napari_available()
    if why_not is not None:
        print(why_not)
    else:
        import napari

        napari_results = {}
        for side in (1024, 8192):
            times = measure_napari(app, side)
            if times is None:
                continue
            napari_results[side] = statistics.median(times)
            print(f"napari {napari.__version__} {side}x{side}: {summary(times)} [mouse move + Labels paint + GL redraw, no metrics]")
        for side, theirs in napari_results.items():
            ours = results[side]
            verdict = "PASS" if ours <= theirs else "FAIL"
            verdicts.append(verdict)
            print(f"{verdict}: {side}x{side}: segstudio / napari = {ours * 1e3:.2f} / {theirs * 1e3:.2f} ms = "
                  f"{ours / theirs:.2f}x (target <= 1.0x; ours includes the metrics readout)")
    return 0 if all(v == "PASS" for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
