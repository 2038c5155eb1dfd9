"""Predictions the app wrote in earlier runs are found again by listing segstudio-predictions/ (newest wins)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segstudio.io.datasets import open_dataset
from segstudio.io.demo_dataset import DEMO_LABELS, write_demo_dataset
from segstudio.io.mask_files import write_class_mask
from segstudio.app.project_predictions import PREDICTIONS_FOLDER, app_predictions


def test_newest_model_folder_wins_per_image(tmp_path: Path) -> None:
    dataset = open_dataset(write_demo_dataset(tmp_path / "demo", count=3))
    keys = [s.key for s in dataset.samples]
    base = dataset.project_file.parent / PREDICTIONS_FOLDER
    mask = np.zeros((4, 4), dtype=np.uint8)
    for model, chosen, when in (("old", keys, 1_000_000), ("new", keys[:1], 2_000_000)):
        for key in chosen:
            path = base / model / f"{key}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_class_mask(path, mask, DEMO_LABELS)
            os.utime(path, (when, when))
    (base / "old" / "not-a-sample.png").write_bytes(b"")
    found = app_predictions(dataset)
    assert set(found) == set(keys)
    assert found[keys[0]] == base / "new" / f"{keys[0]}.png"
    assert all(found[k] == base / "old" / f"{k}.png" for k in keys[1:])


def test_no_predictions_folder_gives_nothing(tmp_path: Path) -> None:
    assert app_predictions(open_dataset(write_demo_dataset(tmp_path / "demo", count=1))) == {}
