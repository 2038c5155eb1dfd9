"""The working mask against a fixed reference under the ignore rule (ignored on either side), counted once and
then kept current from rectangles (the session's use of it, with every kind of edit: test_session.py)."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.geometry import Rect
from segstudio.core.labels import LabelSet
from segstudio.core.mask_comparison import MaskComparison, compare_masks, fill_error_kinds
from tests.core.test_session import FAR_IGNORE, NEAR_IGNORE, expected_error_map, expected_scores, random_masks


def unlabelled_here_and_there(working: np.ndarray, labels: LabelSet, seed: int) -> np.ndarray:
    working = working.copy()
    working[np.random.default_rng(seed).random(working.shape) < 0.1] = labels.ignore_index
    return working


@pytest.mark.parametrize("labels", [NEAR_IGNORE, FAR_IGNORE], ids=["ignore=n", "ignore=255"])
def test_the_ignore_id_of_either_side_is_not_scored_before_and_after_an_update(labels: LabelSet) -> None:
    _, truth, prediction = random_masks(6, labels)
    working = unlabelled_here_and_there(prediction, labels, 7)
    comparison = MaskComparison(truth, working, labels)
    np.testing.assert_array_equal(comparison.scores().confusion, expected_scores(truth, working, labels).confusion)
    rect = Rect(3, 5, 20, 30)
    before = working[rect.slices].copy()
    working[rect.slices] = np.where(before == labels.ignore_index, 2, labels.ignore_index)
    comparison.update(rect, before, working[rect.slices])
    np.testing.assert_array_equal(comparison.scores().confusion, expected_scores(truth, working, labels).confusion)


@pytest.mark.parametrize("labels", [NEAR_IGNORE, FAR_IGNORE], ids=["ignore=n", "ignore=255"])
def test_error_kinds_are_written_inside_the_rectangle_only(labels: LabelSet) -> None:
    _, truth, prediction = random_masks(8, labels)
    working = unlabelled_here_and_there(prediction, labels, 9)
    out = np.full(truth.shape, 99, np.uint8)
    rect = Rect(2, 4, 17, 40)
    fill_error_kinds(out, truth, working, rect, labels.background, labels.ignore_index)
    np.testing.assert_array_equal(out[rect.slices], expected_error_map(truth, working, labels)[rect.slices])
    out[rect.slices] = 99
    assert (out == 99).all()


@pytest.mark.parametrize("labels", [NEAR_IGNORE, FAR_IGNORE], ids=["ignore=n", "ignore=255"])
def test_the_whole_image_count_is_the_running_count(labels: LabelSet) -> None:
    """The file list's per-image score (compare_masks) and the live figures (MaskComparison) use one rule."""
    _, truth, prediction = random_masks(8, labels)
    truth = unlabelled_here_and_there(truth, labels, 3)
    prediction = unlabelled_here_and_there(prediction, labels, 4)
    whole = compare_masks(truth, prediction, labels)
    np.testing.assert_array_equal(whole, MaskComparison(truth, prediction, labels).scores().confusion)
    np.testing.assert_array_equal(whole, expected_scores(truth, prediction, labels).confusion)
    scored = (truth != labels.ignore_index) & (prediction != labels.ignore_index)
    assert whole.sum() == scored.sum() > 0
