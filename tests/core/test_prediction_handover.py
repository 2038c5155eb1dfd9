"""A new model prediction handed to an open session: the work is kept, or an untouched session starts again, or
the prediction came too late."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.error_map import error_map
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.core.prediction_handover import StalePrediction
from segstudio.core.session import ImageSession
from segstudio.core.working_source import WorkingSource
from tests.core.test_session import NEAR_IGNORE, random_masks


def test_a_new_prediction_keeps_the_work_and_the_undo_history() -> None:
    image, truth, prediction = random_masks(3, NEAR_IGNORE)
    session = ImageSession.start(image, NEAR_IGNORE, ground_truth=truth, prediction=prediction)
    session.begin_stroke()
    session.paint((2.0, 2.0), (9.0, 6.0), radius=2, value=1)
    session.end_stroke()
    painted = session.mask.copy()
    newer = np.roll(prediction, 3, axis=1)
    prepared = session.prepare_prediction(newer)()  # the O(image) part: on a worker in the app
    assert session.set_prediction(prepared) is session
    np.testing.assert_array_equal(session.mask, painted)  # the work stays
    np.testing.assert_array_equal(session.prediction, newer)
    assert session.dirty and session.can_undo
    labels = NEAR_IGNORE
    expected = confusion_matrix(newer, np.where(session.mask == labels.ignore_index, newer, session.mask),
                                labels.num_classes, labels.ignore_index)
    live = session.scores_vs_prediction()
    assert [c.overlap for c in live.classes] == [c.overlap for c in Scores.from_confusion(expected, labels.names).classes]
    np.testing.assert_array_equal(session.prediction_error_map(), error_map(truth, newer, ignore_index=5))
    session.undo()  # the history survived: the stroke is undone against the new prediction's figures
    np.testing.assert_array_equal(session.mask, prediction)
    after_undo = confusion_matrix(newer, np.where(session.mask == 5, newer, session.mask), labels.num_classes, 5)
    assert [c.union for c in session.scores_vs_prediction().classes] == \
        [c.union for c in Scores.from_confusion(after_undo, labels.names).classes]


def test_an_untouched_session_starts_again_from_the_new_prediction() -> None:
    image, truth, prediction = random_masks(4, NEAR_IGNORE)
    session = ImageSession.start(image, NEAR_IGNORE, ground_truth=truth, prediction=prediction)
    newer = np.roll(prediction, 2, axis=0)
    fresh = session.set_prediction(session.prepare_prediction(newer)())
    assert fresh is not session and fresh.working_source is WorkingSource.PREDICTION and not fresh.dirty
    np.testing.assert_array_equal(fresh.mask, newer)


def test_a_prediction_prepared_before_a_stroke_is_stale() -> None:
    image, truth, prediction = random_masks(5, NEAR_IGNORE)
    session = ImageSession.start(image, NEAR_IGNORE, ground_truth=truth, prediction=prediction)
    session.paint((1.0, 1.0), (1.0, 1.0), radius=1, value=2)
    build = session.prepare_prediction(np.roll(prediction, 1, axis=0))
    session.paint((6.0, 6.0), (6.0, 6.0), radius=1, value=1)  # painted while it was prepared
    with pytest.raises(StalePrediction):
        session.set_prediction(build())
    with pytest.raises(ValueError, match="the prediction is"):
        session.prepare_prediction(np.zeros((2, 2), np.uint8))
