"""Which masks an export of accepted images takes, and how it names them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.app.review_export import accepted_annotations, export_accepted, export_names
from segstudio.core.errors import FileProblem
from segstudio.io.datasets import open_dataset
from segstudio.io.exchange import ExchangeFormat
from segstudio.io.mask_files import read_class_mask


def test_names_two_splits_share_get_their_split(shared_data: Path, isolated_user_data: Path) -> None:
    dataset = open_dataset(shared_data / "isbi2012")
    train, test = dataset.sample("train/images/0"), dataset.sample("test/images/0")
    names = export_names([train, test, dataset.sample("train/images/1")])
    assert names == {train.key: f"{train.split}_0", test.key: f"{test.split}_0", "train/images/1": "1"}


def test_an_accepted_image_without_any_mask_is_named(shared_data: Path, isolated_user_data: Path) -> None:
    dataset = open_dataset(shared_data / "isbi2012")
    with pytest.raises(FileProblem, match=r"test/images/0.png: accepted, but it has neither a saved correction nor"):
        accepted_annotations(dataset, ["test/images/0"])


def test_the_ground_truth_goes_out_when_nothing_was_corrected(shared_data: Path, isolated_user_data: Path,
                                                               tmp_path: Path) -> None:
    dataset = open_dataset(shared_data / "isbi2012")
    result = export_accepted(dataset, ["train/images/3"], ExchangeFormat.VOC, tmp_path / "voc")
    assert result.exact
    labels = dataset.spec.labels
    truth = read_class_mask(shared_data / "isbi2012/train/masks/3.png", labels, value_map=dataset.spec.ground_truth_for("train/images").value_map)
    written = read_class_mask(tmp_path / "voc" / "SegmentationClass" / "3.png", labels)
    np.testing.assert_array_equal(written, truth)


def test_nothing_accepted_is_a_clear_error(shared_data: Path, isolated_user_data: Path, tmp_path: Path) -> None:
    dataset = open_dataset(shared_data / "isbi2012")
    with pytest.raises(ValueError, match="no image is accepted yet"):
        export_accepted(dataset, [], ExchangeFormat.PNG, tmp_path)
