"""Penn-Fudan corrections are saved as instances: untouched people keep their ids, a loss is asked for first."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.io.corrections import InstanceLoss, read_correction, save_correction
from segstudio.io.datasets import Dataset, open_dataset
from segstudio.io.mask_files import read_instance_mask, write_class_mask
from segstudio.app.sample_loader import load_sample

NAMES = ("FudanPed00003", "FudanPed00006")  # one person; two people (ids 1 and 2)


@pytest.fixture
def pennfudan(shared_data: Path, tmp_path: Path) -> Dataset:
    source = shared_data / "pennfudan"
    root = tmp_path / "pennfudan"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for name in NAMES:
        if not (source / "PNGImages" / f"{name}.png").is_file():
            pytest.skip(f"Penn-Fudan image {name} not found under {source}")
        shutil.copy(source / "PNGImages" / f"{name}.png", root / "PNGImages")
        shutil.copy(source / "PedMasks" / f"{name}_mask.png", root / "PedMasks")
    return open_dataset(root)


def test_a_saved_correction_keeps_both_people(pennfudan: Dataset) -> None:
    """Today's defect: the correction was a 0/1 class mask, so ids 1 and 2 became one blob."""
    sample = pennfudan.sample("PNGImages/FudanPed00006")
    truth = read_instance_mask(pennfudan.ground_truth(sample))  # type: ignore[arg-type]
    loaded = load_sample(pennfudan, sample)
    session = loaded.session
    assert loaded.instances == truth
    rows, cols = np.nonzero(truth.ids == 2)
    session.erase((float(cols.min()), float(rows.min())), (float(cols.max()), float(rows.min())), radius=4)

    path = save_correction(pennfudan, sample, session.mask, pennfudan.spec.labels)
    saved = read_instance_mask(path)
    assert saved.instance_ids == (1, 2)
    assert np.array_equal(saved.ids == 1, truth.ids == 1)  # untouched person: every pixel, same id
    assert np.array_equal(saved.ids == 2, (truth.ids == 2) & (session.mask == 1))

    again = load_sample(pennfudan, sample)
    assert np.array_equal(again.session.mask, session.mask)
    assert again.session.working_source.name == "CORRECTION"
    assert again.instances == saved


def test_a_save_that_drops_a_person_is_refused_until_allowed(pennfudan: Dataset) -> None:
    sample = pennfudan.sample("PNGImages/FudanPed00006")
    truth = read_instance_mask(pennfudan.ground_truth(sample))  # type: ignore[arg-type]
    working = truth.to_class_mask()
    working[truth.ids == 1] = 0
    path = pennfudan.correction_path(sample)
    with pytest.raises(InstanceLoss, match="instance\\(s\\) 1 removed") as raised:
        save_correction(pennfudan, sample, working, pennfudan.spec.labels)
    assert raised.value.path == path and not path.exists()
    save_correction(pennfudan, sample, working, pennfudan.spec.labels, allow_instance_loss=True)
    assert read_instance_mask(path).instance_ids == (2,)


def test_an_older_class_mask_correction_still_opens(pennfudan: Dataset) -> None:
    sample = pennfudan.sample("PNGImages/FudanPed00006")
    truth = read_instance_mask(pennfudan.ground_truth(sample))  # type: ignore[arg-type]
    path = pennfudan.correction_path(sample)
    path.parent.mkdir(parents=True)
    write_class_mask(path, truth.to_class_mask(), pennfudan.spec.labels)  # how segstudio used to save it
    saved = read_correction(pennfudan, sample, pennfudan.spec.labels)
    assert saved is not None and saved.instances == truth  # the ground truth's ids are the ones to carry
    path = save_correction(pennfudan, sample, saved.classes, pennfudan.spec.labels)
    assert read_instance_mask(path) == truth
