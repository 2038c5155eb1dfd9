"""Where the working mask of a session starts from: :class:`WorkingSource`, and :func:`starting_mask`, the rule that
picks it (the saved correction, else the model's prediction, else the ground truth, else a blank mask).

An :class:`~segstudio.core.session.ImageSession` records the source it started from, so the window can say what the
user is looking at, and so a new prediction knows whether the session holds work to keep
(:mod:`segstudio.core.prediction_handover`).
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from segstudio.core.class_masks import mask_dtype
from segstudio.core.labels import LabelSet


class WorkingSource(Enum):
    """Where the working mask a session started with came from (:func:`starting_mask` picks one)."""

    AUTOSAVE = "unsaved work recovered from an autosave"
    CORRECTION = "the saved correction"
    PREDICTION = "the model's prediction"
    GROUND_TRUTH = "the ground truth"
    BLANK = "a blank mask (every pixel unlabelled, or background where there is no unlabelled value)"


def starting_mask(
    shape: tuple[int, ...],
    labels: LabelSet,
    *,
    correction: np.ndarray | None,
    prediction: np.ndarray | None,
    ground_truth: np.ndarray | None,
) -> tuple[np.ndarray, WorkingSource]:
    """The mask to start editing from and where it came from: the saved ``correction``, else the ``prediction``,
    else the ``ground_truth``, else a blank mask of ``shape`` holding the label set's
    :attr:`~segstudio.core.labels.LabelSet.erase_value` (unlabelled, else background, else class 0). The mask
    is returned as given (unchecked; the session checks it)."""
    if correction is not None:
        return correction, WorkingSource.CORRECTION
    if prediction is not None:
        return prediction, WorkingSource.PREDICTION
    if ground_truth is not None:
        return ground_truth, WorkingSource.GROUND_TRUTH
    # What the eraser writes (unlabelled, else background): never a real class like CamVid's Sky. A label set with
    # neither starts at class 0, the only value it has.
    fill = labels.erase_value if labels.erase_value is not None else 0
    return np.full(shape, fill, dtype=mask_dtype(labels)), WorkingSource.BLANK
