"""Where a session's working mask starts from: the correction, else the prediction, else the truth, else blank
(the session's side of it: test_session.py)."""

from __future__ import annotations

import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.core.working_source import WorkingSource, starting_mask


def test_the_correction_then_the_prediction_then_the_ground_truth_then_blank() -> None:
    labels = LabelSet.with_count(3)
    truth = np.ones((4, 5), np.uint8)
    prediction = np.full((4, 5), 2, np.uint8)
    correction = np.zeros((4, 5), np.uint8)
    none = {"correction": None, "prediction": None, "ground_truth": None}
    cases = [
        ({"ground_truth": truth, "prediction": prediction, "correction": correction}, WorkingSource.CORRECTION, correction),
        ({"ground_truth": truth, "prediction": prediction}, WorkingSource.PREDICTION, prediction),
        ({"ground_truth": truth}, WorkingSource.GROUND_TRUTH, truth),
    ]
    for kwargs, source, expected in cases:
        mask, got = starting_mask((4, 5), labels, **(none | kwargs))
        assert got is source and mask is expected  # the mask itself: the session checks and copies it
    blank, source = starting_mask((4, 5), labels, **none)
    assert source is WorkingSource.BLANK and blank.dtype == np.uint8 and blank.shape == (4, 5) and not blank.any()


def test_a_blank_start_is_unlabelled_never_a_real_class() -> None:
    """CamVid has no background: a blank mask of class 0 would be an image full of Sky."""
    none = {"correction": None, "prediction": None, "ground_truth": None}
    camvid, source = starting_mask((4, 5), LabelSet.camvid(), **none)
    assert source is WorkingSource.BLANK
    assert np.all(camvid == 11)
    voc, _ = starting_mask((4, 5), LabelSet.voc(), **none)
    assert np.all(voc == 255)
    assert np.all(starting_mask((4, 5), LabelSet.with_count(3), **none)[0] == 0)
