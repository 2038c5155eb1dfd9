"""The status bar's fields and messages (StatusLine), and the layer styles kept in step (LayerController)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

from segstudio.core.labels import LabelSet
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.session import ImageSession
from segstudio.ui.canvas import Canvas
from segstudio.ui.layer_panel import LayerPanel
from segstudio.ui.layers import LayerController
from segstudio.ui.status import StatusLine
from segstudio.ui.tools import Tool

LABELS = LabelSet.from_names(["background", "road", "car"])


def session(*, prediction: bool = True) -> ImageSession:
    truth = np.zeros((20, 30), np.uint8)
    truth[5:10, 5:20] = 2
    return ImageSession.start(np.zeros((20, 30, 3), np.uint8), LABELS, ground_truth=truth,
                              prediction=truth.copy() if prediction else None)


def status_line(qtbot) -> tuple[StatusLine, Canvas, QMainWindow]:  # noqa: ANN001
    host = QMainWindow()
    qtbot.addWidget(host)
    canvas = Canvas(host)
    host.setCentralWidget(canvas)
    return StatusLine(host.statusBar(), canvas, interactive=False), canvas, host


def test_fields_follow_tools_session_and_read_only(qtbot) -> None:  # noqa: ANN001
    line, canvas, _host = status_line(qtbot)
    canvas.tools.value = 2
    line.refresh()
    assert line.class_name.text() == "class: 2"  # no folder yet: the class by number
    line.set_labels(LABELS)
    canvas.tools.tool, canvas.tools.keep_other_classes = Tool.FILL, True
    line.refresh()
    assert line.class_name.text() == "class: car"
    assert line.tool.text() == f"fill, size {canvas.tools.size}, keep other classes"
    shown = session()
    canvas.set_session(shown)
    shown.paint((3, 3), (6, 6), radius=2, value=1)
    line.refresh()
    assert line.state.text() == "modified"
    line.set_read_only("another window holds it")
    assert line.state.text().startswith("read-only")
    line.show_cursor(7, 6, 1)  # the hover readout: truth, prediction and working class by name, and the mark
    assert line.cursor.text() == "x 7, y 6: truth car, prediction car, working road - wrong class"
    line.show_cursor(12, 7, 2)
    assert line.cursor.text() == "x 12, y 7: truth car, prediction car, working car"
    line.show_cursor(-1, -1, -1)
    assert line.cursor.text() == ""
    canvas.set_session(session(prediction=False))
    line.show_cursor(1, 1, 0)
    assert line.cursor.text() == "x 1, y 1: truth background, working background"
    bare = ImageSession.start(np.zeros((20, 30, 3), np.uint8), LABELS)
    canvas.set_session(bare)
    line.show_cursor(1, 1, int(bare.mask[1, 1]))
    assert line.cursor.text() == f"x 1, y 1: working {LABELS.name_of(int(bare.mask[1, 1]))}"


def test_messages_and_reports(qtbot) -> None:  # noqa: ANN001
    line, canvas, _host = status_line(qtbot)
    line.report("could not open the folder: gone")  # not interactive: no message box
    assert line.message == "could not open the folder: gone"
    canvas.tool_refused.emit("nothing to erase with")
    assert line.message == "nothing to erase with"


def test_layers_main_view_toggles_and_remembered_opacities(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    canvas = Canvas()
    panel = LayerPanel({kind: canvas.layer_style(kind) for kind in LayerKind})
    qtbot.addWidget(canvas)
    qtbot.addWidget(panel)
    layers = LayerController(canvas, panel)
    for kind in (LayerKind.PREDICTION, LayerKind.ERROR_MAP):
        layers.set_style(kind, LayerStyle(False, 0.5, False))
    layers.show_main_view(session(prediction=False))  # nothing to compare: the layers stay as they are
    assert not layers.style(LayerKind.PREDICTION).visible
    layers.toggle(LayerKind.ERROR_MAP)  # the user's choice (a shortcut) wins over the main view from now on
    layers.toggle(LayerKind.ERROR_MAP)
    layers.show_main_view(session())
    assert layers.style(LayerKind.PREDICTION).visible and panel.visible[LayerKind.PREDICTION].isChecked()
    assert not layers.style(LayerKind.ERROR_MAP).visible

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    layers.set_style(LayerKind.WORKING, LayerStyle(True, 0.25, False))
    layers.save(settings)
    settings.setValue(f"opacity/{LayerKind.GROUND_TRUTH.name}", "not a number")
    other = LayerController(Canvas(), LayerPanel({kind: canvas.layer_style(kind) for kind in LayerKind}))
    other.restore(settings)
    assert other.style(LayerKind.WORKING).opacity == 0.25
    assert other.style(LayerKind.GROUND_TRUTH) == canvas.layer_style(LayerKind.GROUND_TRUTH)
