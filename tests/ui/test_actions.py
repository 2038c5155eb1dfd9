"""The window's commands as actions, on a bare QMainWindow: keys, menus, the Tools toolbar, the checked tool, the
brush slider and the peek key, through the actions' triggers and WindowActions' signals."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMainWindow

from segstudio.ui.actions import PEEK_KEY, Command, Menu, WindowActions
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
    assert [menu.title() for menu in (actions.menu(m) for m in Menu)] == [m.value for m in Menu]
    assert not actions.action(Command.SAVE_AS_GROUND_TRUTH).shortcuts()  # never by an accidental key press
    actions.action(Command.SAVE_AS_GROUND_TRUTH).trigger()
    QTest.keyClick(host, Qt.Key.Key_D)
    QTest.keyClick(host, Qt.Key.Key_5)
    assert called == [Command.SAVE_AS_GROUND_TRUTH, Command.NEXT_IMAGE, Command.CLASS_5]


def test_a_command_without_a_slot_is_refused(qtbot) -> None:  # noqa: ANN001
    host = QMainWindow()
    qtbot.addWidget(host)
    with pytest.raises(ValueError, match="UNDO"):
        WindowActions(host, {command: (lambda: None) for command in Command if command is not Command.UNDO})


def test_toolbar_checked_tool_and_brush_slider(qtbot) -> None:  # noqa: ANN001
    _host, actions, _called = build(qtbot)
    toolbar = [action.text() for action in actions.toolbar.actions()]
    assert toolbar[:6] == ["Brush", "Eraser", "Fill", "Polygon", "Pick class", "Keep other classes"]
    actions.show_tool(Tool.FILL)
    checked = [command for command in Command if actions.action(command).isChecked()]
    assert checked == [Command.FILL]
    assert Command.for_tool(Tool.PICK) is Command.PICK and Command.for_class(9) is Command.CLASS_9
    with qtbot.assertNotEmitted(actions.brush_size_chosen):
        actions.show_brush_size(500)  # beyond the slider: it stays at its end
    assert actions.brush_slider.value() == actions.brush_slider.maximum()
    with qtbot.waitSignal(actions.brush_size_chosen) as chosen:
        actions.brush_slider.setValue(40)
    assert chosen.args == [40]


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
