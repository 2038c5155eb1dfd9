"""A researcher's question, asked of the list: "images where Car IoU < 0.5", worst first, and the share of pixels in
error per image; the numbers are brute-force recounts of the masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from segstudio.ui.main_window import MainWindow
from segstudio.ui.sample_table import CLASS_IOU_COLUMN, ERRORS_COLUMN

CAR = 8


def made_up_predictions(folder: Path) -> dict[str, np.ndarray]:
    """Image 0: a car invented; image 1: perfect; image 2: every car missed."""
    (folder / "predictions").mkdir()
    truths = {}
    for index, mask in enumerate(sorted((folder / "masks").glob("*.png"))):
        truth = np.asarray(Image.open(mask))
        prediction = np.where(truth == 11, 0, truth).astype(np.uint8)
        if index == 0:
            prediction[100:220, 150:400] = CAR
        elif index == 2:
            prediction[prediction == CAR] = 3
        Image.fromarray(prediction).save(folder / "predictions" / mask.name)
        truths[mask.stem] = (truth, prediction)
    return truths


def brute_iou(truth: np.ndarray, prediction: np.ndarray, class_id: int, ignore: int | None) -> float | None:
    scored = truth != ignore
    t, p = (truth == class_id) & scored, (prediction == class_id) & scored
    union = (t | p).sum()
    return None if union == 0 else float((t & p).sum() / union)


def shown(window: MainWindow) -> list[str]:
    files = window.file_list
    return [files.model.key_at(files.proxy.mapToSource(files.proxy.index(row, 0)).row())
            for row in range(files.proxy.rowCount())]


def test_filter_by_a_class_iou_lists_the_worst_images_first(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    masks = made_up_predictions(camvid_folder)
    with qtbot.waitSignal(window.dataset_scored, timeout=60000):
        window.open_folder(camvid_folder)
    qtbot.waitUntil(lambda: window.current_key is not None, timeout=20000)
    model = window.file_list.model
    ignore = window.dataset.spec.labels.ignore_index  # as detection read the folder (11 is a class if not said)
    expected = {f"images/{stem}": brute_iou(t, p, CAR, ignore) for stem, (t, p) in masks.items()}
    window.file_list.set_class_filter(CAR)
    header = window.file_list.view.horizontalHeader()
    assert not header.isSectionHidden(CLASS_IOU_COLUMN)
    assert model.headerData(CLASS_IOU_COLUMN, Qt.Orientation.Horizontal).endswith("IoU")
    for key, value in expected.items():
        got = model.class_iou(key)
        assert (got is None) == (value is None) and (value is None or abs(got - value) < 1e-12), key
    scored = sorted((k for k, v in expected.items() if v is not None), key=lambda k: expected[k])
    assert [key for key in shown(window) if expected[key] is not None] == scored  # worst first, n/a last
    window.file_list.set_class_filter(CAR, below=0.5)
    below = {key for key, value in expected.items() if value is not None and value < 0.5}
    assert set(shown(window)) - {window.current_key} == below - {window.current_key}
    assert below  # the test means something: some image is under the limit...
    assert below != set(expected)  # ...and some is not
    for stem, (truth, prediction) in masks.items():
        scored_pixels = truth != ignore
        wrong = ((truth != prediction) & scored_pixels).sum() / scored_pixels.sum()
        assert abs(model.error_share(f"images/{stem}") - wrong) < 1e-12
        row = model.row_of(f"images/{stem}")
        assert model.data(model.index(row, ERRORS_COLUMN)) == f"{100 * wrong:.1f} %"
    window.file_list.set_class_filter(None)
    assert header.isSectionHidden(CLASS_IOU_COLUMN) and len(shown(window)) == len(expected)


def test_the_header_menu_brings_back_the_columns_a_narrow_list_hides(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    from segstudio.ui.file_list import OPTIONAL_COLUMNS
    from segstudio.ui.sample_table import GT_COLUMN

    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(camvid_folder)
    header = window.file_list.view.horizontalHeader()
    assert header.isSectionHidden(GT_COLUMN) and header.isSectionHidden(ERRORS_COLUMN)
    assert GT_COLUMN in OPTIONAL_COLUMNS and ERRORS_COLUMN in OPTIONAL_COLUMNS
    with qtbot.waitSignal(window.file_list.columns_changed) as blocker:
        window.file_list.show_column(GT_COLUMN)
    assert blocker.args == ["GT"] and not header.isSectionHidden(GT_COLUMN)
    window.file_list.show_column(GT_COLUMN, False)
    assert header.isSectionHidden(GT_COLUMN)


def test_the_dataset_panel_shows_the_scores_and_opens_an_image_from_a_matrix_cell(  # noqa: ANN001
        qtbot, window: MainWindow, camvid_folder: Path) -> None:
    masks = made_up_predictions(camvid_folder)
    with qtbot.waitSignal(window.dataset_scored, timeout=60000):
        window.open_folder(camvid_folder)
    qtbot.waitUntil(lambda: window.current_key is not None, timeout=20000)
    view = window.dataset_view
    assert view.data is not None and view.data.num_images == len(masks)
    view.choose_cell(0, CAR)  # truth class 0 predicted as a car: where image 0's prediction invented one
    keys = view.listed_keys()
    first, last = (f"images/{stem}" for stem in (sorted(masks)[0], sorted(masks)[-1]))
    assert keys and keys[0] == first
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.load(last)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        view.image_chosen.emit(first)  # what clicking the image in the cell's list does
    assert window.current_key == first
