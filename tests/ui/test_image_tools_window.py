"""In the window: the magic wand (W) paints exactly the colour-connected pixels around a click, within the part of the
image on screen, as one undo step; the box-to-mask tool (Q) cuts a Penn-Fudan person out of a dragged box on a
worker and, on an instance image, paints it as a new instance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.core.image_tools import wand_stamp
from segstudio.io.mask_files import read_instance_mask
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from segstudio.ui.tools import DEFAULT_TOLERANCE
from tests.ui.test_class_editing import PENN_FUDAN_MULTI
from tests.ui.test_class_editing import pennfudan_folder as shared_pennfudan_folder
from tests.ui.test_main_window import open_and_wait, paint_stroke

pennfudan_folder = shared_pennfudan_folder  # the fixture, under its name here


def test_the_magic_wand_paints_the_colour_region_as_one_step(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    session, tools = window.canvas.session, window.canvas.tools
    before = session.mask.copy()
    window.commands.action(Command.WAND).trigger()
    window.class_panel.select(4)
    point = (session.shape[1] * 0.5, session.shape[0] * 0.1)  # the sky at the top of a CamVid street
    expected = wand_stamp(session.image, before, point, 4, tolerance=DEFAULT_TOLERANCE, scope=tools.scope,
                          limit=tools.view)
    assert expected.count > 50
    paint_stroke(qtbot, window, [point])
    changed = session.mask != before
    stamped = np.zeros(session.shape, dtype=bool)
    stamped[expected.rect.slices] = expected.pixels
    assert np.array_equal(changed, stamped & (before != 4))
    assert (session.mask[stamped] == 4).all()
    window.commands.action(Command.UNDO).trigger()
    assert np.array_equal(session.mask, before)
    window.commands.action(Command.LARGER_BRUSH).trigger()  # ] : a larger tolerance while the wand is the tool
    assert tools.tolerance == DEFAULT_TOLERANCE + 4
    assert f"tolerance {tools.tolerance}" in window.status_line.tool.text()


def test_box_to_mask_adds_a_missed_person_as_an_instance(qtbot, window: MainWindow, pennfudan_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, pennfudan_folder, image=PENN_FUDAN_MULTI)
    truth = read_instance_mask(pennfudan_folder / "PedMasks" / f"{PENN_FUDAN_MULTI}_mask.png")
    session = window.canvas.session
    layer = session.instances
    person = truth.ids == 2
    layer.delete([2])  # the model missed this person
    assert not layer.has(2)
    rows, cols = np.nonzero(person)
    window.commands.action(Command.BOX).trigger()
    window.class_panel.select(1)
    with qtbot.waitSignal(window.box_to_mask.written, timeout=60000):
        paint_stroke(qtbot, window, [(cols.min() - 3.0, rows.min() - 3.0), (cols.max() + 3.0, rows.max() + 3.0)])
    new_ids = [i for i in layer.instance_ids() if i != 1]
    assert len(new_ids) == 1
    found = layer.pixels_of(new_ids[0])
    iou = (found & person).sum() / (found | person).sum()
    box_area = (rows.max() - rows.min() + 7) * (cols.max() - cols.min() + 7)
    # GrabCut from a box alone finds people with IoU 0.33-0.78 (test_image_tools measures its quality); here: what
    # it paints is the person (not the box's background), and the window wrote it as a new instance.
    assert (found & person).sum() > 0.8 * found.sum() and found.sum() < 0.8 * box_area, (iou, found.sum(), box_area)
    assert not found[: rows.min() - 4].any()  # nothing outside the box
    window.commands.action(Command.UNDO).trigger()
    assert layer.instance_ids() == (1,)


def test_the_edge_lasso_fills_along_the_edges_as_one_step(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    import cv2
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from segstudio.core.outlines import region_under

    open_and_wait(qtbot, window, camvid_folder)
    session, tools = window.canvas.session, window.canvas.tools
    before = session.mask.copy()
    # Anchors on the outline of a truth region of middling size: the lasso should hug it.
    truth = session.ground_truth
    count, labels, stats, _ = cv2.connectedComponentsWithStats((truth == 8).astype(np.uint8), connectivity=8)
    label = max(range(1, count), key=lambda i: stats[i, cv2.CC_STAT_AREA]) if count > 1 else None
    target = labels == label if label is not None else region_under(truth, (200.0, 200.0))[1]
    contours, _ = cv2.findContours(target.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    ring = max(contours, key=len).reshape(-1, 2)
    anchors = [tuple(float(v) for v in ring[i]) for i in np.linspace(0, len(ring) - 1, 10, endpoint=False).astype(int)]
    window.commands.action(Command.LASSO).trigger()
    window.class_panel.select(5)
    for anchor in anchors:
        paint_stroke(qtbot, window, [anchor])
    assert tools.lasso.wait(60)  # the anchors are joined on the builder thread
    tools.lasso.hover(anchors[-1])
    assert len(tools.polygon) > len(anchors)  # the path follows edges between the anchors
    closed = np.asarray(tools.lasso.closed_path())  # the polygon about to be filled
    QTest.keyClick(window.canvas, Qt.Key.Key_Return)
    changed = session.mask != before
    assert changed.any() and (session.mask[changed] == 5).all()
    inside = np.zeros(session.shape, dtype=np.uint8)
    cv2.fillPoly(inside, [closed.astype(np.int32)], 1)
    cv2.polylines(inside, [closed.astype(np.int32)], True, 1)
    assert not (changed & (inside == 0)).any()  # nothing outside the lasso
    window.commands.action(Command.UNDO).trigger()
    assert np.array_equal(session.mask, before)


def test_strokes_refine_the_last_box_cut_in_its_undo_step(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from segstudio.core.image_tools import grabcut_stamp
    from segstudio.ui.box_to_mask import _stroke_pixels
    from tests.ui.test_main_window import widget_point

    open_and_wait(qtbot, window, camvid_folder)
    session, canvas = window.canvas.session, window.canvas
    before = session.mask.copy()
    window.commands.action(Command.BOX).trigger()
    window.class_panel.select(5)
    height, width = session.shape
    corner, far = (width * 0.30, height * 0.45), (width * 0.62, height * 0.85)
    with qtbot.waitSignal(window.box_to_mask.written, timeout=60000):
        paint_stroke(qtbot, window, [corner, far])
    last = window.box_to_mask.last
    assert last is not None and last.strokes == 0
    box = last.box

    # Shift+drag across the box: sure object there; the cut is made again with it and replaces the first.
    stroke = [(width * 0.35, height * 0.6), (width * 0.45, height * 0.62), (width * 0.55, height * 0.6)]
    with qtbot.waitSignal(window.box_to_mask.written, timeout=60000):
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                         widget_point(window, *stroke[0]))
        for point in stroke[1:]:
            QTest.mouseMove(canvas, widget_point(window, *point))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                           widget_point(window, *stroke[-1]))
    assert last.strokes == 1
    # What GrabCut gives for the box and that stroke on the whole image, written over the mask as it was.
    points = tuple(canvas.widget_to_image(widget_point(window, *p)) for p in stroke)
    keep = np.zeros(session.shape, dtype=bool)
    keep[last.around.slices] = _stroke_pixels(points, last.around)
    expected = grabcut_stamp(session.image, np.zeros(session.shape, np.uint8), 1, box=box, foreground=keep)
    painted = np.zeros(session.shape, dtype=bool)
    painted[expected.rect.slices] = expected.pixels
    assert np.array_equal(session.mask != before, painted & (before != 5))
    assert (session.mask[keep & painted] == 5).all() and keep[box.slices].any()

    window.commands.action(Command.UNDO).trigger()  # one step: the refined cut goes, and with it the first
    assert np.array_equal(session.mask, before)

    # After another change, a stroke no longer refines anything: it says so and changes nothing.
    window.commands.action(Command.REDO).trigger()
    window.commands.action(Command.BRUSH).trigger()
    paint_stroke(qtbot, window, [(10.0, 10.0), (20.0, 10.0)])
    window.commands.action(Command.BOX).trigger()
    edited = session.mask.copy()
    QTest.mousePress(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, widget_point(window, *stroke[0]))
    QTest.mouseRelease(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, widget_point(window, *stroke[0]))
    assert "refines the last box cut" in window.status_line.message
    assert np.array_equal(session.mask, edited)


def test_an_edge_lasso_click_never_waits_for_the_path_search(window: MainWindow, camvid_folder: Path, qtbot,  # noqa: ANN001
                                                              monkeypatch) -> None:  # noqa: ANN001
    """The search from an anchor runs on the builder thread: held there, the click has already returned and the
    preview shows a straight line to the anchor; released, the anchors are joined in order along the edges."""
    import threading

    from segstudio.core.image_tools import ScissorsPath
    from segstudio.ui.lasso_tool import LassoTool

    open_and_wait(qtbot, window, camvid_folder)
    session = window.canvas.session
    release = threading.Event()
    original = ScissorsPath.add_anchor

    def held(self, point):  # noqa: ANN001, ANN202
        assert release.wait(30)
        return original(self, point)

    monkeypatch.setattr(ScissorsPath, "add_anchor", held)
    lasso = LassoTool()
    clicks = [(100.0, 100.0), (200.0, 110.0), (180.0, 220.0)]
    for point in clicks:
        assert lasso.click(session, point, None) is None  # returned with the search held
    assert lasso.busy and lasso.preview == clicks  # straight lines to the queued anchors
    lasso.hover((90.0, 200.0))
    assert lasso.preview == [*clicks, (90.0, 200.0)]
    release.set()
    assert lasso.wait(60) and not lasso.busy
    reference = ScissorsPath(session.image, lasso._path.roi)
    for point in clicks:
        original(reference, point)
    assert lasso._path.anchors == reference.anchors
    assert np.array_equal(lasso._path.path, reference.path)
    changed, problem = lasso.close(session, 5, window.canvas.tools.scope)
    assert problem is None and changed is not None and not changed.is_empty
