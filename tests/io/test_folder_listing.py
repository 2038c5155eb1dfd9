"""Folder listings come in the order people expect, so every command lists and reports files alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.io.datasets import open_dataset
from segstudio.io.folder_listing import folders_with_images, image_files


def test_image_files_are_listed_in_natural_order(tmp_path: Path) -> None:
    for name in ("10.png", "2.png", "1.png", "img_10.png", "img_9.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert list(image_files(tmp_path)) == ["1.png", "2.png", "10.png", "img_9.png", "img_10.png"]


def test_sub_folders_are_visited_in_natural_order(tmp_path: Path) -> None:
    for folder in ("part10", "part2", "part1"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.png").write_bytes(b"")
    assert [f.name for f, _ in folders_with_images(tmp_path)] == ["part1", "part2", "part10"]


def test_dataset_samples_follow_natural_order(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for index in (0, 1, 2, 10, 11):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(images / f"{index}.png")
    dataset = open_dataset(tmp_path, save_project=False)
    assert [s.image.name for s in dataset.samples] == ["0.png", "1.png", "2.png", "10.png", "11.png"]
