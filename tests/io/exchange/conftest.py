"""Real masks for the exchange tests: a few CamVid class masks, Penn-Fudan instance masks and the VOC/COCO/labelme
example of ../shared/data (each fixture skips when the data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.core.labels import LabelSet
from segstudio.io.exchange import AnnotatedImage, Annotations, import_annotations
from segstudio.io.labelset_files import read_label_set
from segstudio.io.mask_files import read_class_mask, read_instance_mask

COUNT = 3


def _need(folder: Path) -> Path:
    if not folder.is_dir():
        pytest.skip(f"real data not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def example(shared_data: Path) -> Path:
    return _need(shared_data / "voc_coco_labelme_example")


@pytest.fixture(scope="session")
def example_labels(example: Path) -> LabelSet:
    return read_label_set(example / "labels.txt")


@pytest.fixture(scope="session")
def camvid(shared_data: Path) -> Annotations:
    folder = _need(shared_data / "camvid")
    labels = LabelSet.camvid()
    stems = sorted(p.stem for p in (folder / "trainannot").glob("*.png"))[:COUNT]
    return Annotations(labels, tuple(
        AnnotatedImage(s, read_class_mask(folder / "trainannot" / f"{s}.png", labels), None, folder / "train" / f"{s}.png")
        for s in stems
    ))  # fmt: skip


@pytest.fixture(scope="session")
def pennfudan(shared_data: Path) -> Annotations:
    folder = _need(shared_data / "pennfudan")
    images = []
    for path in sorted((folder / "PedMasks").glob("*.png"))[:COUNT]:
        stem = path.stem.removesuffix("_mask")
        instances = read_instance_mask(path)
        images.append(AnnotatedImage(stem, instances.to_class_mask(), instances, folder / "PNGImages" / f"{stem}.png"))
    return Annotations(LabelSet.from_names(["background", "person"]), tuple(images))


@pytest.fixture(scope="session")
def voc_example(example: Path, example_labels: LabelSet) -> Annotations:
    return import_annotations("voc", example / "voc", labels=example_labels)


def class_noise(height: int, width: int, classes: int, seed: int) -> np.ndarray:
    """Blobby random class masks with slivers, diagonal joints, islands in holes of other classes."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((height // 4 + 1, width // 4 + 1)), (width, height), interpolation=cv2.INTER_LINEAR)
    noise += 0.15 * rng.random((height, width))
    return np.minimum((noise * classes).astype(np.uint8), classes - 1)
