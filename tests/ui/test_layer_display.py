"""How the canvas shows its layers to a labeler (issue 10): the error map's legend in the layer panel, the working
mask's class colours readable under the error map, and the instances of an instance mask drawn apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from segstudio.core.error_map import MARKED_KINDS, ErrorKind
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes
from segstudio.core.session import ImageSession
from segstudio.io.demo_dataset import DEMO_LABELS
from segstudio.io.mask_files import read_instance_mask
from segstudio.ui.canvas import Canvas
from segstudio.ui.error_legend import swatch_pixels
from segstudio.ui.layer_panel import LayerPanel
from segstudio.ui.layers import LayerController
from segstudio.ui.qt_image import qimage_to_array

H, W = 150, 200  # the canvas's smallest size: shown at scale 1, image pixel (x, y) = widget pixel (x, y)


def demo_session() -> ImageSession:
    """Ground truth with a bar (class 2); the working mask (from the prediction) also has a disc stroke (class 1)
    over background: the "extra" a labeler just painted."""
    image = np.full((H, W, 3), 90, np.uint8)
    truth = np.zeros((H, W), np.uint8)
    truth[20:60, 20:120] = 2
    prediction = truth.copy()
    prediction[80:120, 40:160] = 1
    return ImageSession.start(image, DEMO_LABELS, ground_truth=truth, prediction=prediction)


def layered(qtbot) -> tuple[Canvas, LayerPanel, LayerController]:  # noqa: ANN001
    canvas = Canvas()
    panel = LayerPanel({kind: canvas.layer_style(kind) for kind in LayerKind})
    qtbot.addWidget(canvas)
    qtbot.addWidget(panel)
    return canvas, panel, LayerController(canvas, panel)


def pixels(image: QImage) -> np.ndarray:
    return qimage_to_array(image)[..., :3].astype(np.int16)


def test_the_error_map_has_a_legend_in_the_colours_the_canvas_draws(qtbot) -> None:  # noqa: ANN001
    canvas, panel, layers = layered(qtbot)
    panel.show()
    session = demo_session()
    canvas.set_session(session)
    layers.show_main_view(session)  # ground truth and a prediction: the error map turns on, and its legend
    legend = panel.legend
    assert layers.style(LayerKind.ERROR_MAP).visible and legend.isVisible()
    entries = {entry.kind: entry for entry in legend.entries}
    assert set(MARKED_KINDS) <= set(entries)
    for kind in MARKED_KINDS:
        assert entries[kind].colour == tuple(int(v) for v in canvas.palettes.errors[kind, :3])
        swatch = swatch_pixels(kind, canvas.palettes.errors, layers.style(LayerKind.ERROR_MAP))
        assert (swatch[..., :3] == entries[kind].colour).all(axis=-1).any()  # the swatch shows that colour
    assert entries[ErrorKind.FALSE_NEGATIVE].text.startswith("missed")
    assert entries[ErrorKind.FALSE_POSITIVE].text.startswith("extra")
    assert "background" in entries[ErrorKind.FALSE_POSITIVE].explanation
    assert entries[ErrorKind.TRUE_POSITIVE].colour is None and "no mark" in entries[ErrorKind.TRUE_POSITIVE].text
    assert entries[ErrorKind.IGNORED].colour is None and "not scored" in entries[ErrorKind.IGNORED].text

    # Outline only: the swatch keeps its outline but no stripes inside.
    panel.outline[LayerKind.ERROR_MAP].setChecked(True)
    style = layers.style(LayerKind.ERROR_MAP)
    assert style.outline_only and canvas.layer_style(LayerKind.ERROR_MAP) == style
    inside = swatch_pixels(ErrorKind.WRONG_CLASS, canvas.palettes.errors, style)[5:-5, 5:-5, :3]
    assert (inside == inside[0, 0]).all()

    # A label set with a cyan class: the "missed" colour moves away from it, and the legend follows.
    cyan = LabelSet.from_mapping({"classes": [{"name": "background", "colour": "#000000"},
                                              {"name": "water", "colour": "#00e5ff"}]})
    canvas.set_palettes(Palettes.for_labels(cyan))
    missed = {entry.kind: entry for entry in legend.entries}[ErrorKind.FALSE_NEGATIVE].colour
    assert missed == tuple(int(v) for v in canvas.palettes.errors[ErrorKind.FALSE_NEGATIVE, :3]) != (0, 229, 255)

    layers.toggle(LayerKind.ERROR_MAP)  # off: the legend goes with it
    assert not legend.isVisible()


def test_under_the_error_map_a_stroke_keeps_its_class_colour(qtbot) -> None:  # noqa: ANN001
    """Issue 10: a stroke in one class showed only the error colour. Now most of it shows the class colour."""
    canvas, _panel, layers = layered(qtbot)
    canvas.resize(W, H)
    session = demo_session()
    canvas.set_session(session)
    layers.show_main_view(session)
    layers.set_style(LayerKind.PREDICTION, LayerStyle(False))
    layers.set_style(LayerKind.WORKING, LayerStyle(True, 1.0))
    assert canvas.scale == 1.0
    shown = pixels(canvas.grab().toImage())
    stroke = shown[82:118, 42:158]  # inside the extra disc stroke, away from its outline
    disc = np.array(DEMO_LABELS.colours[1])
    alpha = np.rint(255 * layers.style(LayerKind.ERROR_MAP).opacity) / 255
    extra = disc * (1 - alpha) + canvas.palettes.errors[ErrorKind.FALSE_POSITIVE, :3] * alpha  # the stripes
    is_disc = (stroke == disc).all(axis=-1)
    is_extra = (np.abs(stroke - extra) <= 1.5).all(axis=-1)
    assert is_disc.mean() > 0.6  # the class colour, between the stripes
    assert (is_disc | is_extra).all() and is_extra.mean() > 0.2


PENN_FUDAN_MULTI = "FudanPed00004"  # two pedestrians


@pytest.fixture
def two_pedestrians(shared_data: Path, tmp_path: Path) -> Path:
    source = shared_data / "pennfudan"
    if not (source / "PNGImages" / f"{PENN_FUDAN_MULTI}.png").is_file():
        pytest.skip(f"Penn-Fudan image {PENN_FUDAN_MULTI} not found under {source}")
    root = tmp_path / "pennfudan-two"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    shutil.copy(source / "PNGImages" / f"{PENN_FUDAN_MULTI}.png", root / "PNGImages")
    shutil.copy(source / "PedMasks" / f"{PENN_FUDAN_MULTI}_mask.png", root / "PedMasks")
    return root


def deepest_point(canvas: Canvas, instances: InstanceMask, instance: int) -> QPoint:
    """The widget point over the pixel deepest inside ``instance`` (away from its outline)."""
    inside = cv2.distanceTransform((np.asarray(instances.ids) == instance).astype(np.uint8), cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    return canvas.image_to_widget(float(x), float(y)).toPoint()


def test_penn_fudans_pedestrians_are_drawn_in_their_own_shades(qtbot, window, two_pedestrians: Path) -> None:  # noqa: ANN001
    """Issue 10: both people were one green until a list row was clicked."""
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(two_pedestrians)
    canvas = window.canvas
    instances = read_instance_mask(two_pedestrians / "PedMasks" / f"{PENN_FUDAN_MULTI}_mask.png")
    window.layers.set_style(LayerKind.GROUND_TRUTH, LayerStyle(False))
    window.layers.set_style(LayerKind.WORKING, LayerStyle(True, 1.0))
    shown = pixels(canvas.grab().toImage())
    class_colour = tuple(int(v) for v in canvas.session.labels.colours[1])
    drawn = {}
    for instance in (1, 2):
        point = deepest_point(canvas, instances, instance)
        drawn[instance] = tuple(int(v) for v in shown[point.y(), point.x()])
        assert drawn[instance] == canvas.instance_colour(instance)
        QTest.mouseMove(canvas, point)
        assert window.status_line.cursor.text().endswith(f"truth {canvas.session.labels.names[1]} #{instance}, "
                                                         f"working {canvas.session.labels.names[1]}")
    # Each in its own shade; the class colour itself is their outline (an instance session draws them so).
    assert drawn[1] != drawn[2] and class_colour not in (drawn[1], drawn[2])
    window.instance_editing.refresh()
    table = window.instance_panel.table
    assert table.rowCount() == 2
    for row in range(table.rowCount()):  # the Instances panel's swatches are those shades
        item = table.item(row, 0)
        icon = item.icon().pixmap(12, 12).toImage()
        instance = int(item.data(Qt.ItemDataRole.UserRole))
        assert icon.pixelColor(QPoint(6, 6)).getRgb()[:3] == drawn[instance]

    # A class added afterwards takes the next id, which the instance shades were drawn through: they move past it.
    labels = canvas.session.labels
    window.class_editing.apply_labels(labels.with_class("bike", (1, 2, 3)))
    assert tuple(int(v) for v in canvas.palettes.classes[labels.num_classes, :3]) == (1, 2, 3)
    shown = pixels(canvas.grab().toImage())
    for instance, colour in drawn.items():
        point = deepest_point(canvas, instances, instance)
        assert tuple(int(v) for v in shown[point.y(), point.x()]) == colour == canvas.instance_colour(instance)
