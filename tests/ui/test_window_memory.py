"""A long day in the window keeps its memory flat (issue 14, item 2): visiting and painting image after image must
not leave something behind per image. Checked by structure, not by RSS (which flakes on a shared machine): the
objects that once piled up (every finished job's runner, handle, signals and the data its closure held, such as
a mask copy per autosave and the image read) are counted after many visits. ``bench/bench_window_memory.py``
measures the RSS itself.
"""

from __future__ import annotations

import gc
import os
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QObject

from segstudio.app.unsaved_work import LeftWorks, PackedMask
from segstudio.core.session import ImageSession
from segstudio.io.corrections import SavedWork
from segstudio.ui.main_window import MainWindow
from segstudio.ui.worker_jobs import JobHandle, WorkerSignals
from segstudio.ui.worker_runner import JobRunner
from segstudio.ui.workers import WorkerPool
from tests.ui.gestures import paint

VISITS = 120
FRAMES = ("0016E5_07959", "0016E5_07961", "0016E5_07963")
PER_JOB = (JobHandle, JobRunner, WorkerSignals)  # what every job made


def alive(*types: type) -> Counter[str]:
    gc.collect()
    return Counter(type(item).__name__ for item in gc.get_objects() if type(item) in types)


@pytest.fixture
def long_folder(shared_data: Path, tmp_path: Path) -> Path:
    """``VISITS`` images: three CamVid val frames and their ground truth linked (not copied) under distinct names."""
    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import write_label_set

    source = shared_data / "camvid"
    if not all((source / "val" / f"{frame}.png").is_file() for frame in FRAMES):
        pytest.skip(f"CamVid val frames {FRAMES} not found under {source}")
    root = tmp_path / "long-day"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    write_label_set(root / "labels.toml", LabelSet.camvid())
    for index in range(VISITS):
        frame = FRAMES[index % len(FRAMES)]
        os.symlink(source / "val" / f"{frame}.png", root / "images" / f"{index:04d}_{frame}.png")
        os.symlink(source / "valannot" / f"{frame}.png", root / "masks" / f"{index:04d}_{frame}.png")
    return root


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_work_left_on_an_image_is_kept_bit_exact_and_packed(dtype: type) -> None:
    """Unsaved work is never dropped to save memory: it is packed, and comes back exactly (every value, every
    pixel, the dtype), as a new writable array each time, unchanged by later edits of the array it was kept from."""
    rng = np.random.default_rng(0)
    mask = np.zeros((360, 480), dtype=dtype)
    mask[100:200, 50:400] = 3
    mask[rng.integers(0, 360, 500), rng.integers(0, 480, 500)] = rng.integers(0, 300 if dtype is np.uint16 else 12, 500)
    works = LeftWorks()
    works.keep("a", mask, SavedWork("session", 7))
    kept = mask.copy()
    mask[:] = 0  # the session goes on (or is reused): what was kept must not follow
    left = works.get("a")
    assert left is not None and left.work == SavedWork("session", 7)
    for _ in range(2):
        back = left.on_top
        assert isinstance(back, np.ndarray) and back.dtype == dtype and back.flags.writeable
        np.testing.assert_array_equal(back, kept)
        back[:] = 1
    assert left.packed.nbytes < kept.nbytes // 4  # a class mask is runs of values: it packs small
    assert PackedMask.pack(np.zeros((0, 5), np.uint8)).unpack().shape == (0, 5)


def test_a_finished_job_leaves_nothing_behind(qtbot: Any) -> None:
    """PySide's QThreadPool.start kept every QRunnable it was handed for the pool's life: each job's runner, handle,
    signals and closure (with what it captured) stayed until the window closed. Now they go once the job's outcome
    is handled."""
    pool = WorkerPool()

    class Payload:
        pass

    payloads: list[weakref.ref[Payload]] = []
    handles: list[weakref.ref[JobHandle]] = []
    for index in range(200):
        payload = Payload()
        payloads.append(weakref.ref(payload))
        handle = pool.submit("autosave" if index % 2 else "load", lambda _p, _c, payload=payload: id(payload),
                             cancel_previous=False)
        handle.signals.finished.connect(lambda _result: None)
        handles.append(weakref.ref(handle))
        del payload, handle
    qtbot.waitUntil(lambda: not pool.busy, timeout=20000)
    pool.wait_for_done(5000)
    gc.collect()
    assert sum(ref() is not None for ref in payloads) == 0  # what the jobs' closures held
    assert sum(ref() is not None for ref in handles) == 0  # and their handles (each with its WorkerSignals)
    pool.shutdown(5000)


def test_visiting_and_painting_many_images_leaves_nothing_behind_per_image(qtbot: Any, window: MainWindow,
                                                                           long_folder: Path) -> None:
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(long_folder)
    keys = window.file_list.model.keys_in_order()
    assert len(keys) == VISITS
    counted: dict[int, tuple[Counter[str], int]] = {}
    painted: list[str] = []  # the images the stroke changed (one already of that class stays unchanged)
    for index, key in enumerate(keys):
        if key != window.current_key:
            with qtbot.waitSignal(window.sample_loaded, timeout=20000):
                window.load(key)
        window.class_panel.select(1 + index % 9)
        paint(qtbot, window, 150.0 + index % 50, 170.0)
        if window.canvas.session is not None and window.canvas.session.dirty:
            painted.append(key)
        visits = index + 1
        if visits in (30, VISITS):
            qtbot.waitUntil(lambda: not window.pool.busy, timeout=20000)  # the last autosave is written
            counted[visits] = (alive(*PER_JOB, ImageSession), len(window.findChildren(QObject)))
    early, late = counted[30], counted[VISITS]
    # Every stroke is still unsaved work the window holds (none dropped to save memory)...
    assert len(painted) > VISITS // 2
    assert set(window.saving.unsaved.keys()) == set(painted)
    # ...each held packed: far less than a mask (480 x 360 bytes here) per image left.
    left = [window.saving.unsaved.left.get(key) for key in painted if key != window.current_key]
    assert all(work is not None and work.packed.nbytes < 480 * 360 // 4 for work in left)
    # ...but no finished job, and no session of an image left, is kept: from visit 30 to visit 120, a handful more
    # at most, not one or more per image. (About three jobs ran per image: before, 90 visits added some 270
    # handles, runners and signals.) Counted as growth: windows of earlier tests may still be alive in this process.
    grown = late[0] - early[0]
    assert grown["JobHandle"] + grown["JobRunner"] + grown["WorkerSignals"] <= 6, (early[0], late[0])
    assert grown["ImageSession"] <= 1, (early[0], late[0])
    # No QObject is made per image and parented to the window.
    assert late[1] - early[1] <= 20, (early[1], late[1])
    window.saving.discard_unsaved()  # the test's strokes: nothing to ask about when the window closes
