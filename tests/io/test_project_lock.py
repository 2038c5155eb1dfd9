"""The project lock: one holder at a time, the holder named, a dead holder's lock taken over; and the file-state
check that keeps a save from replacing a newer save made elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from segstudio.io.corrections import SavedWork, save_correction
from segstudio.io.autosave import AutosaveStore
from segstudio.io.datasets import open_dataset
from segstudio.io.file_state import UNCHECKED, FileState, SaveConflict, check_unchanged
from segstudio.io.mask_files import read_class_mask, write_class_mask
from segstudio.io.project_lock import LOCK_FILE_NAME, ProjectLock, ProjectLocked

HOLDER = """
import sys
from segstudio.io.project_lock import ProjectLock
lock = ProjectLock.acquire(sys.argv[1], program="segstudio window")
print("held", flush=True)
sys.stdin.readline()
"""


def _holder_process(folder: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_holder_is_refused_and_told_who_holds_it(tmp_path: Path) -> None:
    first = ProjectLock.acquire(tmp_path)
    with pytest.raises(ProjectLocked) as raised:
        ProjectLock.acquire(tmp_path)  # another window in the same process: also refused
    holder = raised.value.holder
    assert holder.pid == os.getpid() and holder.since is not None
    assert f"process {os.getpid()}" in str(raised.value) and "this computer" in str(raised.value)
    assert ProjectLock.holder_of(tmp_path) is not None
    first.release()
    first.release()  # twice is fine
    assert ProjectLock.holder_of(tmp_path) is None
    with ProjectLock.acquire(tmp_path) as again:
        assert again.held
    assert not again.held


def test_another_process_holds_the_lock_until_it_is_killed(tmp_path: Path) -> None:
    process = _holder_process(tmp_path)
    try:
        with pytest.raises(ProjectLocked) as raised:
            ProjectLock.acquire(tmp_path)
        assert raised.value.holder.pid == process.pid
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    # The stale-lock rule: the OS dropped the dead process's lock; the file it left is simply taken over.
    assert (tmp_path / LOCK_FILE_NAME).is_file()
    lock = ProjectLock.acquire(tmp_path)
    assert lock.held
    lock.release()


def test_a_lock_file_of_garbage_does_not_keep_anyone_out(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE_NAME).write_bytes(os.urandom(300))
    lock = ProjectLock.acquire(tmp_path)
    with pytest.raises(ProjectLocked) as raised:
        ProjectLock.acquire(tmp_path)
    assert raised.value.holder.pid == os.getpid()
    lock.release()


def test_file_state_sees_a_replace_a_rewrite_and_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    assert FileState.of(path) is None
    check_unchanged(path, None)
    path.write_bytes(b"one")
    with pytest.raises(SaveConflict, match="was created by another window or program"):
        check_unchanged(path, None)
    state = FileState.of(path)
    check_unchanged(path, state)
    replacement = tmp_path / "b.png"
    replacement.write_bytes(b"one")
    os.replace(replacement, path)  # same bytes, same size, atomically replaced: still a change
    with pytest.raises(SaveConflict, match="was changed by another window or program"):
        check_unchanged(path, state)
    check_unchanged(path, UNCHECKED)
    path.unlink()
    check_unchanged(path, state)  # deleted meanwhile: writing it again loses nobody's save


def test_save_correction_never_replaces_a_newer_save(shared_data: Path, tmp_path: Path) -> None:
    import shutil

    source = shared_data / "isbi2012" / "train"
    if not source.is_dir():
        pytest.skip("ISBI 2012 not found")
    root = tmp_path / "isbi"
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
        shutil.copy(source / folder / "0.png", root / folder / "0.png")
    dataset = open_dataset(root)
    sample = dataset.samples[0]
    labels = dataset.spec.labels
    path = dataset.correction_path(sample)
    opened = FileState.of(path)  # no correction yet when "our" window read the image

    theirs = np.zeros((512, 512), np.uint8)
    theirs[:100] = 1
    path.parent.mkdir(parents=True)
    time.sleep(0.01)
    write_class_mask(path, theirs, labels)  # another window saved in between
    ours = np.ones((512, 512), np.uint8)
    store = AutosaveStore.for_dataset(dataset)
    store.save(sample.key, ours, revision=4, labels=labels, session="s")
    with pytest.raises(SaveConflict) as raised:
        save_correction(dataset, sample, ours, labels, autosave=store, work=SavedWork("s", 4), expected=opened)
    assert raised.value.path == path
    np.testing.assert_array_equal(read_class_mask(path, labels), theirs)  # their save is intact
    assert [entry.sample_key for entry in store.pending()] == [sample.key]  # our work is still autosaved

    save_correction(dataset, sample, ours, labels, autosave=store, work=SavedWork("s", 4), expected=FileState.of(path))
    np.testing.assert_array_equal(read_class_mask(path, labels), ours)
    assert store.pending() == []
