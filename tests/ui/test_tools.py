"""ToolController: gestures to session calls (no Qt needed), on real CamVid where it matters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.ui.tools import Tool, ToolController

CAMVID_TRAIN_NAME = "0001TP_006690"  # a wide band of Sky above buildings


def camvid_session(shared_data: Path) -> tuple[ImageSession, np.ndarray]:
    from segstudio.io.images import read_image
    from segstudio.io.mask_files import read_class_mask

    camvid = shared_data / "camvid"
    labels = LabelSet.camvid()
    image = read_image(camvid / "train" / f"{CAMVID_TRAIN_NAME}.png")
    truth = read_class_mask(camvid / "trainannot" / f"{CAMVID_TRAIN_NAME}.png", labels)
    return ImageSession.start(image, labels, ground_truth=truth, correction=truth), truth


def test_eraser_gesture_on_camvid_writes_unlabelled(shared_data: Path) -> None:
    session, truth = camvid_session(shared_data)
    sky = session.labels.id_of("Sky")
    tools = ToolController()
    tools.set_session(session)
    tools.tool = Tool.ERASER
    tools.size = 10
    assert tools.eraser_status == "Eraser writes Unlabelled (11)"
    rows, cols = np.nonzero(truth == sky)
    x, y = float(np.median(cols)), float(np.median(rows))
    assert truth[int(y), int(x)] == sky
    press = tools.press((x - 20, y))
    assert press.problem is None and not press.changed.is_empty
    tools.move((x, y))
    tools.release((x + 20, y))
    after = np.asarray(session.mask)
    changed = after != truth
    assert changed.any() and (after[changed] == 11).all()
    assert not ((after == sky) & (truth != sky)).any()
    assert session.class_at(x, y) == 11 and session.labels.name_of(11) == "Unlabelled"  # the cursor readout
    scores = session.scores_vs_truth()
    assert scores is not None and scores["Sky"].iou == 1.0
    assert scores["Sky"].true == int((truth == sky).sum()) - int(changed.sum())


def test_keep_other_classes_gestures_on_camvid_leave_sky_alone(shared_data: Path) -> None:
    session, truth = camvid_session(shared_data)
    sky, car = session.labels.id_of("Sky"), session.labels.id_of("Car")
    tools = ToolController()
    tools.set_session(session)
    tools.keep_other_classes = True
    tools.value = car
    tools.size = 40
    assert tools.scope.background is None and tools.scope.unlabelled == 11
    tools.tool = Tool.BRUSH
    tools.press((0, 40))
    tools.move((479, 40))
    tools.release((479, 80))
    tools.tool = Tool.POLYGON
    for vertex in [(-1, -1), (480, -1), (480, 360), (-1, 360)]:
        tools.press(vertex)
    tools.close_polygon()
    tools.tool = Tool.FILL
    rows, cols = np.nonzero(truth == sky)
    assert tools.press((float(cols[0]), float(rows[0]))).changed.is_empty
    after = np.asarray(session.mask)
    changed = after != truth
    assert changed.any() and (truth[changed] == 11).all() and (after[changed] == car).all()
    assert (after[truth == sky] == sky).all()


def test_eraser_without_a_value_to_write_reports_instead_of_starting_a_stroke() -> None:
    labels = dataclasses.replace(LabelSet.with_count(3), background=None)
    working = np.ones((8, 8), np.uint8)
    session = ImageSession.start(np.zeros((8, 8), np.uint8), labels, correction=working)
    tools = ToolController()
    assert tools.eraser_status == ""
    tools.set_session(session)
    tools.tool = Tool.ERASER
    assert "no background class and no unlabelled value" in tools.eraser_status
    result = tools.press((4, 4))
    assert result.changed.is_empty and result.problem == tools.eraser_status
    assert not tools.stroking and not session.in_stroke
    assert tools.move((5, 5)).changed.is_empty and tools.release((6, 6)).changed.is_empty
    np.testing.assert_array_equal(session.mask, working)
    assert not session.can_undo
    tools.tool = Tool.BRUSH  # other tools are unaffected
    tools.value = 2
    assert tools.press((4, 4)).problem is None
    tools.release((4, 4))
    assert session.mask[4, 4] == 2


def test_eraser_status_names_the_background_when_there_is_no_ignore_id() -> None:
    working = np.ones((4, 4), np.uint8)
    session = ImageSession.start(np.zeros((4, 4), np.uint8), LabelSet.with_count(3), correction=working)
    tools = ToolController()
    tools.set_session(session)
    assert tools.eraser_status == "Eraser writes background (0)"
    voc = ImageSession.start(np.zeros((4, 4), np.uint8), LabelSet.voc())
    tools.set_session(voc)
    assert tools.eraser_status == "Eraser writes boundary (255)"


def test_canvas_says_why_the_eraser_refused(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from segstudio.ui.canvas import Canvas

    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    labels = dataclasses.replace(LabelSet.with_count(3), background=None)
    session = ImageSession.start(np.zeros((30, 40), np.uint8), labels, correction=np.ones((30, 40), np.uint8))
    canvas.set_session(session)
    canvas.tools.tool = Tool.ERASER
    heard: list[str] = []
    canvas.tool_refused.connect(heard.append)
    centre = canvas.image_to_widget(20, 15)
    point = QPoint(round(centre.x()), round(centre.y()))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    assert heard == [canvas.tools.eraser_status] and "nothing to write" in heard[0]
    assert (np.asarray(session.mask) == 1).all()
