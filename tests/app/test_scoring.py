"""Scoring a project's predictions against its ground truth: a prediction of another size is scored resized to
its image (nearest neighbour) and the score says so; ground truth of another size is never resized."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.app.prediction_masks import resize_nearest
from segstudio.app.scoring import score_dataset, score_image
from segstudio.core.errors import FileProblem
from segstudio.core.mask_comparison import compare_masks
from segstudio.io.datasets import open_dataset

NAMES = ("0", "1", "2")


@pytest.fixture
def isbi_small_predictions(shared_data: Path, tmp_path: Path) -> Path:
    """Three ISBI training slices (512 px) and their ground truth, with 256 px class-id predictions made from the
    truth: image 0 gets a 512 px prediction, so only 1 and 2 need resizing."""
    source = shared_data / "isbi2012" / "train"
    root = tmp_path / "isbi-mini"
    for folder in ("images", "masks", "predictions"):
        (root / folder).mkdir(parents=True)
    for name in NAMES:
        shutil.copy(source / "images" / f"{name}.png", root / "images" / f"{name}.png")
        shutil.copy(source / "masks" / f"{name}.png", root / "masks" / f"{name}.png")
        membrane = (np.array(Image.open(source / "masks" / f"{name}.png")) == 0).astype(np.uint8)
        side = 512 if name == "0" else 256
        Image.fromarray(membrane).resize((side, side), Image.Resampling.NEAREST).save(root / "predictions" / f"{name}.png")
    return root


def test_a_prediction_of_another_size_is_scored_resized_and_says_so(isbi_small_predictions: Path) -> None:
    dataset = open_dataset(isbi_small_predictions)
    result = score_dataset(dataset)
    assert all(score.confusion is not None for score in result.per_image.values())
    assert result.resized_keys == ("images/1", "images/2")
    assert result.notes == ("2 of 3 scored images were scored on a prediction resized to the image (nearest neighbour)",)
    same_size = result.per_image["images/0"]
    assert not same_size.resized and same_size.notes == ()
    assert same_size.mean_iou == pytest.approx(1.0)  # the truth itself
    resized = result.per_image["images/1"]
    assert resized.resized and resized.notes == ("prediction resized from 256x256 to 512x512 (nearest neighbour)",)
    # The figures are those of the prediction enlarged pixel for pixel, not of a blend.
    sample = dataset.sample("images/1")
    stored = np.array(Image.open(isbi_small_predictions / "predictions" / "1.png"))
    truth = (np.array(Image.open(isbi_small_predictions / "masks" / "1.png")) == 0).astype(np.uint8)
    expected = compare_masks(truth, resize_nearest(stored, (512, 512)), dataset.spec.labels)
    assert np.array_equal(resized.confusion, expected)
    assert 0.5 < resized.mean_iou < 1.0
    assert score_image(dataset, sample, None).notes == resized.notes


def test_ground_truth_of_another_size_is_not_scored(isbi_small_predictions: Path) -> None:
    truth = isbi_small_predictions / "masks" / "2.png"
    Image.open(truth).resize((256, 256), Image.Resampling.NEAREST).save(truth)
    dataset = open_dataset(isbi_small_predictions)
    with pytest.raises(FileProblem, match="never resized"):
        score_image(dataset, dataset.sample("images/2"), None)
    result = score_dataset(dataset)
    assert result.per_image["images/2"].confusion is None  # n/a, not a score against a stretched truth
    assert result.per_image["images/1"].confusion is not None


def test_nearest_neighbour_keeps_only_stored_values() -> None:
    values = np.array([[0, 1, 2], [3, 4, 5]], np.uint8)
    assert np.array_equal(resize_nearest(values, (6, 4)), np.kron(values, np.ones((2, 2), np.uint8)))
    odd = resize_nearest(values, (7, 5))
    assert odd.shape == (5, 7) and set(np.unique(odd)) == set(range(6))
    assert np.array_equal(resize_nearest(odd, (3, 2)), values)


@pytest.fixture
def penn_fudan_with_predictions(shared_data: Path, tmp_path: Path) -> Path:
    """Three Penn-Fudan images (instance ground truth) with a model's predictions: two as instance PNGs, the third
    a truncated file."""
    from segstudio.core.instances import InstanceMask
    from segstudio.io.mask_files import read_instance_mask, write_instance_mask

    source, root = shared_data / "pennfudan", tmp_path / "pennfudan"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    names = sorted(p.name.removesuffix("_mask.png") for p in (source / "PedMasks").glob("*_mask.png"))[:3]
    for index, name in enumerate(names):
        shutil.copy(source / "PNGImages" / f"{name}.png", root / "PNGImages" / f"{name}.png")
        shutil.copy(source / "PedMasks" / f"{name}_mask.png", root / "PedMasks" / f"{name}_mask.png")
        target = root / "segstudio-predictions" / "model" / "PNGImages" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        truth = read_instance_mask(root / "PedMasks" / f"{name}_mask.png")
        ids = np.zeros_like(np.asarray(truth.ids))
        ids[:, 5:] = np.asarray(truth.ids)[:, :-5]
        write_instance_mask(target, InstanceMask(ids, dict(truth.classes)))
        if index == 2:
            target.write_bytes(target.read_bytes()[:60])
    return root


def test_instance_ground_truth_is_scored_by_its_objects_classes(penn_fudan_with_predictions: Path) -> None:
    # Penn-Fudan stores one id per person: read as class values they would be classes 2, 3... of a 2-class set.
    from segstudio.app.project_predictions import app_predictions
    from segstudio.io.mask_files import read_class_mask, read_instance_mask

    dataset = open_dataset(penn_fudan_with_predictions)
    predictions = app_predictions(dataset)
    result = score_dataset(dataset, predictions)
    labels = dataset.spec.labels
    scored = [key for key, score in result.per_image.items() if score.confusion is not None]
    assert len(scored) == 2
    for key in scored:
        sample = dataset.sample(key)
        truth = read_instance_mask(dataset.ground_truth(sample)).to_class_mask()
        expected = compare_masks(truth, read_class_mask(predictions[key], labels), labels)
        assert np.array_equal(result.per_image[key].confusion, expected)


def test_an_image_that_cannot_be_scored_is_said_not_left_as_na(penn_fudan_with_predictions: Path) -> None:
    from segstudio.app.project_predictions import app_predictions

    dataset = open_dataset(penn_fudan_with_predictions)
    result = score_dataset(dataset, app_predictions(dataset))
    broken = [key for key, score in result.per_image.items() if score.problem is not None]
    assert len(broken) == 1
    note = next(note for note in result.notes if "could not be scored" in note)
    assert broken[0] in note and ".png" in note
