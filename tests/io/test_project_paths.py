"""Paths read from a project file never send a write outside the dataset, or onto an image or a mask."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.io.corrections import save_as_ground_truth, save_correction
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.core.errors import FileProblem
from segstudio.io.mask_files import read_class_mask
from segstudio.io.project_file import PROJECT_FILE_NAME


def _isbi_copy(shared_data: Path, root: Path, count: int = 3) -> Path:
    source = shared_data / "isbi2012" / "train"
    if not source.is_dir():
        pytest.skip(f"ISBI 2012 not found under {shared_data}")
    for folder in ("images", "masks"):
        (root / "train" / folder).mkdir(parents=True)
        for index in range(count):
            shutil.copy(source / folder / f"{index}.png", root / "train" / folder / f"{index}.png")
    return root


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file() and p.name != PROJECT_FILE_NAME
    }


def _with_corrections_folder(project_file: Path, value: str) -> None:
    text = project_file.read_text(encoding="utf-8")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    text, count = re.subn(r'(?m)^corrections_folder = ".*"$', lambda _: f'corrections_folder = "{escaped}"', text)
    assert count == 1
    project_file.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (".", "project's own folder"),
        ("./", "project's own folder"),
        ("..", "leaves the dataset folder"),
        ("../../elsewhere", "leaves the dataset folder"),
        ("segstudio-corrections/../..", "leaves the dataset folder"),
        ("/tmp/segstudio-elsewhere", "not a relative folder"),
        ("C:/Users/x", "not a relative folder"),
        ("..\\..\\x", "not a relative folder"),
        ("", "is empty"),
        ("train/..", "leaves the dataset folder"),
    ],
)
def test_a_corrections_folder_outside_its_own_folder_is_refused(
    shared_data: Path, tmp_path: Path, value: str, why: str
) -> None:
    root = _isbi_copy(shared_data, tmp_path / "isbi")
    dataset = open_dataset(root)
    _with_corrections_folder(dataset.project_file, value)
    before = _fingerprint(tmp_path)

    with pytest.raises(FileProblem) as raised:
        open_dataset(root)
    assert raised.value.path == dataset.project_file
    assert why in str(raised.value) and "corrections_folder" in str(raised.value)
    assert _fingerprint(tmp_path) == before


def test_corrections_folder_dot_no_longer_overwrites_the_image(shared_data: Path, tmp_path: Path) -> None:
    """Today's defect: with corrections_folder "." the correction of train/images/0 was train/images/0.png."""
    root = _isbi_copy(shared_data, tmp_path / "isbi")
    dataset = open_dataset(root)
    sample = dataset.sample("train/images/0")
    image_bytes = sample.image.read_bytes()
    mask = read_class_mask(dataset.ground_truth(sample), dataset.spec.labels,  # type: ignore[arg-type]
                           value_map=dataset.ground_truth_source(sample).value_map)  # type: ignore[union-attr]

    # Even a Dataset built by hand (no project file check) cannot be made to write over the image.
    hostile = dataclasses.replace(dataset, spec=dataclasses.replace(dataset.spec, corrections_folder="."))
    with pytest.raises(FileProblem, match="is the image of train/images/0"):
        hostile.correction_path(sample)
    with pytest.raises(FileProblem):
        save_correction(hostile, sample, mask, dataset.spec.labels)
    assert sample.image.read_bytes() == image_bytes


@pytest.mark.parametrize("corrections", ["train/masks/..", "train"])
def test_a_corrections_folder_among_the_data_is_refused(shared_data: Path, tmp_path: Path, corrections: str) -> None:
    root = _isbi_copy(shared_data, tmp_path / "isbi")
    dataset = open_dataset(root)
    # "train" + key "train/images/0" would write train/train/images/0.png: harmless; "train/masks/.." is refused
    # as leaving nothing; every accepted value must keep the images and masks as they were after a save.
    _with_corrections_folder(dataset.project_file, corrections)
    before = _fingerprint(root / "train")
    try:
        reopened = open_dataset(root)
    except FileProblem as problem:
        assert problem.path == dataset.project_file
        return
    sample = reopened.sample("train/images/1")
    written = save_correction(reopened, sample, np.zeros((512, 512), np.uint8), reopened.spec.labels)
    after = _fingerprint(root / "train")
    assert {k: v for k, v in after.items() if k in before} == before
    assert written.is_relative_to(reopened.corrections_dir)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('folder = "train/images"', 'folder = "../../etc"'),
        ('folder = "train/masks"', 'folder = "/etc"'),
        ('image_folder = "train/images"', 'image_folder = "train/../../x"'),
    ],
)
def test_image_and_mask_folders_must_stay_inside_the_dataset(
    shared_data: Path, tmp_path: Path, old: str, new: str
) -> None:
    root = _isbi_copy(shared_data, tmp_path / "isbi")
    project_file = open_dataset(root).project_file
    text = project_file.read_text(encoding="utf-8")
    assert old in text
    project_file.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(FileProblem, match="project file is malformed") as raised:
        open_dataset(root)
    assert raised.value.path == project_file


def test_save_as_ground_truth_never_writes_outside_the_dataset(shared_data: Path, tmp_path: Path) -> None:
    root = _isbi_copy(shared_data, tmp_path / "isbi")
    outside = tmp_path / "outside"
    shutil.copytree(root / "train" / "masks", outside)
    dataset = open_dataset(root)
    sample = dataset.sample("train/images/2")
    moved = dataclasses.replace(sample, masks={name: outside / "2.png" for name in sample.masks})
    before = (outside / "2.png").read_bytes()
    with pytest.raises(FileProblem, match="outside the dataset folder"):
        save_as_ground_truth(dataset, moved, np.zeros((512, 512), np.uint8), dataset.spec.labels)
    assert (outside / "2.png").read_bytes() == before


def test_the_default_layout_with_images_at_the_root_still_saves(tmp_path: Path) -> None:
    """Masks beside images in the dataset root: the corrections folder is inside the root, and that is fine."""
    from PIL import Image

    root = tmp_path / "flat"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / f"{name}.png")
        Image.fromarray(rng.integers(0, 3, (16, 16)).astype(np.uint8)).save(root / f"{name}_mask.png")
    dataset = open_dataset(root)
    sample = dataset.samples[0]
    assert isinstance(dataset, Dataset)
    written = save_correction(dataset, sample, np.ones((16, 16), np.uint8), dataset.spec.labels)
    assert written.parent == dataset.corrections_dir
    assert sample.image.is_file() and written != sample.image


def test_a_corrections_folder_that_is_a_mask_folder_is_refused(tmp_path: Path) -> None:
    """Images in the root, masks in masks/: corrections_folder "masks" would write masks/<stem>.png, the truth."""
    from PIL import Image

    root = tmp_path / "flat"
    (root / "masks").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / f"{name}.png")
        Image.fromarray(rng.integers(0, 3, (16, 16)).astype(np.uint8)).save(root / "masks" / f"{name}.png")
    dataset = open_dataset(root)
    assert [f.folder for f in dataset.spec.image_folders] == ["."]
    _with_corrections_folder(dataset.project_file, "masks")
    before = _fingerprint(root)
    with pytest.raises(FileProblem, match="would put corrections of '.' into the mask folder") as raised:
        open_dataset(root)
    assert raised.value.path == dataset.project_file
    assert _fingerprint(root) == before


def test_segstudios_own_output_folders_are_never_detected_as_data(tmp_path: Path) -> None:
    """A re-detection must not take predictions, corrections or backups the app wrote for images or masks."""
    from PIL import Image

    root = tmp_path / "data"
    rng = np.random.default_rng(2)
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / "images" / f"{name}.png")
        Image.fromarray(rng.integers(0, 3, (16, 16)).astype(np.uint8)).save(root / "masks" / f"{name}.png")
    dataset = open_dataset(root)
    # Whatever the app's output holds (a "masks" folder of predictions looked like ground truth to detection).
    for folder in ("segstudio-predictions/model/masks", "segstudio-ground-truth-backup/masks",
                   "segstudio-corrections/images", "segstudio-autosave"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in ("a", "b"):
            Image.fromarray(np.ones((16, 16), np.uint8)).save(root / folder / f"{name}.png")
    again = open_dataset(root, redetect=True)
    folders = {f.folder for f in again.spec.image_folders} | {s.folder for s in again.spec.mask_sources}
    assert folders == {f.folder for f in dataset.spec.image_folders} | {s.folder for s in dataset.spec.mask_sources}
    assert not any(folder.startswith("segstudio-") for folder in folders)
