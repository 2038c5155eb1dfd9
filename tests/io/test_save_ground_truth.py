"""Save as ground truth: the working mask written over the truth file, in the file's own convention."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.io.corrections import ground_truth_backup_path, save_as_ground_truth
from segstudio.io.dataset_spec import MaskSource
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.core.errors import FileProblem
from segstudio.core.value_map import ValueMap
from segstudio.io.mask_files import read_class_mask, read_raw_mask


def _copy(shared_data: Path, tmp_path: Path, name: str, pairs: list[tuple[str, str]]) -> Path:
    source = shared_data / name
    if not source.is_dir():
        pytest.skip(f"{name} not found under {shared_data}")
    root = tmp_path / name
    for folder, stem in pairs:
        for path in sorted((source / folder).glob(f"{stem}.*")):
            (root / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / folder / path.name)
    return root


def _read_truth(dataset: Dataset, key: str) -> np.ndarray:
    sample = dataset.sample(key)
    source = dataset.ground_truth_source(sample)
    assert source is not None
    return read_class_mask(dataset.ground_truth(sample), dataset.spec.labels, value_map=source.value_map)  # type: ignore[arg-type]


def _edit(mask: np.ndarray, labels_count: int) -> np.ndarray:
    edited = mask.copy()
    height, width = edited.shape
    edited[: height // 3, : width // 3] = 1 % labels_count
    edited[-10:, -10:] = 0
    return edited


def _roundtrip(root: Path, key: str, mode: str) -> None:
    dataset = open_dataset(root)
    sample = dataset.sample(key)
    truth_path = dataset.ground_truth(sample)
    assert truth_path is not None
    original = truth_path.read_bytes()
    before_raw = read_raw_mask(truth_path)
    assert before_raw.mode == mode
    working = _edit(_read_truth(dataset, key), dataset.spec.labels.num_classes)

    assert save_as_ground_truth(dataset, sample, working, dataset.spec.labels) == truth_path

    after_raw = read_raw_mask(truth_path)
    assert after_raw.mode == mode
    if before_raw.palette is not None:
        assert np.array_equal(after_raw.palette, before_raw.palette)
    reopened = open_dataset(root)
    assert np.array_equal(_read_truth(reopened, key), working)
    backup = ground_truth_backup_path(dataset, sample)
    assert backup is not None and backup.read_bytes() == original

    # A second save keeps the first backup (the original), not the first save's output.
    save_as_ground_truth(dataset, sample, _edit(working, 1) * 0, dataset.spec.labels)
    assert backup.read_bytes() == original
    assert not (_read_truth(open_dataset(root), key)).any()


def test_camvid_grey_ground_truth_is_overwritten_in_place(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path, "camvid", [("val", "0016E5_07959"), ("valannot", "0016E5_07959")])
    _roundtrip(root, "val/0016E5_07959", "L")


def test_voc_palette_ground_truth_keeps_palette_and_ignore(shared_data: Path, tmp_path: Path) -> None:
    base = "voc_coco_labelme_example"
    stem = "2011_000003"
    root = _copy(shared_data, tmp_path, base, [("voc/JPEGImages", stem), ("voc/SegmentationClass", stem)])
    dataset = open_dataset(root)
    key = dataset.samples[0].key
    truth = _read_truth(dataset, key)
    assert (truth == 255).any(), "the VOC example should have an ignore border"
    _roundtrip(root, key, "P")
    assert (read_raw_mask(open_dataset(root).ground_truth(dataset.sample(key))).values == 0).all()  # type: ignore[arg-type]


def test_voc_ignore_value_survives(shared_data: Path, tmp_path: Path) -> None:
    stem = "2011_000003"
    root = _copy(shared_data, tmp_path, "voc_coco_labelme_example", [("voc/JPEGImages", stem), ("voc/SegmentationClass", stem)])
    dataset = open_dataset(root)
    sample = dataset.samples[0]
    working = _read_truth(dataset, sample.key).copy()
    working[:5, :5] = 3
    save_as_ground_truth(dataset, sample, working, dataset.spec.labels)
    back = _read_truth(open_dataset(root), sample.key)
    assert np.array_equal(back, working) and (back == 255).any()


def test_isbi_inverts_its_value_map(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path, "isbi2012", [("train/images", "0"), ("train/masks", "0"), ("train/images", "1"), ("train/masks", "1")])
    dataset = open_dataset(root)
    sample = dataset.sample("train/images/0")
    assert dataset.ground_truth_source(sample).value_map == ValueMap.from_pairs({0: 1, 255: 0})  # type: ignore[union-attr]
    _roundtrip(root, "train/images/0", "L")
    raw = read_raw_mask(dataset.ground_truth(sample)).values  # type: ignore[arg-type]
    assert set(np.unique(raw).tolist()) <= {0, 255}
    assert (raw == 255).all()  # the last save was all class 0 (background), stored white


def test_refuses_instance_ground_truth(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path, "pennfudan", [("PNGImages", "FudanPed00003"), ("PedMasks", "FudanPed00003_mask")])
    dataset = open_dataset(root)
    sample = dataset.samples[0]
    truth = dataset.ground_truth(sample)
    assert truth is not None
    before = truth.read_bytes()
    mask = np.zeros(read_raw_mask(truth).values.shape, dtype=np.uint8)
    with pytest.raises(FileProblem, match="instance mask"):
        save_as_ground_truth(dataset, sample, mask, dataset.spec.labels)
    assert truth.read_bytes() == before
    assert not ground_truth_backup_path(dataset, sample).exists()  # type: ignore[union-attr]


def test_refuses_a_value_map_that_cannot_be_inverted(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path, "isbi2012", [("train/images", "0"), ("train/masks", "0")])
    dataset = open_dataset(root)
    sample = dataset.samples[0]
    source = dataset.ground_truth_source(sample)
    assert source is not None
    lossy = MaskSource(source.name, source.folder, source.image_folder, source.role, source.kind, source.suffix,
                       ValueMap.from_pairs({0: 1, 128: 0, 255: 0}))
    spec = dataset.spec.__class__(dataset.spec.layout, dataset.spec.image_folders, (lossy,), dataset.spec.labels)
    lossy_dataset = Dataset(dataset.root, dataset.project_file, spec, dataset.samples, dataset.problems)
    truth = dataset.ground_truth(sample)
    before = truth.read_bytes()  # type: ignore[union-attr]
    mask = _read_truth(dataset, sample.key)
    with pytest.raises(FileProblem, match="both 128 and 255"):
        save_as_ground_truth(lossy_dataset, sample, mask, dataset.spec.labels)
    assert truth.read_bytes() == before  # type: ignore[union-attr]


def test_refuses_a_sample_without_ground_truth(shared_data: Path, tmp_path: Path) -> None:
    root = _copy(shared_data, tmp_path, "camvid", [("val", "0016E5_07959"), ("valannot", "0016E5_07959"), ("val", "0016E5_07961")])
    dataset = open_dataset(root)
    sample = dataset.sample("val/0016E5_07961")
    with pytest.raises(FileProblem, match="no ground truth"):
        save_as_ground_truth(dataset, sample, np.zeros((4, 4), dtype=np.uint8), dataset.spec.labels)
