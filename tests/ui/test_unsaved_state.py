"""Unsaved work is visible (issue 10 item 8): "*" in the title while the shown image has unsaved changes, an
"edited" mark in the file list for every image holding unsaved work, a Save / Discard / Cancel question when an
interactive window closes on unsaved work, and truthful words when the user comes back to an image."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from segstudio.io.autosave import AutosaveStore
from segstudio.io.mask_files import read_class_mask
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from tests.ui.gestures import open_and_wait, paint
from segstudio.ui.sample_table import STATUS_COLUMN, EDITED_MARK, SAVED_MARK
from segstudio.ui.unsaved import CloseChoice




def go_to(qtbot, window: MainWindow, key: str) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.load(key)


def mark(window: MainWindow, key: str) -> str:
    model = window.file_list.model
    return model.data(model.index(model.row_of(key), STATUS_COLUMN))


def shown_title(window: MainWindow) -> str:
    """The title as the window system gets it: Qt puts "*" for "[*]" while the window is modified."""
    return window.windowHandle().title()


def test_the_title_star_follows_edits_undo_and_saves(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    name = window.dataset.sample(window.current_key).name
    assert shown_title(window).startswith(f"{name} - ") and not window.isWindowModified()
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    assert window.isWindowModified() and shown_title(window).startswith(f"{name}* - ")
    window.commands.action(Command.UNDO).trigger()  # back to the state on disk: nothing unsaved
    assert not window.isWindowModified() and "*" not in shown_title(window)
    window.commands.action(Command.REDO).trigger()
    assert window.isWindowModified()
    window.commands.action(Command.SAVE).trigger()
    assert window.saving.wait_for_save()
    assert not window.isWindowModified() and shown_title(window).startswith(f"{name} - ")


def test_every_image_with_unsaved_work_is_marked_edited_until_saved(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    first = window.current_key
    assert mark(window, first) == "○"
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    assert mark(window, first) == EDITED_MARK
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.step_image(1)
    second = window.current_key
    assert second != first and mark(window, first) == EDITED_MARK  # left unsaved: still marked
    assert mark(window, second) == "○" and not window.isWindowModified()  # the title is the shown image's
    go_to(qtbot, window, first)
    window.saving.save(wait=True)
    assert mark(window, first) == SAVED_MARK


def test_coming_back_to_an_image_says_its_changes_were_kept_not_recovered(qtbot, window: MainWindow,  # noqa: ANN001
                                                                          camvid_folder: Path) -> None:
    open_and_wait(qtbot, window, camvid_folder)
    first = window.current_key
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.step_image(1)
    go_to(qtbot, window, first)
    message = window.status_line.message
    assert "unsaved changes, kept since you left this image" in message
    assert "autosave" not in message
    assert window.isWindowModified()


def test_work_recovered_from_an_autosave_is_called_that(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, camvid_folder)
    key = window.dataset.samples[-1].key
    mask = np.full(window.canvas.session.shape, 3, np.uint8)
    AutosaveStore.for_dataset(window.dataset).save(key, mask, revision=4, labels=window.dataset.spec.labels,
                                                  session="an earlier run")
    [entry] = window.recovery.pending()
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.recover(entry)
    assert "recovered from an autosave" in window.status_line.message
    assert mark(window, key) == EDITED_MARK


# -- closing with unsaved work -------------------------------------------------------------------------------------


@pytest.fixture
def asking_window(qtbot) -> Iterator[MainWindow]:  # noqa: ANN001
    """An interactive window whose close question is answered by the test (``answers``, then Discard; the names
    asked about go to ``asked``)."""
    window = MainWindow(interactive=True)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    window.answers = []  # type: ignore[attr-defined]
    window.asked = []  # type: ignore[attr-defined]

    def answer(_parent: object, names: Sequence[str]) -> CloseChoice:
        window.asked.append(list(names))  # type: ignore[attr-defined]
        answers = window.answers  # type: ignore[attr-defined]
        return answers.pop(0) if answers else CloseChoice.DISCARD  # the test is over: qtbot closes the window

    window.close_guard.ask = answer
    yield window
    window.pool.shutdown(5000)


def two_edited_images(qtbot, window: MainWindow, folder: Path) -> tuple[str, str]:  # noqa: ANN001
    open_and_wait(qtbot, window, folder)
    first = window.current_key
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.step_image(1)
    second = window.current_key
    paint(qtbot, window, 100, 80)
    return first, second


def test_cancel_keeps_the_window_open_with_the_work(qtbot, asking_window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    window = asking_window
    first, second = two_edited_images(qtbot, window, camvid_folder)
    window.answers.append(CloseChoice.CANCEL)
    assert not window.close()
    assert window.isVisible() and window.isWindowModified()
    names = {window.dataset.sample(key).name for key in (first, second)}
    assert set(window.asked[0]) == names  # both images are named in the question
    assert mark(window, first) == EDITED_MARK and mark(window, second) == EDITED_MARK


def test_save_writes_every_edited_image_then_closes(qtbot, asking_window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    window = asking_window
    first, second = two_edited_images(qtbot, window, camvid_folder)
    painted = window.canvas.session.mask.copy()
    left = window.saving.unsaved_work(first).copy()
    dataset, labels = window.dataset, window.dataset.spec.labels
    window.answers.append(CloseChoice.SAVE)
    assert window.close()
    for key, expected in ((first, left), (second, painted)):
        path = dataset.correction_path(dataset.sample(key))
        assert np.array_equal(read_class_mask(path, labels), expected)
    assert AutosaveStore.for_dataset(dataset).pending() == []  # the saves hold everything the autosaves held


def test_discard_closes_without_writing_and_leaves_nothing_to_recover(qtbot, asking_window: MainWindow,  # noqa: ANN001
                                                                      camvid_folder: Path) -> None:
    window = asking_window
    first, second = two_edited_images(qtbot, window, camvid_folder)
    dataset = window.dataset
    window.answers.append(CloseChoice.DISCARD)
    assert window.close()
    for key in (first, second):
        assert not dataset.correction_path(dataset.sample(key)).exists()
    window.pool.wait_for_done(5000)
    assert AutosaveStore.for_dataset(dataset).pending() == []


def test_a_window_without_unsaved_work_closes_without_asking(qtbot, asking_window: MainWindow,  # noqa: ANN001
                                                             camvid_folder: Path) -> None:
    window = asking_window
    open_and_wait(qtbot, window, camvid_folder)
    assert window.close() and window.asked == []


def test_a_non_interactive_window_closes_as_before_and_its_autosave_keeps_the_work(qtbot, window: MainWindow,  # noqa: ANN001
                                                                                  camvid_folder: Path) -> None:
    def never(*_args: object) -> CloseChoice:
        raise AssertionError("a non-interactive window must not ask")

    window.close_guard.ask = never
    open_and_wait(qtbot, window, camvid_folder)
    key = window.current_key
    window.class_panel.select(8)
    paint(qtbot, window, 60, 60)
    assert window.close()
    assert [entry.sample_key for entry in AutosaveStore.for_dataset(window.dataset).pending()] == [key]


def test_a_stroke_that_paints_back_what_it_painted_leaves_no_star(qtbot, window: MainWindow, camvid_folder: Path) -> None:  # noqa: ANN001
    """The class changed mid-stroke (a number key) and the stroke painted its pixels back: nothing changed, so the
    title and the list must not claim unsaved work once the mouse is released."""
    open_and_wait(qtbot, window, camvid_folder)
    canvas = window.canvas
    start = canvas.image_to_widget(60, 60).toPoint()
    end = start + QPoint(30, 10)
    window.class_panel.select(8)
    canvas.tools.size = 40  # a wide stroke of class 8, so the narrow one below paints only over class 8
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, end)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    canvas.tools.size = 6
    window.saving.save(wait=True)
    assert not window.isWindowModified()
    before = window.canvas.session.mask.copy()
    start = canvas.image_to_widget(60, 60).toPoint()  # the save's status line may have moved the view
    end = start + QPoint(30, 10)
    window.class_panel.select(3)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, end)
    assert window.isWindowModified()  # a stroke counts from its first dab
    window.class_panel.select(8)
    QTest.mouseMove(canvas, start)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    qtbot.wait(10)
    np.testing.assert_array_equal(window.canvas.session.mask, before)
    assert not window.isWindowModified() and "*" not in shown_title(window)
    assert mark(window, window.current_key) == SAVED_MARK
