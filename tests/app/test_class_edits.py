"""A class added to a value-mapped data set gets a stored value: which values are free, which are refused and why,
and the project file that records it (ISBI: membrane black 0 -> class 1, background white 255 -> class 0)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.app.class_edits import Storage, new_class_storage, propose_value, spec_with_class
from segstudio.core.value_map import ValueMap
from segstudio.io.corrections import save_as_ground_truth
from segstudio.io.datasets import open_dataset
from segstudio.io.mask_files import read_class_mask, read_raw_mask
from segstudio.io.project_file import read_project_file, write_project_file


@pytest.fixture
def isbi_folder(shared_data: Path, tmp_path: Path) -> Path:
    """Two ISBI 2012 training slices and their masks, copied (a writable project)."""
    source = shared_data / "isbi2012" / "train"
    if not (source / "masks" / "0.png").is_file():
        pytest.skip(f"ISBI 2012 not found under {source}")
    root = tmp_path / "isbi"
    for folder in ("images", "masks"):
        (root / "train" / folder).mkdir(parents=True)
        for stem in ("0", "1"):
            shutil.copy(source / folder / f"{stem}.png", root / "train" / folder / f"{stem}.png")
    return root


def test_isbi_asks_for_a_stored_value_and_proposes_a_free_grey(isbi_folder: Path) -> None:
    spec = open_dataset(isbi_folder).spec
    storage = new_class_storage(spec)
    assert storage.needs_value and storage.class_id == 2
    assert storage.taken == {0: 1, 255: 0} and storage.storage is Storage.GREY_8
    assert storage.proposed == 127  # between the two greys in use: distinct in any viewer
    assert "train/masks" in storage.explain() and "value map" in storage.explain()


def test_a_taken_or_unfitting_value_is_refused_with_what_to_do(isbi_folder: Path) -> None:
    dataset = open_dataset(isbi_folder)
    storage = new_class_storage(dataset.spec)
    assert storage.refusal(0) == (
        "0 is taken: it stores class 1 (foreground) in train/masks; pick a free value such as 127"
    )
    assert "255 is taken: it stores class 0 (background)" in (storage.refusal(255) or "")
    assert "does not fit the ground truth's 8-bit masks (0..255)" in (storage.refusal(256) or "")
    assert storage.refusal(127) is None and storage.refusal(1) is None
    with pytest.raises(ValueError, match="type a whole number"):
        storage.parse("grey")
    labels = dataset.spec.labels.with_class("mitochondria")
    before = dataset.project_file.read_bytes()
    with pytest.raises(ValueError, match="cannot store class 2 that way: 255 is taken"):
        spec_with_class(dataset.spec, labels, 255)
    with pytest.raises(ValueError, match="needs a stored value"):
        spec_with_class(dataset.spec, labels, None)
    assert dataset.project_file.read_bytes() == before  # nothing written


def test_the_stored_value_is_recorded_and_saves_read_back_as_the_class(isbi_folder: Path) -> None:
    dataset = open_dataset(isbi_folder)
    labels = dataset.spec.labels.with_class("mitochondria")
    spec = spec_with_class(dataset.spec, labels, 127)
    write_project_file(dataset.project_file, dataset.root, spec)
    on_disk = read_project_file(dataset.project_file)
    assert on_disk.labels == labels
    assert on_disk.mask_sources[0].value_map == ValueMap.from_pairs({0: 1, 127: 2, 255: 0})
    assert any("stored as 127 in train/masks" in note for note in on_disk.notes)

    reopened = open_dataset(isbi_folder)
    sample = reopened.sample("train/images/0")
    source = reopened.ground_truth_source(sample)
    truth = reopened.ground_truth(sample)
    assert source is not None and truth is not None
    working = read_class_mask(truth, reopened.spec.labels, value_map=source.value_map).copy()
    working[100:160, 200:260] = 2
    save_as_ground_truth(reopened, sample, working, reopened.spec.labels)
    raw = read_raw_mask(truth).values
    assert (raw[100:160, 200:260] == 127).all() and set(np.unique(raw).tolist()) == {0, 127, 255}
    again = open_dataset(isbi_folder)
    assert np.array_equal(read_class_mask(truth, again.spec.labels, value_map=again.ground_truth_source(sample).value_map), working)  # type: ignore[union-attr]
    assert new_class_storage(again.spec).proposed == 191  # the next class: the middle of the widest gap left


@pytest.fixture
def camvid_copy(shared_data: Path, tmp_path: Path) -> Path:
    source = shared_data / "camvid"
    if not (source / "val" / "0016E5_07959.png").is_file():
        pytest.skip(f"CamVid not found under {source}")
    root = tmp_path / "camvid"
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    shutil.copy(source / "val" / "0016E5_07959.png", root / "images")
    shutil.copy(source / "valannot" / "0016E5_07959.png", root / "masks")
    return root


def test_class_id_masks_need_no_question(camvid_copy: Path) -> None:
    spec = open_dataset(camvid_copy).spec
    assert not new_class_storage(spec).needs_value


@pytest.mark.parametrize(
    ("used", "expected"),
    [([0, 255], 127), ([0, 127, 255], 191), ([0, 50, 100], 150), ([1000, 2000, 3000], 4000), ([0, 1, 2], 3),
     ([255], 0), ([0], 255)],
)
def test_proposals_are_free_and_distinct(used: list[int], expected: int) -> None:
    assert propose_value(used, Storage.of(used)) == expected


def test_no_proposal_when_every_value_is_taken() -> None:
    assert propose_value(list(range(256)), Storage.GREY_8) is None


def test_colour_masks_propose_the_class_colour() -> None:
    assert Storage.of([0x000000, 0xFF0000]) is Storage.COLOUR
    assert propose_value([0x000000, 0x123456, 0xFF0000], Storage.COLOUR, (0, 200, 0)) == 0x00C800
    assert Storage.COLOUR.show(0x00C800) == "#00c800"
