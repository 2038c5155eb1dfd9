from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import FileProblem
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


def test_isbi_foreign_predictions_are_shown_resized_and_thresholded_with_notes(shared_data: Path) -> None:
    """ISBI's shipped 256 px 16-bit probability maps of 512 px slices: the image opens and the prediction is
    shown at the image's size, nearest neighbour, and the notes say both what was resized and how it was read."""
    dataset = open_dataset(shared_data / "isbi2012")
    sample = dataset.sample("test/images/3")
    loaded = load_sample(dataset, sample)
    prediction = loaded.session.prediction
    assert prediction is not None and prediction.shape == (512, 512)
    assert loaded.session.ground_truth is None  # the test slices have none
    resized, thresholded = loaded.notes
    assert resized == "prediction resized from 256x256 to 512x512 (nearest neighbour): 3_predict.png"
    assert "probability map" in thresholded and "below 32,768 shown as foreground" in thresholded
    # Nearest neighbour: every stored pixel became a 2x2 block, and the low (membrane-like) values are the
    # foreground, as ISBI's ground truth stores its membrane as 0.
    raw = np.array(Image.open(dataset.predictions(sample)["test:foreign_predictions_16bit_256px"]))
    expected = np.where(raw < 32768, 1, 0)
    assert np.array_equal(prediction, np.kron(expected, np.ones((2, 2), int)))
    assert 0.1 < prediction.mean() < 0.4  # a membrane share like the ground truth's, not inverted


def test_an_unusable_prediction_is_left_out_with_a_reason(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "predictions").mkdir()
    shutil.copy(shared_data / "isbi2012" / "train" / "images" / "0.png", root / "images" / "0.png")
    (root / "predictions" / "0.png").write_bytes(b"not a png at all")
    dataset = open_dataset(root)
    loaded = load_sample(dataset, dataset.sample("images/0"))
    assert loaded.session.prediction is None
    [note] = loaded.notes
    assert note.startswith("prediction not shown:") and "0.png" in note


def test_ground_truth_of_another_size_is_refused_not_resized(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    source = shared_data / "isbi2012" / "train"
    for name in ("0", "1"):
        shutil.copy(source / "images" / f"{name}.png", root / "images" / f"{name}.png")
        shutil.copy(source / "masks" / f"{name}.png", root / "masks" / f"{name}.png")
    small = Image.open(source / "masks" / "1.png").resize((256, 256), Image.Resampling.NEAREST)
    small.save(root / "masks" / "1.png")
    dataset = open_dataset(root)
    assert load_sample(dataset, dataset.sample("images/0")).session.ground_truth is not None
    with pytest.raises(FileProblem) as caught:
        load_sample(dataset, dataset.sample("images/1"))
    text = str(caught.value)
    assert "1.png" in text and "256x256" in text and "512x512" in text and "never resized" in text
