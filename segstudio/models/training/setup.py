"""What a run starts from: the samples it is handed, split into training and validation, and the model's setup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from segstudio.core.labels import LabelSet
from segstudio.models.normalisation import InputNormalisation, image_channels
from segstudio.models.registry import ModelConfig, Task
from segstudio.models.training.config import TrainingConfig
from segstudio.models.training.samples import SampleFiles, SampleReader, TrainingSample

_STATISTICS_IMAGES = 32  # training images read to estimate the input mean/std
_VALIDATION_SPLITS = ("val", "validation", "valid", "test")


@dataclass(frozen=True)
class TrainingData:
    """What a run trains on: the label set, every sample whose ground truth suits the task, how to read them.

    ``source`` says where the samples come from (a folder), for messages. The app layer builds this from a
    dataset folder (:func:`segstudio.app.training.training_data`).
    """

    labels: LabelSet
    samples: tuple[TrainingSample, ...]
    files: SampleFiles
    source: str = ""


@dataclass
class RunSetup:
    task: Task
    labels: LabelSet
    model_config: ModelConfig
    normalisation: InputNormalisation
    train: tuple[TrainingSample, ...]
    val: tuple[TrainingSample, ...]
    reader: SampleReader
    notes: list[str]
    initial: Any = None  # the LoadedModel to fine-tune from


def prepare(data: TrainingData, config: TrainingConfig, task: Task, saved: Mapping[str, Any] | None) -> RunSetup:
    """Split the samples, fix the model's configuration and input normalisation, load weights to fine-tune from."""
    labels = data.labels
    if task is Task.SEMANTIC and labels.num_classes < 2:
        raise ValueError("the dataset's label set has a single class: there is nothing to tell apart")
    usable = data.samples
    if not usable:
        kind = "instance" if task is Task.INSTANCE else "semantic"
        raise ValueError(f"no image in {data.source or 'the training data'} has {kind} ground truth")
    notes: list[str] = []
    if saved is not None:
        by_key = {s.key: s for s in usable}
        missing = [k for k in (*saved["train_keys"], *saved["val_keys"]) if k not in by_key]
        if missing:
            raise ValueError(f"cannot resume: {len(missing)} image(s) of the run are gone from the dataset, e.g. {missing[0]}")
        train_samples = tuple(by_key[k] for k in saved["train_keys"])
        val_samples = tuple(by_key[k] for k in saved["val_keys"])
    else:
        train_samples, val_samples = split_samples(usable, config, notes)
    reader = SampleReader(labels, data.files)
    initial = None
    if saved is not None:
        model_config = ModelConfig.from_mapping(saved["model_config"])
        normalisation = InputNormalisation.from_mapping(saved["normalisation"])
    else:
        channels = config.in_channels or _infer_channels(train_samples, reader)
        model_config = ModelConfig(config.architecture, labels.num_classes, channels, config.encoder, dict(config.options))
        if config.initial_weights:
            initial, loaded_notes = load_initial_weights(Path(config.initial_weights), model_config, labels)
            notes.extend(loaded_notes)
        if config.normalisation is not None:
            normalisation = config.normalisation
        elif initial is not None:  # pretrained features expect the input they were trained on
            normalisation = initial.meta.normalisation
        elif task is Task.INSTANCE:
            normalisation = InputNormalisation.unit(channels)
        else:
            normalisation = _statistics(train_samples, reader, channels)
        if normalisation.channels != channels:
            raise ValueError(f"the input normalisation is for {normalisation.channels} channels but the model takes {channels}")
    return RunSetup(task, labels, model_config, normalisation, train_samples, val_samples, reader, notes, initial)


def split_samples(
    usable: tuple[TrainingSample, ...], config: TrainingConfig, notes: list[str]
) -> tuple[tuple[TrainingSample, ...], tuple[TrainingSample, ...]]:
    splits = {s.key: s.split for s in usable}
    if config.val_split is not None:
        val = tuple(s for s in usable if splits[s.key] == config.val_split)
        if not val:
            raise ValueError(f"no image with ground truth in split {config.val_split!r}")
    else:
        val = ()
        for name in _VALIDATION_SPLITS:
            candidate = tuple(s for s in usable if splits[s.key] == name)
            if candidate and len(candidate) < len(usable):
                val = candidate
                notes.append(f"validation: the dataset's {name!r} split ({len(val)} images)")
                break
    if val:
        val_keys = {s.key for s in val}
        rest = tuple(s for s in usable if s.key not in val_keys)
        train = tuple(s for s in rest if splits[s.key] == config.train_split) if config.train_split else rest
        if not train:
            raise ValueError(f"no training images with ground truth left (train split {config.train_split!r})")
        return train, val
    pool = tuple(s for s in usable if splits[s.key] == config.train_split) if config.train_split else usable
    if not pool:
        raise ValueError(f"no image with ground truth in split {config.train_split!r}")
    count = round(len(pool) * config.val_fraction)
    if count == 0 and config.val_fraction > 0 and len(pool) >= 2:
        count = 1
    if count == 0:
        notes.append("validation uses the training images themselves (too few images, or val_fraction 0)")
        return pool, pool
    order = np.random.default_rng(config.seed).permutation(len(pool))
    val = tuple(pool[i] for i in sorted(order[:count]))
    train = tuple(pool[i] for i in sorted(order[count:]))
    notes.append(f"validation: a random {len(val)} of {len(pool)} images (seed {config.seed})")
    return train, val


def _infer_channels(samples: Sequence[TrainingSample], reader: SampleReader) -> int:
    """1 when every one of the first few training images is grey, else 3."""
    return 3 if any(image_channels(reader.image(s)) == 3 for s in samples[:8]) else 1


def _statistics(samples: Sequence[TrainingSample], reader: SampleReader, channels: int) -> InputNormalisation:
    step = max(1, len(samples) // _STATISTICS_IMAGES)
    chosen = samples[::step][:_STATISTICS_IMAGES]
    return InputNormalisation.from_images((reader.image(s) for s in chosen), channels)


def load_initial_weights(path: Path, model_config: ModelConfig, labels: LabelSet) -> tuple[Any, list[str]]:
    """The checkpoint (or foreign weights file) to fine-tune from, fitted to ``model_config``; and notes."""
    from segstudio.models.checkpoints import load_weights_file

    loaded = load_weights_file(path, config=model_config, labels=labels, replace_heads=True)
    notes = [f"fine-tuning from {path.name}", *loaded.notes]
    return loaded, notes


def copy_matching_weights(model: nn.Module, source: nn.Module) -> list[str]:
    own = model.state_dict()
    weights = source.state_dict()
    matching = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matching, strict=False)
    fresh = sorted(k for k in set(own) - set(matching) if not k.endswith("num_batches_tracked"))
    if not fresh:
        return []
    shown = ", ".join(fresh[:6]) + (f" and {len(fresh) - 6} more" if len(fresh) > 6 else "")
    return [f"left at random initialisation: {shown}"]
