"""The dataset view: a clicked matrix cell lists the images where that confusion is largest (checked against a
brute-force ranking on real CamVid masks), clicking an image emits its key, the toggle and tooltips, and 10,000
images."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from segstudio.app.scoring import DatasetScoresResult, ImageScore
from segstudio.core.labels import LabelSet
from segstudio.core.mask_comparison import compare_masks
from segstudio.core.metrics import DatasetEvaluator
from segstudio.ui.dataset_view import ConfusionStack, DatasetView

CAMVID_IMAGES = 12


def result_of(per_image: dict[str, np.ndarray | None], labels: LabelSet, total: int | None = None) -> DatasetScoresResult:
    evaluator = DatasetEvaluator(labels.num_classes, labels.ignore_index, labels.names)
    scores = {}
    for key, confusion in per_image.items():
        if confusion is None:
            scores[key] = ImageScore(key, None, None, None)
            continue
        s = evaluator.add_confusion(key, confusion)
        scores[key] = ImageScore(key, s.confusion, s.mean_iou, s.mean_dice)
    return DatasetScoresResult(scores, evaluator.result() if len(evaluator) else None, total if total is not None else len(per_image))


def made_up(truth: np.ndarray, seed: int) -> np.ndarray:
    """Cars called pedestrians on a random share of each image's car pixels, some road called pavement, noise."""
    rng = np.random.default_rng(seed)
    prediction = truth.copy()
    car, road = truth == 8, truth == 3
    prediction[car & (rng.random(truth.shape) < rng.uniform(0.05, 0.9))] = 9
    prediction[road & (rng.random(truth.shape) < rng.uniform(0.0, 0.2))] = 4
    flips = rng.random(truth.shape) < 0.01
    prediction[flips] = rng.integers(0, 11, int(flips.sum()))
    return prediction.astype(np.uint8)


@pytest.fixture(scope="module")
def camvid(shared_data: Path) -> tuple[dict[str, np.ndarray], LabelSet]:
    folder = shared_data / "camvid" / "valannot"
    if not folder.is_dir():
        pytest.skip(f"CamVid not found under {folder}")
    labels = LabelSet.camvid()
    confusions = {}
    for seed, path in enumerate(sorted(folder.glob("*.png"))[:CAMVID_IMAGES]):
        truth = np.array(Image.open(path))
        confusions[path.stem] = compare_masks(truth, made_up(truth, seed), labels)
    return confusions, labels


@pytest.fixture
def view(qtbot: QtBot) -> DatasetView:
    widget = DatasetView()
    qtbot.addWidget(widget)
    widget.resize(1000, 760)
    widget.show()
    return widget


def brute_force(confusions: dict[str, np.ndarray], truth: int, predicted: int) -> list[tuple[str, int, int]]:
    rows = [(key, int(m[truth, predicted]), int(m[truth].sum())) for key, m in confusions.items() if m[truth, predicted] > 0]
    order = list(confusions)
    return sorted(rows, key=lambda row: (-row[1], order.index(row[0])))


def test_a_cell_s_images_are_ranked_as_by_brute_force_on_camvid(view: DatasetView, camvid) -> None:  # noqa: ANN001
    confusions, labels = camvid
    view.show_result(result_of(confusions, labels), labels)
    car, pedestrian, road, pavement = (labels.id_of(n) for n in ("Car", "Pedestrian", "Road", "Pavement"))
    for truth, predicted in ((car, pedestrian), (road, pavement), (road, road), (pedestrian, car), (0, 10)):
        expected = brute_force(confusions, truth, predicted)
        got = [(i.key, i.pixels, i.row_pixels) for i in view.cell_images(truth, predicted)]
        assert got == expected, (labels.names[truth], labels.names[predicted])
        assert [(i.key, i.pixels) for i in view.cell_images(truth, predicted, limit=3)] == [e[:2] for e in expected[:3]]
    assert len(brute_force(confusions, car, pedestrian)) > 5  # the ranking had something to order


def test_clicking_a_cell_lists_its_images_and_clicking_one_emits_its_key(view: DatasetView, camvid, qtbot: QtBot) -> None:  # noqa: ANN001
    confusions, labels = camvid
    view.show_result(result_of(confusions, labels), labels)
    car, pedestrian = labels.id_of("Car"), labels.id_of("Pedestrian")
    qtbot.mouseClick(view.figures, Qt.MouseButton.LeftButton, pos=view.figures.cell_centre(car, pedestrian))
    assert view.chosen_cell == (car, pedestrian)
    expected = brute_force(confusions, car, pedestrian)
    assert view.listed_keys() == [key for key, _, _ in expected]
    first = view.cell_list.item(0)
    assert first.text().startswith(expected[0][0]) and f"{expected[0][1]:,} px" in first.text()
    assert "Truth Car predicted as Pedestrian" in view.cell_title.text()
    assert f"{sum(m[car, pedestrian] for m in confusions.values()):,} pixels in {len(expected)} of {CAMVID_IMAGES} images" in view.cell_title.text()

    second = view.cell_list.item(1)
    with qtbot.waitSignal(view.image_chosen, timeout=2000) as chosen:
        qtbot.mouseClick(view.cell_list.viewport(), Qt.MouseButton.LeftButton, pos=view.cell_list.visualItemRect(second).center())
    assert chosen.args == [expected[1][0]]

    # A click off the grid changes nothing.
    qtbot.mouseClick(view.figures, Qt.MouseButton.LeftButton, pos=QPoint(2, view.figures.height() - 2))
    assert view.chosen_cell == (car, pedestrian)


def test_every_cell_is_hit_where_it_is_drawn(view: DatasetView, camvid) -> None:  # noqa: ANN001
    confusions, labels = camvid
    view.show_result(result_of(confusions, labels), labels)
    for size in ((1000, 760), (560, 1000)):
        view.resize(*size)
        QApplication.processEvents()
        for t in range(labels.num_classes):
            for p in range(labels.num_classes):
                assert view.figures.cell_at(QPointF(view.figures.cell_centre(t, p))) == (t, p)


def test_hovering_a_cell_tells_its_classes_pixels_and_share_of_the_row(view: DatasetView, camvid) -> None:  # noqa: ANN001
    confusions, labels = camvid
    view.show_result(result_of(confusions, labels), labels)
    car, pedestrian = labels.id_of("Car"), labels.id_of("Pedestrian")
    total = sum(confusions.values())
    text = view.figures.tooltip(car, pedestrian)
    assert "truth Car, predicted Pedestrian (confusion)" in text
    assert f"{int(total[car, pedestrian]):,} pixels" in text
    assert f"{total[car, pedestrian] / total[car].sum():.2%} of the {int(total[car].sum()):,} Car pixels" in text
    point = view.figures.cell_centre(car, pedestrian)
    event = QHelpEvent(QEvent.Type.ToolTip, point, view.figures.mapToGlobal(point))
    QApplication.sendEvent(view.figures, event)
    assert QToolTip.text() == text
    QToolTip.hideText()


def _darkest(view: DatasetView) -> tuple[int, int]:
    image = view.figures.grab().toImage()
    geometry = view.figures.heatmap()
    n = geometry.count
    lightness = {}
    for t in range(n):
        for p in range(n):
            corner = geometry.cell_rect(t, p).topLeft() + QPointF(4, 4)
            c = image.pixelColor(int(corner.x() * image.devicePixelRatio()), int(corner.y() * image.devicePixelRatio()))
            lightness[(t, p)] = c.red() + c.green() + c.blue()
    return min(lightness, key=lightness.get)


def test_the_row_normalised_toggle_changes_which_cells_are_darkest(view: DatasetView, qtbot: QtBot) -> None:
    labels = LabelSet.from_names(["road", "car", "pedestrian"])
    confusions = {"a": np.array([[900, 100, 0], [0, 40, 0], [5, 0, 45]]), "b": np.array([[900, 0, 0], [0, 0, 0], [0, 0, 0]])}
    view.show_result(result_of(confusions, labels), labels)
    assert _darkest(view) == (0, 0)  # 1800 pixels
    qtbot.mouseClick(view.normalised_box, Qt.MouseButton.LeftButton)
    assert view.row_normalised
    assert _darkest(view) == (1, 1)  # 100% of the car pixels
    view.set_row_normalised(False)
    assert not view.normalised_box.isChecked() and _darkest(view) == (0, 0)


def test_images_without_a_score_are_counted_and_clear_empties_the_view(view: DatasetView) -> None:
    labels = LabelSet.from_names(["road", "car"])
    view.show_result(result_of({"a": np.array([[5, 1], [0, 4]]), "b": None, "c": None}, labels, total=4), labels)
    assert view.data is not None and view.data.num_images == 1 and view.data.not_scored == 3
    assert "1 of 4 images scored" in view.summary.text()
    view.choose_cell(0, 1)
    assert view.listed_keys() == ["a"]
    view.choose_cell(1, 0)
    assert view.listed_keys() == [] and "no image has this confusion" in view.cell_list.item(0).text()
    view.clear()
    assert view.data is None and view.cell_images(0, 1) == () and view.cell_list.count() == 0
    view.choose_cell(0, 1)  # nothing shown: nothing to do
    assert view.chosen_cell is None
    view.show_result(result_of({"b": None}, labels, total=1), labels)  # nothing scored: an empty matrix, all n/a
    assert view.data.num_images == 0 and view.data.iou == (None, None) and view.cell_images(0, 0) == ()
    view.figures.grab()


def test_ten_thousand_images_stay_responsive(view: DatasetView, qtbot: QtBot) -> None:
    labels = LabelSet.camvid()
    rng = np.random.default_rng(1)
    count = 10_000
    matrices = rng.integers(0, 1000, (count, 11, 11)) * (rng.random((count, 11, 11)) < 0.3)
    keys = [f"img{i:05d}" for i in range(count)]
    per_image = {k: ImageScore(k, matrices[i], float(rng.random()), float(rng.random())) for i, k in enumerate(keys)}
    evaluator = DatasetEvaluator(11, 11, labels.names)
    total = matrices.sum(axis=0)
    evaluator.add_confusion("all", total)  # the summed scores are all the view reads of them
    result = DatasetScoresResult(per_image, evaluator.result(), count)

    started = time.perf_counter()
    view.show_result(result, labels)
    view.figures.grab()
    shown = time.perf_counter() - started
    started = time.perf_counter()
    view.figures.grab()
    repaint = time.perf_counter() - started
    started = time.perf_counter()
    qtbot.mouseClick(view.figures, Qt.MouseButton.LeftButton, pos=view.figures.cell_centre(8, 9))
    first_click = time.perf_counter() - started
    started = time.perf_counter()
    view.choose_cell(3, 4)
    next_click = time.perf_counter() - started
    assert shown < 2.0 and repaint < 0.5 and first_click < 1.5 and next_click < 0.3, (shown, repaint, first_click, next_click)

    column = matrices[:, 3, 4]
    order = sorted((i for i in range(count) if column[i]), key=lambda i: (-column[i], i))[:200]
    assert view.listed_keys() == [keys[i] for i in order]
    assert view.data.num_images == count and sum(view.data.histogram_counts) == count


def test_the_stack_gathers_a_column_instead_when_stacking_would_take_too_much_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import segstudio.ui.dataset_view as module

    rng = np.random.default_rng(2)
    per_image = {f"k{i}": ImageScore(f"k{i}", rng.integers(0, 4, (3, 3)), None, None) for i in range(50)}
    stacked = ConfusionStack(per_image).largest(1, 2, limit=7)
    monkeypatch.setattr(module, "STACK_LIMIT_BYTES", 10)
    gathered_stack = ConfusionStack(per_image)
    assert gathered_stack.stacked is None
    assert gathered_stack.largest(1, 2, limit=7) == stacked
