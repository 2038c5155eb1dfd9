"""Training samples: images and masks read through the files layer the caller hands in, augmented into crops.

Reading files is not this package's business: :class:`SampleReader` decodes through a :class:`SampleFiles`
(the app layer gives one backed by ``segstudio.io``), so the models layer never imports the io layer.

Every random choice for one crop comes from ``numpy.random.default_rng((seed, epoch, position))``: a crop is a
pure function of where it sits in an epoch, not of what ran before it. So runs with one seed are identical,
loader workers (any number) give the same crops as the main process, and a run resumed at an epoch boundary
(or mid-epoch) sees exactly the crops an uninterrupted run would have seen.

Targets are ``int64`` with :data:`IGNORE` (torch's cross-entropy default) wherever the dataset's ignore id is,
and wherever a crop is padded beyond the image, so the loss leaves those pixels out whether or not the label
set has an ignore id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.value_map import ValueMap
from segstudio.models.normalisation import InputNormalisation

IGNORE = -100  # target value the losses skip (torch.nn.functional.cross_entropy's default ignore_index)
_ORDER_STREAM = 0x5E9  # rng stream for an epoch's sample order, apart from the per-crop streams
DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to every training crop.

    Flips; a random scale in ``scale_range`` (image bilinear, mask nearest-neighbour) before cropping;
    brightness shift up to ``brightness`` and contrast factor within ``1 +- contrast`` (in ``[0, 1]`` units).
    """

    horizontal_flip: bool = True
    vertical_flip: bool = False
    scale_range: tuple[float, float] = (0.75, 1.25)
    brightness: float = 0.1
    contrast: float = 0.1

    def __post_init__(self) -> None:
        low, high = (float(v) for v in self.scale_range)
        if not (0 < low <= high):
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {self.scale_range}")
        if self.brightness < 0 or self.contrast < 0 or self.contrast >= 1:
            raise ValueError(
                f"brightness must be >= 0 and contrast in [0, 1), got {self.brightness} and {self.contrast}"
            )
        object.__setattr__(self, "scale_range", (low, high))
        object.__setattr__(self, "brightness", float(self.brightness))
        object.__setattr__(self, "contrast", float(self.contrast))

    @classmethod
    def none(cls) -> Augmentation:
        return cls(False, False, (1.0, 1.0), 0.0, 0.0)

    def to_mapping(self) -> dict[str, object]:
        return {
            "horizontal_flip": self.horizontal_flip,
            "vertical_flip": self.vertical_flip,
            "scale_range": list(self.scale_range),
            "brightness": self.brightness,
            "contrast": self.contrast,
        }

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> Augmentation:
        low, high = data.get("scale_range", (0.75, 1.25))  # type: ignore[misc]
        return cls(
            bool(data.get("horizontal_flip", True)),
            bool(data.get("vertical_flip", False)),
            (float(low), float(high)),
            float(data.get("brightness", 0.1)),  # type: ignore[arg-type]
            float(data.get("contrast", 0.1)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class TrainingSample:
    """One image and its ground-truth mask file, with what is needed to read the mask."""

    key: str
    image: Path
    mask: Path
    value_map: ValueMap | None = None
    split: str = ""


class SampleFiles(Protocol):
    """Reads a sample's files. Must pickle (loader worker processes get a copy): module-level functions do."""

    def read_image(self, path: Path) -> np.ndarray:
        """The image as ``(H, W)`` or ``(H, W, 3)``."""
        ...

    def read_class_mask(
        self, path: Path, labels: LabelSet, value_map: ValueMap | None, expected_size: tuple[int, int]
    ) -> np.ndarray:
        """Class ids (and the label set's ignore id) in the label set's mask dtype; an error names the file."""
        ...

    def read_instance_mask(self, path: Path) -> InstanceMask:
        ...


class SampleReader:
    """Decodes images and masks (class ids validated against the label set), keeping them while they fit a budget."""

    def __init__(self, labels: LabelSet, files: SampleFiles, *, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.labels = labels
        self.files = files
        self.cache_bytes = int(cache_bytes)
        self._cache: dict[tuple[str, str], np.ndarray | InstanceMask] = {}
        self._cached = 0

    def image(self, sample: TrainingSample) -> np.ndarray:
        return self._keep(("image", str(sample.image)), lambda: self.files.read_image(sample.image))  # type: ignore[return-value]

    def class_mask(self, sample: TrainingSample) -> np.ndarray:
        """Class ids (and the label set's ignore id) as the label set's mask dtype, checked against the image size."""

        def read() -> np.ndarray:
            image = self.image(sample)
            size = (image.shape[1], image.shape[0])
            return self.files.read_class_mask(sample.mask, self.labels, sample.value_map, size)

        return self._keep(("mask", str(sample.mask)), read)  # type: ignore[return-value]

    def instance_mask(self, sample: TrainingSample) -> InstanceMask:
        return self._keep(("instances", str(sample.mask)), lambda: self.files.read_instance_mask(sample.mask))  # type: ignore[return-value]

    def _keep(self, key: tuple[str, str], read):  # type: ignore[no-untyped-def]
        found = self._cache.get(key)
        if found is not None:
            return found
        value = read()
        size = value.ids.nbytes if isinstance(value, InstanceMask) else value.nbytes
        if self._cached + size <= self.cache_bytes:
            self._cache[key] = value
            self._cached += size
        return value


def targets_from_class_mask(mask: np.ndarray, ignore_index: int | None) -> np.ndarray:
    """``int64`` training targets: class ids kept, the ignore id -> :data:`IGNORE`."""
    target = mask.astype(np.int64)
    if ignore_index is not None:
        target[mask == ignore_index] = IGNORE
    return target


def epoch_order(count: int, samples: int, seed: int, epoch: int) -> np.ndarray:
    """Which sample each of an epoch's ``samples`` positions shows: shuffled passes over ``count`` samples."""
    rng = np.random.default_rng((seed, epoch, _ORDER_STREAM))
    passes = math.ceil(samples / count)
    return np.concatenate([rng.permutation(count) for _ in range(passes)])[:samples]


def crop_rng(seed: int, epoch: int, position: int) -> np.random.Generator:
    return np.random.default_rng((seed, epoch, position))


class _EpochOrder(TorchDataset):
    """An epoch's positions over the training samples, seeded by (seed, epoch): what makes runs repeatable
    and resumable. ``start`` > 0 resumes an epoch part-way."""

    def __init__(
        self,
        samples: Sequence[TrainingSample],
        reader: SampleReader,
        normalisation: InputNormalisation,
        augmentation: Augmentation,
        seed: int,
        samples_per_epoch: int | None,
    ) -> None:
        if not samples:
            raise ValueError("no training samples")
        self.samples = tuple(samples)
        self.reader = reader
        self.normalisation = normalisation
        self.augmentation = augmentation
        self.seed = int(seed)
        self.samples_per_epoch = int(samples_per_epoch or len(self.samples))
        self.epoch = 0
        self.start = 0
        self._order = epoch_order(len(self.samples), self.samples_per_epoch, self.seed, 0)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Show ``epoch``'s items from position ``start`` on."""
        self.epoch = int(epoch)
        self.start = int(start)
        self._order = epoch_order(len(self.samples), self.samples_per_epoch, self.seed, self.epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch - self.start

    def _at(self, index: int) -> tuple[int, TrainingSample]:
        position = self.start + int(index)
        return position, self.samples[int(self._order[position])]


class SemanticCrops(_EpochOrder):
    """An epoch of augmented ``crop_size`` crops: ``(image (C, S, S) float32, target (S, S) int64)`` per position."""

    def __init__(
        self,
        samples: Sequence[TrainingSample],
        reader: SampleReader,
        normalisation: InputNormalisation,
        *,
        crop_size: int,
        augmentation: Augmentation,
        seed: int,
        samples_per_epoch: int | None = None,
    ) -> None:
        super().__init__(samples, reader, normalisation, augmentation, seed, samples_per_epoch)
        self.crop_size = int(crop_size)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        position, sample = self._at(index)
        image = self.reader.image(sample)
        target = targets_from_class_mask(self.reader.class_mask(sample), self.reader.labels.ignore_index)
        rng = crop_rng(self.seed, self.epoch, position)
        pixels, labels = augment_crop(self.normalisation.to_unit(image), target, self.crop_size, self.augmentation, rng)
        return torch.from_numpy(self.normalisation.normalise_unit(pixels)), torch.from_numpy(labels)


def augment_crop(
    unit: np.ndarray, target: np.ndarray, crop: int, augmentation: Augmentation, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Scale, crop, flip and colour-jitter one ``(H, W, C)`` ``[0, 1]`` image and its ``(H, W)`` int64 targets.

    Returns a ``(crop, crop, C)`` float32 image and ``(crop, crop)`` targets; where the (scaled) image is smaller
    than the crop the rest is padded: image 0 (later the channel mean), targets :data:`IGNORE`. The random draws
    happen in a fixed order whatever the options, so changing one option does not reshuffle the others.
    """
    height, width, channels = unit.shape
    low, high = augmentation.scale_range
    draws = rng.random(8)
    scale = low + (high - low) * draws[0]
    # the source window that becomes (at most) crop x crop after scaling
    src_h = min(height, max(1, math.ceil(crop / scale)))
    src_w = min(width, max(1, math.ceil(crop / scale)))
    y0 = int(draws[1] * (height - src_h + 1)) if height > src_h else 0
    x0 = int(draws[2] * (width - src_w + 1)) if width > src_w else 0
    out_h = min(crop, max(1, round(src_h * scale)))
    out_w = min(crop, max(1, round(src_w * scale)))
    pixels = unit[y0 : y0 + src_h, x0 : x0 + src_w]
    labels = target[y0 : y0 + src_h, x0 : x0 + src_w]
    if (out_h, out_w) != (src_h, src_w):
        pixels = cv2.resize(pixels, (out_w, out_h), interpolation=cv2.INTER_LINEAR).reshape(out_h, out_w, channels)
        labels = labels[_nearest(src_h, out_h)][:, _nearest(src_w, out_w)]
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    pixels, labels = jitter_and_flip(pixels, labels, augmentation, draws[3:7])
    out_pixels = np.zeros((crop, crop, channels), dtype=np.float32)
    out_labels = np.full((crop, crop), IGNORE, dtype=np.int64)
    top = int(draws[7] * (crop - out_h + 1)) if out_h < crop else 0
    left = int(draws[7] * (crop - out_w + 1)) if out_w < crop else 0
    out_pixels[top : top + out_h, left : left + out_w] = pixels
    out_labels[top : top + out_h, left : left + out_w] = labels
    return out_pixels, out_labels


def jitter_and_flip(
    pixels: np.ndarray, labels: np.ndarray, augmentation: Augmentation, draws: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Contrast/brightness jitter of ``pixels`` and the same random flips of both, from four uniform ``draws``."""
    if augmentation.contrast or augmentation.brightness:
        factor = 1.0 + augmentation.contrast * (2.0 * draws[0] - 1.0)
        shift = augmentation.brightness * (2.0 * draws[1] - 1.0)
        mean = pixels.mean(axis=(0, 1), keepdims=True)
        pixels = (pixels - mean) * np.float32(factor) + mean + np.float32(shift)
    if augmentation.horizontal_flip and draws[2] < 0.5:
        pixels, labels = pixels[:, ::-1], labels[:, ::-1]
    if augmentation.vertical_flip and draws[3] < 0.5:
        pixels, labels = pixels[::-1], labels[::-1]
    return pixels, labels


def _nearest(source: int, size: int) -> np.ndarray:
    """Source indices of nearest-neighbour resampling from ``source`` to ``size`` samples (pixel centres aligned)."""
    return np.minimum(((np.arange(size) + 0.5) * (source / size)).astype(np.int64), source - 1)


class InstanceImages(_EpochOrder):
    """Whole images with their instance masks for detection training: ``(image (C, H, W) float32, InstanceMask)``.

    Augmentation: horizontal (and optionally vertical) flips and brightness/contrast; torchvision's detection
    models resize images themselves.
    """

    def __init__(
        self,
        samples: Sequence[TrainingSample],
        reader: SampleReader,
        normalisation: InputNormalisation,
        *,
        augmentation: Augmentation,
        seed: int,
        samples_per_epoch: int | None = None,
    ) -> None:
        super().__init__(samples, reader, normalisation, augmentation, seed, samples_per_epoch)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, InstanceMask]:
        position, sample = self._at(index)
        unit = self.normalisation.to_unit(self.reader.image(sample))
        instances = self.reader.instance_mask(sample)
        if instances.shape != unit.shape[:2]:
            raise ValueError(f"{sample.mask}: instance mask is {instances.shape} but its image is {unit.shape[:2]}")
        ids = instances.ids
        draws = crop_rng(self.seed, self.epoch, position).random(4)
        augmentation = self.augmentation
        unit, ids = jitter_and_flip(unit, ids, augmentation, draws)
        flipped = InstanceMask(np.ascontiguousarray(ids), instances.classes)
        pixels = self.normalisation.normalise_unit(np.ascontiguousarray(unit, dtype=np.float32))
        return torch.from_numpy(pixels), flipped


def collate_instances(batch: list[tuple[torch.Tensor, InstanceMask]]) -> tuple[list[torch.Tensor], list[InstanceMask]]:
    """Detection batches are lists: images differ in size."""
    return [item[0] for item in batch], [item[1] for item in batch]
