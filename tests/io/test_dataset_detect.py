"""What detection makes of mask values: every mask of a small data set is looked at, stray values and images
saved as masks are named per file instead of becoming classes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.io.dataset_detect import detect_dataset
from segstudio.io.datasets import open_dataset
from segstudio.core.value_map import ValueMap
from segstudio.io.mask_files import read_class_mask


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _stripes(classes: int, size: int = 36) -> np.ndarray:
    """A mask with ``classes`` horizontal bands, values 0..classes-1: every class covers plenty of pixels."""
    return (np.arange(size)[:, None] * classes // size).repeat(size, axis=1).astype(np.uint8)


def _dataset(root: Path, masks: list[np.ndarray]) -> Path:
    for index, mask in enumerate(masks):
        _save_png(root / "images" / f"img{index:02d}.png", np.full((*mask.shape[:2], 3), 90, np.uint8))
        _save_png(root / "masks" / f"img{index:02d}.png", mask)
    return root


# -- which masks are looked at ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, 4, 5, 40])
def test_a_class_only_in_the_last_mask_is_found(tmp_path: Path, count: int) -> None:
    masks = [_stripes(2) for _ in range(count)]
    last = masks[-1].copy()
    last[:, :12] = 2  # class 2 exists in this mask only
    masks[-1] = last
    spec = detect_dataset(_dataset(tmp_path / "data", masks))
    assert spec.labels.num_classes == 3, spec.notes


# -- values that are not classes ----------------------------------------------------------------------------


def test_a_16_bit_noise_mask_is_named_and_makes_no_classes(tmp_path: Path) -> None:
    masks = [_stripes(6) for _ in range(8)]
    root = _dataset(tmp_path / "data", masks)
    noise = np.random.default_rng(0).integers(0, 65536, masks[0].shape, dtype=np.uint16)
    Image.fromarray(noise).save(root / "masks" / "img03.png")  # 16-bit grey, ~1,300 distinct values

    started = time.perf_counter()
    dataset = open_dataset(root)
    elapsed = time.perf_counter() - started

    assert dataset.spec.labels.num_classes == 6
    assert elapsed < 5, f"detection took {elapsed:.1f} s"
    assert dataset.project_file.stat().st_size < 8_000
    flagged = [n for n in dataset.spec.notes if "img03.png" in n]
    assert flagged and "distinct values" in flagged[0] and "not a class mask" in flagged[0], dataset.spec.notes


def test_one_stray_value_is_named_and_makes_no_classes(tmp_path: Path) -> None:
    masks = [_stripes(6) for _ in range(6)]
    masks[4] = masks[4].copy()
    masks[4][0, 0] = 200
    spec = detect_dataset(_dataset(tmp_path / "data", masks))
    assert spec.labels.num_classes == 6
    flagged = [n for n in spec.notes if "img04.png" in n]
    assert flagged and "200 (1 px)" in flagged[0], spec.notes


def test_a_stray_value_in_many_masks_is_still_a_class(tmp_path: Path) -> None:
    """A value far above the others that covers real area in most masks is a class, not a stray pixel."""
    masks = []
    for _ in range(6):
        mask = _stripes(3)
        mask[:, :10] = 40
        masks.append(mask)
    spec = detect_dataset(_dataset(tmp_path / "data", masks))
    assert spec.labels.num_classes == 41


@pytest.mark.parametrize("high", [1, 65535])
def test_two_value_masks_are_binary(tmp_path: Path, high: int) -> None:
    dtype = np.uint8 if high <= 255 else np.uint16
    masks = []
    for index in range(4):
        mask = np.zeros((30, 30), dtype)
        mask[5 : 12 + index, 5:15] = high
        masks.append(mask)
    root = _dataset(tmp_path / "data", masks)
    dataset = open_dataset(root)
    assert dataset.spec.labels.num_classes == 2
    source = dataset.spec.mask_sources[0]
    if high == 1:
        assert source.value_map is None or source.value_map.is_identity
    else:
        assert source.value_map == ValueMap.binary(foreground=high, background=0)
    classes = read_class_mask(root / "masks" / "img00.png", dataset.spec.labels, value_map=source.value_map)
    assert np.array_equal(classes == 1, masks[0] == high)


def test_few_values_spread_far_apart_are_classes_through_a_value_map(tmp_path: Path) -> None:
    """16-bit ids 0/1000/2000 are three classes, not 2,001."""
    masks = [(_stripes(3).astype(np.uint16) * 1000) for _ in range(3)]
    root = _dataset(tmp_path / "data", masks)
    dataset = open_dataset(root)
    assert dataset.spec.labels.num_classes == 3
    source = dataset.spec.mask_sources[0]
    classes = read_class_mask(root / "masks" / "img00.png", dataset.spec.labels, value_map=source.value_map)
    assert np.array_equal(classes, masks[0] // 1000)


def test_colour_coded_masks_are_a_class_per_colour(tmp_path: Path) -> None:
    colours = np.array([[0, 0, 0], [200, 30, 30], [30, 30, 200]], np.uint8)
    masks = [colours[_stripes(3)] for _ in range(3)]
    root = _dataset(tmp_path / "data", masks)
    dataset = open_dataset(root)
    labels = dataset.spec.labels
    assert labels.num_classes == 3
    assert {tuple(c) for c in labels.colours.tolist()} == {tuple(c) for c in colours.tolist()}
    assert labels.names[0] == "background" and tuple(labels.colours[0]) == (0, 0, 0)
    source = dataset.spec.mask_sources[0]
    classes = read_class_mask(root / "masks" / "img00.png", labels, value_map=source.value_map)
    assert np.array_equal(labels.colours[classes], masks[0]), "each pixel's class has the pixel's colour"


@pytest.mark.parametrize("levels", [(0, 127, 255), (0, 85, 170, 255), (0, 50, 100)])
def test_evenly_spaced_grey_levels_are_one_class_each(tmp_path: Path, levels: tuple[int, ...]) -> None:
    """A 3-class mask drawn as 0/127/255 for a viewer is 3 classes, not 256 (nor 128 and an ignore id)."""
    lut = np.array(levels, dtype=np.uint8)
    masks = [lut[_stripes(len(levels))] for _ in range(3)]
    dataset = open_dataset(_dataset(tmp_path / "data", masks))
    labels = dataset.spec.labels
    assert labels.num_classes == len(levels) and labels.ignore_index is None, dataset.spec.notes
    source = dataset.ground_truth_source(dataset.samples[0])
    assert source is not None and source.value_map is not None
    classes = read_class_mask(dataset.ground_truth(dataset.samples[0]), labels, value_map=source.value_map)
    np.testing.assert_array_equal(classes, _stripes(len(levels)))


def test_predictions_stored_like_isbi_truth_read_with_its_value_map(tmp_path: Path, shared_data: Path) -> None:
    """ISBI stores its membrane (class 1) as 0 and the cell interior as 255; a program that wrote its predictions
    the same way must be read the same way, not refused as "255 is not a class" (which left every score n/a)."""
    from segstudio.app.prediction_masks import read_prediction

    isbi = shared_data / "isbi2012" / "train"
    for name in ("0.png", "1.png", "2.png"):
        truth = np.asarray(Image.open(isbi / "masks" / name))
        _save_png(tmp_path / "images" / name, np.asarray(Image.open(isbi / "images" / name)))
        _save_png(tmp_path / "masks" / name, truth)
        predicted = truth.copy()
        predicted[:40] = 255 - predicted[:40]  # a model wrong in a band at the top
        _save_png(tmp_path / "predictions" / name, predicted)
    dataset = open_dataset(tmp_path, save_project=False)
    source = next(s for s in dataset.spec.mask_sources if s.folder == "predictions")
    assert source.value_map == ValueMap.from_pairs({0: 1, 255: 0})
    assert any("predictions stored like the ground truth" in note for note in dataset.spec.notes)
    sample = dataset.samples[0]
    predicted = read_prediction(tmp_path / "predictions" / "0.png", dataset.spec.labels, (512, 512), value_map=source.value_map)
    truth_classes = read_class_mask(tmp_path / "masks" / "0.png", dataset.spec.labels, value_map=source.value_map)
    np.testing.assert_array_equal(predicted.classes[40:], truth_classes[40:])
    np.testing.assert_array_equal(predicted.classes[:40], 1 - truth_classes[:40])
    assert sample.image.name == "0.png"


def test_predictions_holding_class_ids_beside_mapped_truth_stay_class_ids(tmp_path: Path) -> None:
    for index in range(3):
        truth = np.where(_stripes(2) == 1, 0, 255).astype(np.uint8)  # foreground stored black, like ISBI
        _save_png(tmp_path / "images" / f"img{index}.png", np.full((36, 36, 3), 90, np.uint8))
        _save_png(tmp_path / "masks" / f"img{index}.png", truth)
        _save_png(tmp_path / "predictions" / f"img{index}.png", _stripes(2))  # 0/1: class ids already
    dataset = open_dataset(tmp_path, save_project=False)
    source = next(s for s in dataset.spec.mask_sources if s.folder == "predictions")
    assert source.value_map is None
