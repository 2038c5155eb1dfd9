"""The editing commands (EditingCommands) through their signals: the tool, the class and the paint scope, the brush
steps, and the whole-mask commands a read-only window refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.io.datasets import open_dataset
from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.ui.canvas import Canvas
from segstudio.ui.editing import EditingCommands
from segstudio.ui.saving import SaveController
from segstudio.ui.tools import Tool
from segstudio.ui.workers import WorkerPool


@pytest.fixture
def pool(qtbot) -> Iterator[WorkerPool]:  # noqa: ANN001
    workers = WorkerPool()
    yield workers
    workers.shutdown(5000)


def editing_on(qtbot, pool: WorkerPool) -> tuple[EditingCommands, Canvas, SaveController]:  # noqa: ANN001
    canvas = Canvas()
    qtbot.addWidget(canvas)
    saving = SaveController(pool, interactive=False)
    truth = np.zeros((20, 30), np.uint8)
    truth[4:12, 4:12] = 1
    canvas.set_session(ImageSession.start(np.zeros((20, 30, 3), np.uint8), LabelSet.with_count(3), ground_truth=truth))
    return EditingCommands(canvas, saving), canvas, saving


def test_tool_class_scope_and_brush(qtbot, pool) -> None:  # noqa: ANN001
    editing, canvas, _saving = editing_on(qtbot, pool)
    with qtbot.waitSignal(editing.tool_changed) as changed, qtbot.waitSignal(editing.tools_changed):
        editing.set_tool(Tool.POLYGON)
    assert changed.args == [Tool.POLYGON] and editing.tool is Tool.POLYGON
    with qtbot.waitSignal(editing.tools_changed):
        editing.set_class(2)
    assert canvas.tools.value == 2
    with qtbot.waitSignal(editing.tools_changed):
        editing.toggle_keep_other_classes()
    assert canvas.tools.keep_other_classes
    size = canvas.tools.size
    with qtbot.waitSignal(canvas.brush_size_changed) as grown:
        editing.step_brush(1)
    assert grown.args[0] > size
    editing.step_brush(-1)
    assert canvas.tools.size < grown.args[0]


def test_whole_mask_commands_and_their_refusals(qtbot, pool, tmp_path: Path) -> None:  # noqa: ANN001
    editing, canvas, _saving = editing_on(qtbot, pool)
    session = canvas.session
    session.paint((2, 2), (8, 8), radius=2, value=2)
    painted = session.mask.copy()
    editing.undo()
    assert not np.array_equal(session.mask, painted)
    editing.redo()
    assert np.array_equal(session.mask, painted)
    editing.reset_to_ground_truth()
    assert np.array_equal(session.mask, session.ground_truth)
    with qtbot.waitSignal(editing.status) as refused:
        editing.accept_prediction()  # this image has no prediction
    assert "no prediction" in refused.args[0]

    # Another window holds the folder: the save controller says why, the mask stays.
    dataset = open_dataset(write_demo_dataset(tmp_path / "demo", count=1))
    holder = SaveController(pool, interactive=False)
    holder.open_dataset(dataset)
    read_only = SaveController(pool, interactive=False)
    read_only.open_dataset(dataset)
    blocked = EditingCommands(canvas, read_only)
    before = session.mask.copy()
    with qtbot.waitSignal(read_only.status) as told:
        blocked.undo()
    assert "cannot change the mask" in told.args[0]
    assert np.array_equal(session.mask, before)
    holder.release_lock()
