"""Training on a dataset folder: the folder opened as a project, its ground truth handed to the models layer.

The models layer trains on samples it is handed and reads their files through :class:`DatasetFiles` (backed by
``segstudio.io``), so one use case serves ``segstudio train``, the demo's model and the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, ProgressCallback
from segstudio.core.value_map import ValueMap
from segstudio.io.dataset_spec import MaskKind
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.io.images import read_image
from segstudio.io.mask_files import read_class_mask, read_instance_mask
from segstudio.models.registry import Task, get_architecture
from segstudio.models.training import TrainingConfig, TrainingData, TrainingResult, TrainingSample
from segstudio.models.training import train as train_on_samples
from segstudio.models.training.distributed import SINGLE, Ranks


@dataclass(frozen=True)
class DatasetFiles:
    """Reads training samples with the io layer's readers: EXIF-upright images, masks through their value map."""

    def read_image(self, path: Path) -> np.ndarray:
        return read_image(path)

    def read_class_mask(
        self, path: Path, labels: LabelSet, value_map: ValueMap | None, expected_size: tuple[int, int]
    ) -> np.ndarray:
        return read_class_mask(path, labels, value_map=value_map, expected_size=expected_size)

    def read_instance_mask(self, path: Path) -> InstanceMask:
        return read_instance_mask(path)


def training_data(dataset: Dataset, task: Task) -> TrainingData:
    """Every sample of ``dataset`` whose ground truth is of the kind ``task`` trains on.

    Raises ``ValueError`` saying what is missing when there is none (for example instance masks for a semantic
    model).
    """
    kind = MaskKind.INSTANCE if task is Task.INSTANCE else MaskKind.SEMANTIC
    found = []
    for sample in dataset.samples:
        source = dataset.ground_truth_source(sample)
        mask = dataset.ground_truth(sample)
        if source is None or mask is None or source.kind is not kind:
            continue
        found.append(TrainingSample(sample.key, sample.image, mask, source.value_map, sample.split))
    if not found:
        hint = (
            "instance masks train Mask R-CNN, not a semantic model"
            if kind is MaskKind.SEMANTIC
            else "Mask R-CNN needs instance masks"
        )
        raise ValueError(f"no image in {dataset.root} has {kind.value} ground truth; {hint}")
    return TrainingData(dataset.spec.labels, tuple(found), DatasetFiles(), str(dataset.root))


def train(
    dataset: Dataset | str | Path,
    config: TrainingConfig,
    out: str | Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    resume: bool = False,
    ranks: Ranks = SINGLE,
) -> TrainingResult:
    """Train ``config.architecture`` on a dataset folder (or an opened :class:`Dataset`); best model -> ``out``.

    See :func:`segstudio.models.training.train` for the run itself, resuming and several processes included.
    """
    if not isinstance(config, TrainingConfig):
        raise ValueError(f"config must be a TrainingConfig, got {type(config).__name__}")
    # only the main process may write the folder's project file when it has none
    opened = dataset if isinstance(dataset, Dataset) else open_dataset(dataset, save_project=ranks.main)
    data = training_data(opened, get_architecture(config.architecture).task)
    return train_on_samples(data, config, out, progress=progress, cancel=cancel, resume=resume, ranks=ranks)
