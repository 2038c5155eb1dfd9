"""Saving one image's work (the window's "save" job): written, or a conflict that writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.app.saving import SaveRequest, save_work
from segstudio.io.corrections import SavedWork
from segstudio.io.datasets import open_dataset
from segstudio.io.demo_dataset import DEMO_LABELS, write_demo_dataset
from segstudio.io.file_state import FileState
from segstudio.io.mask_files import read_class_mask, write_class_mask


def test_a_correction_is_written_and_its_state_returned(tmp_path: Path) -> None:
    dataset = open_dataset(write_demo_dataset(tmp_path / "demo", count=2))
    sample = dataset.samples[0]
    truth = read_class_mask(dataset.ground_truth(sample), DEMO_LABELS)
    mask = truth.copy()
    mask[:5, :5] = 1
    outcome = save_work(SaveRequest(dataset, sample, mask, DEMO_LABELS, SavedWork("s", 3), None))
    assert outcome.path is not None and outcome.conflict is None and outcome.revision == 3
    assert np.array_equal(read_class_mask(outcome.path, DEMO_LABELS), mask)
    assert outcome.state == FileState.of(outcome.path)


def test_ground_truth_changed_by_somebody_else_is_a_conflict_and_nothing_is_written(tmp_path: Path) -> None:
    dataset = open_dataset(write_demo_dataset(tmp_path / "demo", count=2))
    sample = dataset.samples[0]
    truth_path = dataset.ground_truth(sample)
    read_state = FileState.of(truth_path)
    theirs = read_class_mask(truth_path, DEMO_LABELS).copy()
    theirs[-3:, -3:] = 2
    write_class_mask(truth_path, theirs, DEMO_LABELS)  # written elsewhere after this window read it
    before = truth_path.read_bytes()
    ours = np.zeros_like(theirs)
    outcome = save_work(SaveRequest(dataset, sample, ours, DEMO_LABELS, SavedWork("s", 1), read_state, ground_truth=True))
    assert outcome.conflict is not None and outcome.path is None
    assert truth_path.read_bytes() == before
