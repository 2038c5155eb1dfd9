"""The review workflow in the real window: statuses that move with the work, "next to do" (N), accept / reject and
move on (Ctrl+Return / Ctrl+Backspace), comments, the status filter, the Review panel, and statuses kept in the
project file for the next window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from segstudio.core.review import CorrectionEffort, ReviewStatus
from segstudio.io.review_file import read_review
from segstudio.ui.actions import Command
from segstudio.ui.file_list import StatusFilter
from segstudio.ui.main_window import MainWindow
from tests.ui.gestures import open_and_wait, paint
from segstudio.ui.sample_table import FIXED_COLUMN, STATUS_COLUMN, STATUS_MARKS


@pytest.fixture
def predicted_folder(camvid_folder: Path) -> Path:
    """The CamVid mini folder with a predictions/ folder: the truth with a car painted where there is none."""
    (camvid_folder / "predictions").mkdir()
    for mask in sorted((camvid_folder / "masks").glob("*.png")):
        prediction = np.asarray(Image.open(mask)).copy()
        prediction[100:160, 200:320] = 8
        prediction[prediction == 11] = 0  # a model never predicts "unlabelled"
        Image.fromarray(prediction).save(camvid_folder / "predictions" / mask.name)
    return camvid_folder



def trigger_and_wait(qtbot, window: MainWindow, command: Command) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.commands.action(command).trigger()


def status(window: MainWindow, key: str) -> ReviewStatus:
    return window.file_list.model.status(key)


def shown(window: MainWindow) -> list[str]:
    files = window.file_list
    return [files.model.key_at(files.proxy.mapToSource(files.proxy.index(row, 0)).row())
            for row in range(files.proxy.rowCount())]



def test_statuses_follow_the_work_and_accept_moves_on(qtbot, window: MainWindow, predicted_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, predicted_folder)
    keys = window.file_list.model.keys_in_order()
    first = window.current_key
    assert first == keys[0] and all(status(window, key) is ReviewStatus.TO_DO for key in keys)
    header = window.file_list.view.horizontalHeader()
    assert header.isSectionHidden(FIXED_COLUMN)  # nothing measured yet: no empty column
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    assert status(window, first) is ReviewStatus.IN_PROGRESS  # the first stroke
    window.saving.save(wait=True)
    assert status(window, first) is ReviewStatus.CORRECTED
    session = window.canvas.session
    expected = CorrectionEffort.measure(session.prediction, session.mask, 11, 11)
    trigger_and_wait(qtbot, window, Command.ACCEPT_AND_NEXT)
    assert status(window, first) is ReviewStatus.ACCEPTED and window.current_key == keys[1]
    effort = window.review.keeper.effort_of(first)
    assert effort == expected and effort.changed > 0  # the car the model invented, less the stroke's
    model = window.file_list.model
    assert not header.isSectionHidden(FIXED_COLUMN)
    assert model.data(model.index(model.row_of(first), FIXED_COLUMN)) == f"{100 * effort.changed_fraction:.1f} %"
    assert model.data(model.index(model.row_of(first), STATUS_COLUMN)) == STATUS_MARKS[ReviewStatus.ACCEPTED]
    trigger_and_wait(qtbot, window, Command.REJECT_AND_NEXT)
    assert status(window, keys[1]) is ReviewStatus.REJECTED and window.current_key == keys[2]
    window.review.flush()
    on_disk = read_review(window.dataset.project_file)
    assert on_disk.status_of(first) is ReviewStatus.ACCEPTED and on_disk.entry(first).effort == expected
    assert on_disk.status_of(keys[1]) is ReviewStatus.REJECTED


def test_accepting_the_models_mask_untouched_saves_it_first(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    """No ground truth: the working mask is the model's; accepted as it is, it must be on disk to be exported."""
    (camvid_folder / "masks").rename(camvid_folder / "predictions")
    for mask in (camvid_folder / "predictions").glob("*.png"):  # a model never predicts "unlabelled" (11)
        Image.fromarray(np.minimum(np.asarray(Image.open(mask)), 10)).save(mask)
    names = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist")
    (camvid_folder / "labels.txt").write_text("\n".join(names) + "\n")
    open_and_wait(qtbot, window, camvid_folder)
    key = window.current_key
    correction = window.dataset.correction_path(window.dataset.sample(key))
    assert not correction.exists()
    trigger_and_wait(qtbot, window, Command.ACCEPT_AND_NEXT)
    assert correction.is_file() and status(window, key) is ReviewStatus.ACCEPTED
    assert window.review.keeper.effort_of(key).changed == 0  # accepted as the model drew it


def test_next_to_do_skips_done_images_in_the_shown_order(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    keys = window.file_list.model.keys_in_order()
    window.review.set_status(keys[1], ReviewStatus.ACCEPTED)
    trigger_and_wait(qtbot, window, Command.NEXT_TO_DO)  # from keys[0], past the accepted one
    assert window.current_key == keys[2]
    trigger_and_wait(qtbot, window, Command.NEXT_TO_DO)  # wraps around
    assert window.current_key == keys[0]
    for key in keys:
        window.review.set_status(key, ReviewStatus.REJECTED)
    messages: list[str] = []
    window.review.status.connect(lambda message, _ms: messages.append(message))
    window.commands.action(Command.NEXT_TO_DO).trigger()
    assert window.current_key == keys[0] and "nothing left to do" in messages[-1]


def test_the_status_filter_lists_one_status_and_keeps_the_shown_image(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    keys = window.file_list.model.keys_in_order()
    window.review.set_status(keys[2], ReviewStatus.ACCEPTED)
    window.file_list.set_status_filter(StatusFilter.ACCEPTED)
    assert shown(window) == [keys[0], keys[2]]  # keys[0] is on screen: it stays listed
    assert window.file_list.status_filter.currentText() == "✓ accepted"
    window.file_list.set_status_filter(StatusFilter.OPEN)
    assert shown(window) == [keys[0], keys[1]]
    window.review.set_status(keys[0], ReviewStatus.REJECTED)  # the shown image leaves "open" but stays listed
    assert shown(window) == [keys[0], keys[1]] and window.current_key == keys[0]
    window.review_panel.count_buttons[ReviewStatus.REJECTED].click()  # a count in the Review panel filters too
    assert window.file_list.proxy.status_filter is StatusFilter.REJECTED and shown(window) == [keys[0]]


def test_comments_and_statuses_come_back_in_the_next_window(qtbot, camvid_folder: Path) -> None:  # noqa: ANN001
    first = MainWindow(interactive=False)
    qtbot.addWidget(first)
    open_and_wait(qtbot, first, camvid_folder)
    key = first.current_key
    first.review_panel.comment.setText("sky mislabelled as building")
    first.review_panel.comment.returnPressed.emit()
    first.review_panel.status_box.setCurrentIndex(first.review_panel.status_box.findData(ReviewStatus.REJECTED))
    first.review_panel.status_box.activated.emit(first.review_panel.status_box.currentIndex())
    model = first.file_list.model
    assert "sky mislabelled" in model.data(model.index(model.row_of(key), STATUS_COLUMN), Qt.ItemDataRole.ToolTipRole)
    first.close()
    first.pool.shutdown(5000)
    second = MainWindow(interactive=False)
    qtbot.addWidget(second)
    open_and_wait(qtbot, second, camvid_folder)
    assert second.file_list.model.status(key) is ReviewStatus.REJECTED
    assert second.review.comment_of(key) == "sky mislabelled as building"
    assert second.review_panel.comment.text() == "sky mislabelled as building"
    assert "rejected: 1" in second.review_panel.count_buttons[ReviewStatus.REJECTED].text()
    second.close()
    second.pool.shutdown(5000)


def test_a_broken_review_table_is_said_and_never_written_over(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    project = window.dataset.project_file
    with project.open("a") as stream:
        stream.write('\n[review]\n"images/x" = { status = "finished" }\n')
    before = project.read_text()
    messages: list[str] = []
    window.review.status.connect(lambda message, _ms: messages.append(message))
    open_and_wait(qtbot, window, camvid_folder)
    assert any("review statuses are not saved" in m and "finished" in m for m in messages)
    window.review.set_status(window.current_key, ReviewStatus.ACCEPTED)  # works for this run...
    window.review.flush()
    assert project.read_text() == before  # ...and the file is left as it was


def test_the_review_panel_sums_fixed_pixels_per_class(qtbot, window: MainWindow, predicted_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, predicted_folder)
    window.commands.action(Command.RESET_TO_GROUND_TRUTH).trigger()  # the labeler fixes everything the model got wrong
    trigger_and_wait(qtbot, window, Command.ACCEPT_AND_NEXT)
    table = window.review_panel.effort
    assert table.rowCount() >= 1
    assert table.item(0, 0).text().startswith("8 ")  # class 8 (Car): the model's invented car is what cost the most
    assert "over 1 accepted image" in window.review_panel.effort_label.text()


def export_and_wait(qtbot, window: MainWindow, fmt, folder: Path, **options):  # noqa: ANN001, ANN003, ANN201
    keys = [key for key in window.file_list.model.keys_in_order() if window.review.status_of(key) is ReviewStatus.ACCEPTED]
    with qtbot.waitSignal(window.exporter.finished, timeout=60000) as blocker:
        window.exporter.export(window.dataset, keys, fmt, folder, **options)
    return blocker.args[0]


def test_exporting_accepted_masks_writes_what_is_saved_and_checks_it(qtbot, window: MainWindow, predicted_folder: Path,  # noqa: ANN001
                                                                     tmp_path: Path) -> None:
    from segstudio.io.exchange import ExchangeFormat, import_annotations
    from segstudio.io.mask_files import read_class_mask

    open_and_wait(qtbot, window, predicted_folder)
    keys = window.file_list.model.keys_in_order()
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    trigger_and_wait(qtbot, window, Command.ACCEPT_AND_NEXT)  # saved, then accepted
    trigger_and_wait(qtbot, window, Command.REJECT_AND_NEXT)  # left out of the export
    out = tmp_path / "export"
    result = export_and_wait(qtbot, window, ExchangeFormat.PNG, out)
    assert result.exact and result.names == {keys[0]: window.dataset.sample(keys[0]).name}
    labels = window.dataset.spec.labels
    saved = read_class_mask(window.dataset.correction_path(window.dataset.sample(keys[0])), labels)
    back = import_annotations(ExchangeFormat.PNG, out, labels=labels)
    assert [image.name for image in back.images] == [result.names[keys[0]]]
    np.testing.assert_array_equal(back.images[0].classes, saved)
    failures: list[str] = []
    window.exporter.failed.connect(failures.append)
    window.exporter.export(window.dataset, [keys[0]], ExchangeFormat.PNG, out)  # again, same folder
    qtbot.waitUntil(lambda: bool(failures), timeout=20000)
    assert "exists" in failures[0] and str(out) in failures[0]  # nothing replaced without asking


def test_a_polygon_export_that_loses_pixels_says_so(qtbot, window: MainWindow, camvid_folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from segstudio.io.exchange import ExchangeFormat

    open_and_wait(qtbot, window, camvid_folder)
    trigger_and_wait(qtbot, window, Command.ACCEPT_AND_NEXT)  # a CamVid mask: thin poles, holes in trees
    messages: list[str] = []
    window.exporter.status.connect(lambda message, _ms: messages.append(message))
    result = export_and_wait(qtbot, window, ExchangeFormat.YOLO, tmp_path / "yolo")
    assert not result.exact and result.report.differing_pixels > 0
    assert "NOT EXACT" in messages[-1] and "read back bit-exact" not in messages[-1]


def test_fine_tune_needs_a_model_and_re_predicts_only_the_images_left_to_do(qtbot, window: MainWindow,  # noqa: ANN001
                                                                              camvid_folder: Path) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    window.commands.action(Command.FINE_TUNE).trigger()  # no model loaded
    assert "load a model first" in window.statusBar().currentMessage()
    keys = window.file_list.model.keys_in_order()
    window.review.set_status(keys[0], ReviewStatus.ACCEPTED)
    window.review.set_status(keys[1], ReviewStatus.IN_PROGRESS)
    asked: list[tuple[Path, object, object]] = []
    window.predictions.load_model = lambda path, predict=False, keys=None: asked.append((path, predict, keys))
    window.fine_tuning.repredict_requested.emit(Path("/models/unet-finetuned-1.safetensors"))
    assert asked == [(Path("/models/unet-finetuned-1.safetensors"), "all", keys[1:])]


@pytest.mark.parametrize("fmt", ["png", "voc", "coco", "coco-polygons", "labelme", "yolo"])
def test_every_format_exports_from_the_window_and_reads_back(qtbot, window: MainWindow, camvid_folder: Path,  # noqa: ANN001
                                                             tmp_path: Path, fmt: str) -> None:
    from segstudio.io.exchange import ExchangeFormat, import_annotations
    from segstudio.io.mask_files import read_class_mask

    open_and_wait(qtbot, window, camvid_folder)
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    key = window.current_key
    trigger_and_wait(qtbot, window, Command.ACCEPT_AND_NEXT)
    chosen = ExchangeFormat.parse(fmt)
    result = export_and_wait(qtbot, window, chosen, tmp_path / fmt)
    labels = window.dataset.spec.labels
    saved = read_class_mask(window.dataset.correction_path(window.dataset.sample(key)), labels)
    back = import_annotations(chosen, tmp_path / fmt, labels=labels).image(result.names[key]).classes
    differing = int((back != saved).sum())
    assert differing == result.report.differing_pixels  # the report counts exactly what differs
    assert result.exact == (differing == 0)
    if chosen.lossless:
        assert result.exact
