"""Training on a dataset folder: the app layer hands the models layer the samples that suit the task."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from segstudio.app.training import DatasetFiles, train, training_data
from segstudio.io.datasets import open_dataset
from segstudio.models.registry import Task
from segstudio.models.training import TrainingConfig
from tests.real_data import pennfudan_copy


def _penn_fudan_like(root: Path, shared_data: Path, count: int = 2) -> Path:
    return pennfudan_copy(shared_data, root, count=count, size=(80, 60))


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
