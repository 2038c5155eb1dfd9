"""Handing a new model prediction to an open session without blocking the GUI thread: :func:`starts_again` (the
rule), :func:`prediction_job` (the split between the GUI thread and a worker), :class:`PreparedPrediction` (what the
worker made ready) and :class:`StalePrediction` (it came too late).

The rule: an untouched session that started from the old prediction, the ground truth or a blank mask gets a fresh
start from the new prediction (the usual "correct the model" start; it has no work to keep). Any other session
keeps its working mask and its whole undo history; only the prediction and the "vs prediction" figures change.
:meth:`~segstudio.core.session.ImageSession.prepare_prediction` and
:meth:`~segstudio.core.session.ImageSession.set_prediction` are the session's side of it; this module knows masks,
revisions and label sets, not sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

from segstudio.core.class_masks import read_only
from segstudio.core.labels import LabelSet
from segstudio.core.mask_comparison import MaskComparison
from segstudio.core.working_source import WorkingSource


class _Predicted(Protocol):
    @property
    def prediction(self) -> np.ndarray | None: ...


Session = TypeVar("Session", bound=_Predicted)  # an ImageSession: the fresh start a prediction may bring

# Sources an untouched session may start again from: nothing the user chose to keep.
_RESTARTABLE = (WorkingSource.PREDICTION, WorkingSource.GROUND_TRUTH, WorkingSource.BLANK)


class StalePrediction(ValueError):
    """The working mask changed after the prediction was prepared: prepare it again from the newer mask."""


@dataclass(frozen=True, eq=False)
class PreparedPrediction(Generic[Session]):
    """A new prediction made ready on a worker (:func:`prediction_job`): the checked mask, the working-mask revision
    it was counted against, and either that count (the work is kept) or a fresh session."""

    prediction: np.ndarray
    revision: int
    comparison: MaskComparison | None
    replacement: Session | None
    instances: object | None = None  # an instance model's objects (InstanceMask), for an instance session


def starts_again(dirty: bool, source: WorkingSource) -> bool:
    """Whether a session with no unsaved change (``dirty`` False) that started from ``source`` gets a fresh start
    from a new prediction rather than keeping its work."""
    return not dirty and source in _RESTARTABLE


def prediction_job(
    prediction: np.ndarray,
    *,
    revision: int,
    working: np.ndarray,
    labels: LabelSet,
    check: Callable[[np.ndarray, str], np.ndarray],
    start_again: Callable[[], Session] | None,
) -> Callable[[], PreparedPrediction[Session]]:
    """The worker's part of handing ``prediction`` to a session whose working mask is ``working`` at ``revision``.

    This call (GUI thread) checks the size and copies the working mask (unless the session starts again); the
    function it returns does the O(image) work and may run on a worker: ``start_again()`` (a fresh session from
    the prediction; None when the work is kept, see :func:`starts_again`), else ``check(prediction, role)`` (the
    session's mask check) and the count of the prediction against the copy under ``labels``.
    """
    if np.shape(prediction) != working.shape:
        raise ValueError(f"the prediction is {np.shape(prediction)} but the image is {working.shape}")
    if start_again is not None:
        restart = start_again

        def fresh() -> PreparedPrediction[Session]:
            session = restart()
            return PreparedPrediction(session.prediction, revision, None, session)  # type: ignore[arg-type]

        return fresh
    kept = working.copy()

    def keep_work() -> PreparedPrediction[Session]:
        checked = read_only(check(prediction, "the prediction"))
        return PreparedPrediction(checked, revision, MaskComparison(checked, kept, labels), None)

    return keep_work
