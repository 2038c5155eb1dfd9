"""Training on a dataset folder: the app layer hands the models layer the samples that suit the task."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.app.training import DatasetFiles, train, training_data
from segstudio.io.datasets import open_dataset
from segstudio.models.registry import Task
from segstudio.models.training import TrainingConfig


def _penn_fudan_like(root: Path, shared_data: Path, count: int = 2) -> Path:
    source = shared_data / "pennfudan"
    if not (source / "PNGImages").is_dir():
        pytest.skip("Penn-Fudan is not in the shared data")
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for image_path in sorted((source / "PNGImages").glob("*.png"))[:count]:
        mask_name = f"{image_path.stem}_mask.png"
        image = cv2.imread(str(image_path))
        mask = cv2.imread(str(source / "PedMasks" / mask_name), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(root / "PNGImages" / image_path.name), cv2.resize(image, (80, 60), interpolation=cv2.INTER_AREA))
        cv2.imwrite(str(root / "PedMasks" / mask_name), cv2.resize(mask, (80, 60), interpolation=cv2.INTER_NEAREST))
    return root


def test_instance_ground_truth_is_handed_to_instance_models_only(shared_data: Path, tmp_path: Path) -> None:
    dataset = open_dataset(_penn_fudan_like(tmp_path / "pf", shared_data))
    data = training_data(dataset, Task.INSTANCE)
    assert [s.key for s in data.samples] == [s.key for s in dataset.samples]
    assert all(s.mask == dataset.ground_truth(dataset.sample(s.key)) for s in data.samples)
    assert data.labels == dataset.spec.labels and data.source == str(dataset.root)
    with pytest.raises(ValueError, match="has semantic ground truth; instance masks train Mask R-CNN, not a semantic model"):
        training_data(dataset, Task.SEMANTIC)


def test_a_semantic_model_on_instance_masks_is_refused_before_anything_is_written(shared_data: Path, tmp_path: Path) -> None:
    folder = _penn_fudan_like(tmp_path / "pf", shared_data)
    out = tmp_path / "model.safetensors"
    config = TrainingConfig(architecture="unet", encoder="classic", options={"base_channels": 4}, epochs=1)
    with pytest.raises(ValueError, match="instance masks train Mask R-CNN"):
        train(folder, config, out)
    assert not out.exists()


def test_the_files_reader_survives_the_trip_to_a_loader_worker(shared_data: Path, tmp_path: Path) -> None:
    """Loader worker processes get a pickled copy of the reader; it must read the same pixels there."""
    dataset = open_dataset(_penn_fudan_like(tmp_path / "pf", shared_data, count=1))
    sample = training_data(dataset, Task.INSTANCE).samples[0]
    copy = pickle.loads(pickle.dumps(DatasetFiles()))
    assert np.array_equal(copy.read_image(sample.image), DatasetFiles().read_image(sample.image))
    instances = copy.read_instance_mask(sample.mask)
    assert instances.ids.shape == (60, 80) and len(instances.classes) >= 1
