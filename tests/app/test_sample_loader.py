from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.io.datasets import open_dataset
from segstudio.app.sample_loader import load_sample


def test_instance_ground_truth_opens_as_classes(shared_data: Path) -> None:
    dataset = open_dataset(shared_data / "pennfudan")
    sample = dataset.sample("FudanPed00004")
    raw = np.array(Image.open(dataset.ground_truth(sample)))
    assert raw.max() >= 2, "this image has several pedestrians"
    loaded = load_sample(dataset, sample)
    truth = loaded.session.ground_truth
    assert truth is not None
    assert np.array_equal(truth == 1, raw > 0)  # every pedestrian is of class 1 ("object")
    assert not loaded.notes


def test_an_unusable_prediction_is_left_out_with_a_reason(shared_data: Path) -> None:
    dataset = open_dataset(shared_data / "isbi2012")
    loaded = load_sample(dataset, dataset.sample("test/images/3"))
    assert loaded.session.prediction is None
    assert loaded.session.ground_truth is None
    [note] = loaded.notes
    assert "3_predict.png" in note and "256x256" in note
