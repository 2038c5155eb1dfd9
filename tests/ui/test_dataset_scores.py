"""The dataset-scores controller through its public signals: rows for the file list, then the dataset's result."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.core.metrics import confusion_matrix
from segstudio.io.datasets import open_dataset
from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.io.mask_files import read_class_mask
from segstudio.ui.dataset_scores import DatasetScoresController
from segstudio.ui.workers import WorkerPool


def test_scores_arrive_as_rows_then_as_the_dataset_result(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    dataset = open_dataset(write_demo_dataset(tmp_path / "demo", count=3))
    pool = WorkerPool()
    scores = DatasetScoresController(pool)
    rows: dict[str, tuple[float | None, float | None]] = {}
    scores.image_scores.connect(rows.update)
    started: list[int] = []
    scores.started.connect(started.append)
    scores.open_dataset(dataset)
    with qtbot.waitSignal(scores.dataset_scored, timeout=30000) as done:
        scores.score_dataset({})
    result = done.args[0]
    assert started == [3] and not scores.running
    assert set(rows) == {s.key for s in dataset.samples} == set(result.per_image)
    sample = dataset.samples[0]
    labels = dataset.spec.labels
    truth = read_class_mask(dataset.ground_truth(sample), labels)
    prediction = read_class_mask(next(iter(dataset.predictions(sample).values())), labels)
    np.testing.assert_array_equal(result.per_image[sample.key].confusion,
                                  confusion_matrix(truth, prediction, labels.num_classes, labels.ignore_index))

    moved = np.roll(prediction, 5, axis=1)  # one image's prediction changes: its row and the dataset follow
    one: list[tuple[str, float | None, float | None]] = []
    scores.image_score.connect(lambda *args: one.append(args))
    with qtbot.waitSignal(scores.dataset_scored, timeout=30000):
        scores.score_image(sample.key, moved, truth)
    (key, iou, _dice), = one
    assert key == sample.key and iou is not None and iou != rows[sample.key][0]
    pool.shutdown(5000)
