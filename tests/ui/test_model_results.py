"""When the model's scores are counted and where they show (ModelResults), with the real prediction and scores
controllers on the demo folder (its synthetic predictions are the model's here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from segstudio.io.datasets import Dataset, open_dataset
from segstudio.io.demo_dataset import write_demo_dataset
from segstudio.ui.dataset_scores import DatasetScoresController
from segstudio.ui.file_list import FileList
from segstudio.ui.metrics_panel import MetricsPanel
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.model_results import ModelResults
from segstudio.ui.predictions import PredictionController
from segstudio.app.sample_loader import load_sample
from segstudio.ui.workers import WorkerPool


@pytest.fixture
def pool(qtbot) -> Iterator[WorkerPool]:  # noqa: ANN001
    workers = WorkerPool()
    yield workers
    workers.shutdown(5000)


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return open_dataset(write_demo_dataset(tmp_path / "demo", count=2))


def parts(qtbot, pool: WorkerPool, dataset: Dataset):  # noqa: ANN001, ANN201
    model_panel, metrics, files = ModelPanel(pool), MetricsPanel(), FileList()
    for widget in (model_panel, metrics, files):
        qtbot.addWidget(widget)
    files.set_dataset(dataset)
    scores = DatasetScoresController(pool)
    results = ModelResults(PredictionController(pool, model_panel), scores, metrics, files.model)
    return results, scores, metrics, files


def test_the_folder_is_scored_once_its_first_image_is_in(qtbot, pool, dataset) -> None:  # noqa: ANN001
    results, scores, metrics, files = parts(qtbot, pool, dataset)
    with qtbot.assertNotEmitted(scores.started, wait=50):
        results.open_dataset(dataset, None, image_coming=True)  # the image comes first
    with qtbot.waitSignal(results.dataset_scored, timeout=20000) as scored:
        results.image_failed()  # the image could not be read: the folder's scores start all the same
    assert scored.args[0].total == len(dataset.samples)
    iou, dice = files.model.score(dataset.samples[0].key)
    assert iou is not None and dice is not None
    assert "n/a" not in metrics.dataset_line.text()


def test_without_an_image_the_folder_is_scored_now_and_the_shown_image_alone_later(qtbot, pool, dataset) -> None:  # noqa: ANN001
    results, scores, _metrics, _files = parts(qtbot, pool, dataset)
    with qtbot.waitSignal(results.dataset_scored, timeout=20000):
        results.open_dataset(dataset, None, image_coming=False)
    sample = dataset.samples[1]
    session = load_sample(dataset, sample).session
    assert session.prediction is not None and session.ground_truth is not None
    results.show(sample.key, session)
    with qtbot.waitSignal(scores.image_score, timeout=20000) as scored:
        results.score_shown_image()
    assert scored.args[0] == sample.key
