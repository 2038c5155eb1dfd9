"""What a score is of (issue 10 item 2): the model that wrote an image's prediction, or the dataset's prediction
folder, named per image and for the whole list; and the dataset line the window and ``segstudio demo`` share."""

from __future__ import annotations

from pathlib import Path

from segstudio.app.project_predictions import prediction_path
from segstudio.app.score_sources import dataset_line, score_sources
from segstudio.app.scoring import score_dataset
from segstudio.io.datasets import open_dataset
from segstudio.io.demo_dataset import write_demo_dataset


def test_model_predictions_win_and_each_image_names_its_source(tmp_path: Path) -> None:
    dataset = open_dataset(write_demo_dataset(tmp_path / "demo", count=3))
    keys = [sample.key for sample in dataset.samples]
    assert "/" in keys[0]  # images/scene_000: the model is named by its folder, not the key's
    folder_only = score_sources(dataset, {})
    assert folder_only.overall == "predictions/ folder"
    assert set(folder_only.per_image.values()) == {"predictions/ folder"}
    written = {key: prediction_path(dataset, "demo-model", dataset.sample(key)) for key in keys}
    assert score_sources(dataset, written).overall == "model demo-model"
    mixed = score_sources(dataset, {keys[0]: written[keys[0]]}, {"predictions": "the synthetic masks"})
    assert mixed.per_image[keys[0]] == "model demo-model" and mixed.per_image[keys[1]] == "the synthetic masks"
    assert mixed.overall == "the synthetic masks (2 images), model demo-model (1 image)"


def test_the_dataset_line_names_what_was_scored(tmp_path: Path) -> None:
    dataset = open_dataset(write_demo_dataset(tmp_path / "demo", count=2))
    result = score_dataset(dataset)
    line = dataset_line(result.scores, 2, 2, "predictions/ folder")
    assert line.startswith("dataset (predictions/ folder vs truth, 2 of 2 images): accumulated mean IoU 0.")
    assert dataset_line(None, 0, 2, "model m", running=True) == "dataset (model m vs truth) (computing...)"
    assert dataset_line(None, 0, 2).endswith("n/a (no image has both ground truth and a prediction)")
