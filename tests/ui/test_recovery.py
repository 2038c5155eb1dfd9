"""The recovery offer, through the RecoveryController's signals: what it finds when a folder opens, and what
restore, discard and keep do to an earlier session's autosaves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from segstudio.io.autosave import AutosaveStore
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.ui.recovery import RecoveryChoice, RecoveryController
from segstudio.ui.saving import SaveController
from segstudio.ui.workers import WorkerPool


@pytest.fixture
def pool(qtbot) -> Iterator[WorkerPool]:  # noqa: ANN001
    workers = WorkerPool()
    yield workers
    workers.shutdown(5000)


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return open_dataset(write_demo_dataset(tmp_path / "demo", count=3))


def leave_unsaved_work(dataset: Dataset, keys: list[str]) -> None:
    """What a window that crashed leaves behind: an autosave per image it had changed."""
    store = AutosaveStore.for_dataset(dataset)
    for key in keys:
        mask = np.ones((16, 16), np.uint8)
        store.save(key, mask, revision=3, labels=dataset.spec.labels, session="crashed-window")


def opened(pool: WorkerPool, dataset: Dataset, *, interactive: bool = False) -> tuple[SaveController, RecoveryController]:
    saving = SaveController(pool, interactive=False)
    saving.open_dataset(dataset)
    return saving, RecoveryController(saving, interactive=interactive)


def test_a_folder_with_unsaved_work_says_so_and_restore_brings_all_of_it_back(qtbot, pool, dataset) -> None:  # noqa: ANN001
    keys = [sample.key for sample in dataset.samples[:2]]
    leave_unsaved_work(dataset, keys)
    saving, recovery = opened(pool, dataset)
    with qtbot.waitSignal(recovery.found) as found:
        recovery.folder_opened()
    assert [entry.sample_key for entry in found.args[0]] == keys
    with qtbot.waitSignal(recovery.recovered) as recovered:
        recovery.resolve(RecoveryChoice.RESTORE)
    assert recovered.args == [keys[0]]  # the first image opens; the other's work waits for its image
    assert all(saving.unsaved_work(key) is not None for key in keys)
    saving.release_lock()


def test_discard_deletes_the_autosaves_and_keep_leaves_them(qtbot, pool, dataset) -> None:  # noqa: ANN001
    keys = [sample.key for sample in dataset.samples]
    leave_unsaved_work(dataset, keys)
    saving, recovery = opened(pool, dataset)
    with qtbot.assertNotEmitted(recovery.recovered), qtbot.assertNotEmitted(recovery.discarded):
        recovery.resolve(RecoveryChoice.KEEP)
    assert len(recovery.pending()) == len(keys)
    with qtbot.waitSignal(recovery.discarded) as discarded, qtbot.assertNotEmitted(recovery.recovered):
        recovery.resolve(RecoveryChoice.DISCARD)
    assert discarded.args == [len(keys)]
    assert recovery.pending() == []
    saving.release_lock()


def test_an_interactive_window_asks_once_at_the_next_turn(qtbot, pool, dataset, monkeypatch) -> None:  # noqa: ANN001
    key = dataset.samples[1].key
    leave_unsaved_work(dataset, [key])
    asked: list[str] = []

    def answer_yes(_parent, title, _text, _buttons):  # noqa: ANN001, ANN202
        asked.append(title)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    saving, recovery = opened(pool, dataset, interactive=True)
    with qtbot.waitSignal(recovery.recovered) as recovered:
        recovery.folder_opened()
        assert asked == []  # not while the folder is still opening
    assert recovered.args == [key] and asked == ["Recover unsaved work?"]
    saving.release_lock()


def test_a_read_only_window_offers_nothing(qtbot, pool, dataset) -> None:  # noqa: ANN001
    leave_unsaved_work(dataset, [dataset.samples[0].key])
    holder, _ = opened(pool, dataset)  # another window holds the folder: its autosaves are live work
    saving, recovery = opened(pool, dataset)
    assert saving.read_only_reason is not None
    with qtbot.assertNotEmitted(recovery.found):
        recovery.folder_opened()
    assert recovery.pending() == []
    holder.release_lock()


def test_nothing_is_recovered_without_an_open_folder(qtbot, pool, dataset) -> None:  # noqa: ANN001
    leave_unsaved_work(dataset, [dataset.samples[0].key])
    entry = AutosaveStore.for_dataset(dataset).pending()[0]
    recovery = RecoveryController(SaveController(pool, interactive=False), interactive=False)
    with qtbot.assertNotEmitted(recovery.recovered):
        recovery.recover(entry)
