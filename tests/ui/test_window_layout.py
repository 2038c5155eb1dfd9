"""The window as a labeler first sees it: the canvas gets most of the window, every panel's text fits, CamVid's
classes all show, closed panels come back from the View menu, and the layout, sort order and recent folders outlast
a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtWidgets import QAbstractButton, QFileDialog, QLabel, QToolButton, QWidget

from segstudio.core.layers import LayerKind
from segstudio.ui.actions import Command, Menu
from segstudio.ui.docks import ON_DEMAND, Panel
from segstudio.ui.main_window import MainWindow
from segstudio.ui.window_settings import DEFAULT_SIZE, MAX_RECENT, first_run_size, updated_recent

MIN_CANVAS_SHARE = 0.55


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "segstudio.ini"


@pytest.fixture
def open_windows(qtbot) -> Iterator[list[MainWindow]]:  # noqa: ANN001
    windows: list[MainWindow] = []
    yield windows
    for window in windows:
        window.pool.shutdown(5000)


def make_window(qtbot, settings_file: Path, windows: list[MainWindow], size: tuple[int, int] | None = None) -> MainWindow:  # noqa: ANN001
    window = MainWindow(interactive=False, settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    windows.append(window)
    if size is not None:  # a screen with room for it (the offscreen screen is 800 x 800)
        window.resize(*size)
        window.commands.action(Command.RESET_LAYOUT).trigger()  # the first-start arrangement, for this size
    window.show()
    qtbot.waitExposed(window)
    return window


def open_and_wait(qtbot, window: MainWindow, folder: Path) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.sample_loaded, timeout=60000):
        window.open_folder(folder)
    qtbot.wait(50)  # the docks settle after the list is filled


def canvas_share(window: MainWindow) -> float:
    canvas = window.canvas
    return canvas.width() * canvas.height() / (window.width() * window.height())


def clipped_texts(root: QWidget) -> list[str]:
    """Labels and buttons under ``root`` whose text is wider than the widget showing it."""
    found = []
    for label in root.findChildren(QLabel):
        if label.isVisible() and label.text() and not label.wordWrap() and label.pixmap().isNull():
            if label.sizeHint().width() > label.width() + 1:
                found.append(f"label {label.text()!r}: {label.sizeHint().width()} > {label.width()}")
    for button in root.findChildren(QAbstractButton):
        if isinstance(button, QToolButton) and button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly:
            continue  # its text is its tooltip
        if button.isVisible() and button.text():
            text = button.fontMetrics().horizontalAdvance(button.text().replace("&", ""))
            if text + 6 > button.width():
                found.append(f"button {button.text()!r}: {text} + margins > {button.width()}")
    return found


def test_the_first_run_size_fits_the_screen() -> None:
    assert first_run_size(QSize(1600, 1000)) == QSize(*DEFAULT_SIZE)
    small = first_run_size(QSize(1366, 728))
    assert small.width() <= 1366 and small.height() <= 728
    assert first_run_size(None) == QSize(*DEFAULT_SIZE)


def test_on_a_first_start_the_canvas_takes_most_of_the_window(qtbot, settings_file: Path, open_windows) -> None:  # noqa: ANN001
    window = make_window(qtbot, settings_file, open_windows, DEFAULT_SIZE)
    assert (window.width(), window.height()) == DEFAULT_SIZE
    assert canvas_share(window) >= MIN_CANVAS_SHARE, canvas_share(window)
    for panel in Panel:  # every panel is there, none closed, except a job's panel until the job starts
        assert window.docks.dock(panel).toggleViewAction().isChecked() == (panel not in ON_DEMAND), panel
        assert window.dockWidgetArea(window.docks.dock(panel)) != Qt.DockWidgetArea.BottomDockWidgetArea, panel
    toolbar = window.commands.toolbar
    for action in toolbar.actions():  # nothing pushed into the toolbar's overflow menu: Accept must be one click away
        if not action.isSeparator():
            widget = toolbar.widgetForAction(action)
            assert widget is not None and widget.isVisible(), action.text()
            assert widget.geometry().right() <= toolbar.width(), action.text()


def test_camvid_at_the_first_start_size_leaves_the_canvas_most_of_the_window(  # noqa: ANN001
    qtbot, settings_file: Path, open_windows, shared_data: Path,
) -> None:
    """CamVid's split column, status marks and longer names widen the Images list the most of the four data sets."""
    camvid = shared_data / "camvid"
    if not (camvid / "val").is_dir():
        pytest.skip(f"CamVid not found under {camvid}")
    window = make_window(qtbot, settings_file, open_windows, DEFAULT_SIZE)
    open_and_wait(qtbot, window, camvid)
    assert canvas_share(window) >= MIN_CANVAS_SHARE, canvas_share(window)


def test_camvid_at_1600_by_1000_shows_every_class_and_every_score_column(  # noqa: ANN001
    qtbot, settings_file: Path, open_windows, shared_data: Path,
) -> None:
    camvid = shared_data / "camvid"
    if not (camvid / "val").is_dir():
        pytest.skip(f"CamVid not found under {camvid}")
    window = make_window(qtbot, settings_file, open_windows, (1600, 1000))
    open_and_wait(qtbot, window, camvid)  # train and val: the image list shows its split column too
    assert canvas_share(window) >= MIN_CANVAS_SHARE, canvas_share(window)

    classes = window.class_panel.list
    assert classes.count() == 11
    assert classes.verticalScrollBar().maximum() == 0  # all 11 without scrolling
    last = classes.visualItemRect(classes.item(classes.count() - 1))
    assert classes.viewport().rect().contains(last)

    table = window.metrics_panel.table
    header = table.horizontalHeader()
    shown = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    assert [window.metrics_panel.visible_columns()[i] for i in range(len(shown))][-1] == "Dice vs pred"
    for column in shown:  # no cell text cut short
        assert header.sectionSize(column) >= table.sizeHintForColumn(column), column
    assert header.sectionViewportPosition(shown[-1]) + header.sectionSize(shown[-1]) <= table.viewport().width()

    images = window.file_list.view
    names = {images.model().headerData(s, Qt.Orientation.Horizontal): s for s in range(images.model().columnCount())}
    dice = names["Dice"]
    assert not images.horizontalHeader().isSectionHidden(dice)
    right_edge = images.horizontalHeader().sectionViewportPosition(dice) + images.horizontalHeader().sectionSize(dice)
    assert 0 < right_edge <= images.viewport().width()  # the Dice column is not cut off

    panels = [window.docks.dock(panel).widget() for panel in Panel if panel is not Panel.MODEL]
    clipped = [text for panel in panels for text in clipped_texts(panel)]
    assert not clipped, clipped
    assert not clipped_texts(window.commands.toolbar)


def test_a_closed_panel_comes_back_from_the_view_menu(qtbot, settings_file: Path, open_windows) -> None:  # noqa: ANN001
    window = make_window(qtbot, settings_file, open_windows, DEFAULT_SIZE)
    metrics = window.docks.dock(Panel.METRICS)
    toggle = metrics.toggleViewAction()
    assert toggle in window.commands.menu(Menu.VIEW).actions()
    metrics.close()
    assert not toggle.isChecked() and not metrics.isVisible()
    toggle.trigger()
    assert metrics.isVisible()
    window.docks.dock(Panel.LAYERS).close()
    window.commands.action(Command.RESET_LAYOUT).trigger()
    assert all(window.docks.dock(panel).toggleViewAction().isChecked() != (panel in ON_DEMAND) for panel in Panel)
    assert canvas_share(window) >= MIN_CANVAS_SHARE


def test_load_model_in_the_file_menu_brings_the_model_panel_forward(  # noqa: ANN001
    qtbot, settings_file: Path, open_windows, monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[QFileDialog] = []
    monkeypatch.setattr(QFileDialog, "exec", lambda dialog: (asked.append(dialog), 0)[1])  # the user cancels
    window = make_window(qtbot, settings_file, open_windows, DEFAULT_SIZE)
    model = window.docks.dock(Panel.MODEL)
    assert not model.visibleRegion().boundingRect().isValid()  # behind the Metrics tab at first
    window.commands.action(Command.LOAD_MODEL).trigger()
    assert len(asked) == 1
    assert model.visibleRegion().boundingRect().isValid()


def test_quit_closes_the_window(qtbot, settings_file: Path, open_windows) -> None:  # noqa: ANN001
    window = make_window(qtbot, settings_file, open_windows)
    window.commands.action(Command.QUIT).trigger()
    assert not window.isVisible()


def test_recent_folders_sort_order_and_panels_outlast_a_restart(  # noqa: ANN001
    qtbot, settings_file: Path, open_windows, camvid_folder: Path, tmp_path: Path,
) -> None:
    gone = tmp_path / "was-here"
    QSettings(str(settings_file), QSettings.Format.IniFormat).setValue("recent_folders", [str(gone)])
    first = make_window(qtbot, settings_file, open_windows, DEFAULT_SIZE)
    assert first.commands.recent_folders_shown()[0][1] is False  # a gone folder is greyed out
    open_and_wait(qtbot, first, camvid_folder)
    shown = first.commands.recent_folders_shown()
    assert camvid_folder.name in shown[0][0] and shown[0][1] and not shown[1][1]
    view = first.file_list.view
    dice = next(s for s in range(view.model().columnCount()) if view.model().headerData(s, Qt.Orientation.Horizontal) == "Dice")
    view.sortByColumn(dice, Qt.SortOrder.DescendingOrder)  # what a click on the header does
    first.docks.dock(Panel.LAYERS).close()
    first.close()

    second = make_window(qtbot, settings_file, open_windows)
    header = second.file_list.view.horizontalHeader()
    assert header.sortIndicatorSection() == dice and header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert not second.docks.dock(Panel.LAYERS).toggleViewAction().isChecked()
    assert second.docks.dock(Panel.METRICS).toggleViewAction().isChecked()
    with qtbot.waitSignal(second.dataset_opened, timeout=60000) as opened:
        second.commands.choose_recent(0)  # File > Open recent > the CamVid copy
    assert Path(opened.args[0].root) == camvid_folder


def test_the_recent_list_keeps_ten_most_recent_first(tmp_path: Path) -> None:
    folders = [tmp_path / f"f{i}" for i in range(12)]
    recent: list[Path] = []
    for folder in folders:
        recent = updated_recent(recent, folder)
    assert recent == folders[::-1][:MAX_RECENT]
    again = updated_recent(recent, tmp_path / "f5" / ".." / "f5")  # the same folder, spelt another way
    assert len(again) == MAX_RECENT and again[0].name == "f5" and sum(p.resolve() == folders[5] for p in again) == 1


def test_the_layers_the_user_hid_stay_hidden_after_a_restart(qtbot, settings_file: Path, open_windows) -> None:  # noqa: ANN001
    from segstudio.ui.app import demo_folder  # ground truth and predictions: the main view shows the error map

    folder = demo_folder()
    first = make_window(qtbot, settings_file, open_windows)
    open_and_wait(qtbot, first, folder)
    assert first.layers.style(LayerKind.ERROR_MAP).visible  # the main view turned it on
    first.commands.action(Command.TOGGLE_ERROR_MAP).trigger()  # X: the user hides it
    first.layer_panel.toggle(LayerKind.GROUND_TRUTH)  # and the ground truth, in the Layers panel
    assert not first.commands.action(Command.TOGGLE_ERROR_MAP).isChecked()
    first.close()

    second = make_window(qtbot, settings_file, open_windows)
    open_and_wait(qtbot, second, folder)
    assert not second.layers.style(LayerKind.ERROR_MAP).visible  # the main view rule leaves the user's choice
    assert not second.layers.style(LayerKind.GROUND_TRUTH).visible
    assert second.layers.style(LayerKind.PREDICTION).visible  # never chosen: the main view still applies
    assert not second.commands.action(Command.TOGGLE_ERROR_MAP).isChecked()
    assert second.commands.action(Command.TOGGLE_PREDICTION).isChecked()


def test_the_demo_shows_its_training_in_the_model_panel_then_its_scores(  # noqa: ANN001
    qtbot, settings_file: Path, open_windows, tmp_path: Path, one_torch_thread,
) -> None:
    from segstudio.app.demo_model import DemoTrainingSettings
    from segstudio.io.demo_dataset import ensure_demo_dataset

    folder = ensure_demo_dataset(tmp_path / "demo")
    window = make_window(qtbot, settings_file, open_windows, DEFAULT_SIZE)
    open_and_wait(qtbot, window, folder)
    assert window.docks.in_front(Panel.METRICS) and not window.docks.in_front(Panel.MODEL)
    tiny = DemoTrainingSettings(epochs=2, samples_per_epoch=8, crop_size=64, batch_size=4, max_seconds=20)
    demo = window.start_demo(folder, tiny)
    assert demo.training and window.docks.in_front(Panel.MODEL)  # the first start's progress
    with qtbot.waitSignal(demo.shown, timeout=120000):
        pass
    assert window.docks.in_front(Panel.METRICS)  # then the scores of the model just trained


def test_dataset_figures_open_large_over_the_window(qtbot, settings_file: Path, open_windows) -> None:  # noqa: ANN001
    window = make_window(qtbot, settings_file, open_windows, DEFAULT_SIZE)
    window.commands.action(Command.DATASET_FIGURES).trigger()
    dock = window.docks.dock(Panel.DATASET)
    assert dock.isFloating() and dock.isVisible()
    assert dock.width() >= 0.7 * window.width() and dock.height() >= 0.7 * window.height()
    window.commands.action(Command.RESET_LAYOUT).trigger()
    assert not dock.isFloating()
