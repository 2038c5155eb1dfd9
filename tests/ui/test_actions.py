"""The window's commands as actions, on a bare QMainWindow: keys, menus, icons, the toolbar with its labelled brush
size, the checked tool and layers, File > Open recent, the panels' toggles in View and the peek key, through the
actions' triggers and WindowActions' signals."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QMainWindow, QToolButton

from segstudio.ui.actions import PEEK_KEY, TOOLBAR, Command, Menu, ToolbarSlot, WindowActions
from segstudio.ui.tools import Tool


def build(qtbot) -> tuple[QMainWindow, WindowActions, list[Command]]:  # noqa: ANN001
    host = QMainWindow()
    qtbot.addWidget(host)
    called: list[Command] = []
    actions = WindowActions(host, {command: (lambda c=command: called.append(c)) for command in Command})
    with qtbot.waitActive(host):  # window shortcuts reach an active window only
        host.show()
        host.activateWindow()
    return host, actions, called


def test_every_command_is_an_action_with_its_keys_and_menu(qtbot) -> None:  # noqa: ANN001
    host, actions, called = build(qtbot)
    assert len(actions.all()) == len(Command)
    for command in Command:
        action = actions.action(command)
        assert action.text() == command.spec.text
        assert [key.toString() for key in action.shortcuts()] == list(command.spec.keys)
        if command.spec.menu is not None:
            assert action in actions.menu(command.spec.menu).actions()
    assert [actions.menu(m).title().replace("&", "") for m in Menu] == [m.value for m in Menu]
    assert not actions.action(Command.SAVE_AS_GROUND_TRUTH).shortcuts()  # never by an accidental key press
    actions.action(Command.SAVE_AS_GROUND_TRUTH).trigger()
    QTest.keyClick(host, Qt.Key.Key_D)
    QTest.keyClick(host, Qt.Key.Key_5)
    QTest.keyClick(host, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert called == [Command.SAVE_AS_GROUND_TRUTH, Command.NEXT_IMAGE, Command.CLASS_5, Command.QUIT]


def test_file_view_and_help_menus_hold_what_users_look_for(qtbot) -> None:  # noqa: ANN001
    _host, actions, _called = build(qtbot)
    file_menu = [a.text() for a in actions.menu(Menu.FILE).actions() if not a.isSeparator()]
    assert file_menu == ["Open folder...", "Open recent", "Load model...", "Load click-to-segment weights...",
                         "Ray cluster for Predict all...",
                         "Save correction", "Export accepted masks...", "Quit"]
    assert actions.action(Command.QUIT).shortcut().toString() == "Ctrl+Q"
    view = [a.text() for a in actions.menu(Menu.VIEW).actions() if not a.isSeparator()]
    assert {"Show prediction", "Show error map", "Fit to window", "Actual size (1:1)"} <= set(view)
    help_menu = [a.text() for a in actions.menu(Menu.HELP).actions()]
    assert help_menu == ["Keyboard shortcuts", "About segstudio"]


def test_a_command_without_a_slot_is_refused(qtbot) -> None:  # noqa: ANN001
    host = QMainWindow()
    qtbot.addWidget(host)
    with pytest.raises(ValueError, match="UNDO"):
        WindowActions(host, {command: (lambda: None) for command in Command if command is not Command.UNDO})


def test_every_menu_and_toolbar_command_has_an_icon_and_a_tooltip_with_its_key(qtbot) -> None:  # noqa: ANN001
    _host, actions, _called = build(qtbot)
    for command in actions.toolbar_commands():
        action = actions.action(command)
        assert command.spec.icon is not None and not action.icon().isNull(), command
        assert command.spec.keys[0] in action.toolTip(), command
    for command in Command:
        if command.spec.icon is not None:
            assert not actions.action(command).icon().isNull(), command


def test_toolbar_tools_with_names_the_brush_size_labelled_and_apart_from_keep_other_classes(qtbot) -> None:  # noqa: ANN001
    _host, actions, _called = build(qtbot)
    texts = [action.iconText() for action in actions.toolbar.actions() if action.isVisible() and not action.isSeparator()
             and actions.toolbar.widgetForAction(action) is not actions.brush_size]
    assert texts[4:9] == ["Brush", "Eraser", "Fill", "Polygon", "Pick"]
    for command in (Command.BRUSH, Command.KEEP_OTHER_CLASSES, Command.TOGGLE_PREDICTION):
        button = actions.toolbar.widgetForAction(actions.action(command))
        assert isinstance(button, QToolButton)
        assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    # the size control says what it is and reads its value; a separator keeps it off "Keep other classes"
    labels = [label.text() for label in actions.brush_size.findChildren(QLabel)]
    assert "Size" in labels
    position = TOOLBAR.index(ToolbarSlot.BRUSH_SIZE)
    assert TOOLBAR[position - 1] is TOOLBAR[position + 1] is ToolbarSlot.SEPARATOR
    assert actions.brush_size.toolTip().startswith("Brush and eraser size")

    actions.show_tool(Tool.FILL)
    checked = [command for command in Command if actions.action(command).isChecked()]
    assert checked == [Command.FILL]
    actions.show_layers(prediction=True, error_map=False)
    assert actions.action(Command.TOGGLE_PREDICTION).isChecked() and not actions.action(Command.TOGGLE_ERROR_MAP).isChecked()
    assert Command.for_tool(Tool.PICK) is Command.PICK and Command.for_class(9) is Command.CLASS_9
    with qtbot.assertNotEmitted(actions.brush_size_chosen):
        actions.show_brush_size(500)  # beyond the slider: it stays at its end, the label says the size
    assert actions.brush_slider.value() == actions.brush_slider.maximum()
    assert actions.brush_size.value.text() == "500 px"
    with qtbot.waitSignal(actions.brush_size_chosen) as chosen:
        actions.brush_slider.setValue(40)
    assert chosen.args == [40]


def test_open_recent_lists_folders_greys_the_gone_ones_and_clears(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    _host, actions, _called = build(qtbot)
    assert not actions.recent_menu.isEnabled()  # nothing opened yet
    here, gone = tmp_path / "camvid & co", tmp_path / "unplugged"
    here.mkdir()
    actions.set_recent_folders([here, gone])
    shown = actions.recent_folders_shown()
    assert [enabled for _text, enabled in shown] == [True, False]
    assert "camvid && co" in shown[0][0] and "not found" in shown[1][0]  # "&" is not taken as a mnemonic
    with qtbot.waitSignal(actions.recent_folder_chosen) as chosen:
        actions.choose_recent(0)
    assert chosen.args == [here]
    with qtbot.assertNotEmitted(actions.recent_folder_chosen):
        actions.choose_recent(1)  # greyed out: nothing happens
    clear = next(a for a in actions.recent_menu.actions() if a.text() == "Clear list")
    with qtbot.waitSignal(actions.recent_cleared):
        clear.trigger()


def test_panel_toggles_go_into_the_view_menu(qtbot) -> None:  # noqa: ANN001
    host, actions, _called = build(qtbot)
    toggles = [QAction(name, host) for name in ("Images panel", "Metrics panel")]
    actions.add_panel_toggles(toggles)
    view = [a.text() for a in actions.menu(Menu.VIEW).actions() if not a.isSeparator()]
    assert view.index("Images panel") < view.index("Metrics panel") < view.index("Toolbar") < view.index("Reset panel layout")
    toolbar_toggle = next(a for a in actions.menu(Menu.VIEW).actions() if a.text() == "Toolbar")
    actions.toolbar.hide()  # closed from its context menu, say
    assert not toolbar_toggle.isChecked()
    toolbar_toggle.trigger()  # and back from View
    assert actions.toolbar.isVisible()


def test_peek_key_and_the_help_list(qtbot) -> None:  # noqa: ANN001
    host, actions, _called = build(qtbot)
    with qtbot.waitSignal(actions.peek_changed) as pressed:
        QTest.keyPress(host, PEEK_KEY)
    assert pressed.args == [True]
    with qtbot.waitSignal(actions.peek_changed) as released:
        QTest.keyRelease(host, PEEK_KEY)
    assert released.args == [False]
    names = [name for name, _keys in actions.shortcuts()]
    assert names[0] == "Open folder..." and "Peek at ground truth (hold)" in names and "Class 3" in names
    assert "Quit" in names and "Load model..." in names
