"""The live readouts of a working mask being edited: its scores against the ground truth and against the model's
original prediction, and its error map, each kept current from the rectangle every change reports.

A :class:`LiveReadouts` is the one listener an :class:`~segstudio.core.session.ImageSession` adds to its
:class:`~segstudio.core.document.MaskDocument`. For each change it updates both running confusion matrices
(:class:`~segstudio.core.mask_comparison.MaskComparison`: working mask against the ground truth, "how good is it",
and against the original prediction, "how much did the user change") and rewrites the error map inside the
changed rectangle; only then does it tell its own listeners, so they always read current figures. Reading the
scores costs O(classes) however big the image.

The error map compares the *working* mask with the truth (not the model's prediction): it is the map of what is
still wrong while the user corrects, so painting a fix turns that spot green at once. The model's own error map
(original prediction against truth) is offered too, computed on first request and kept, since neither mask
changes. Pixels either side marks with the ignore id are not scored and show as IGNORED (the rule:
:mod:`segstudio.core.mask_comparison`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from segstudio.core.class_masks import read_only
from segstudio.core.geometry import Rect
from segstudio.core.labels import LabelSet
from segstudio.core.mask_comparison import MaskComparison, fill_error_kinds
from segstudio.core.metrics import Scores


class LiveReadouts:
    """Scores and error maps of the live working ``mask`` against ``truth`` and ``prediction`` (either may be
    None), under ``labels`` and ``background`` (the class the error map treats as "nothing there").

    ``mask`` is the document's live read-only view; ``truth`` and ``prediction`` are read-only views that must not
    change while held (the session checked them). Opening counts both comparisons and the error map in full;
    after that, :meth:`on_change` (the document's listener) costs in proportion to the changed rectangle.
    """

    def __init__(
        self,
        mask: np.ndarray,
        labels: LabelSet,
        background: int | None,
        *,
        truth: np.ndarray | None,
        prediction: np.ndarray | None,
    ) -> None:
        self._mask = mask
        self._background = background
        self._ignore = labels.ignore_index
        self._truth = truth
        self._prediction = prediction
        self._vs_truth = None if truth is None else MaskComparison(truth, mask, labels)
        self._vs_prediction = None if prediction is None else MaskComparison(prediction, mask, labels)
        self._errors: np.ndarray | None = None
        self._errors_view: np.ndarray | None = None
        if truth is not None:
            self._errors = np.empty(mask.shape, dtype=np.uint8)
            fill_error_kinds(self._errors, truth, mask, Rect.full(mask.shape), background, self._ignore)
            self._errors_view = read_only(self._errors)
        self._prediction_errors: np.ndarray | None = None
        self._listeners: list[Callable[[Rect], None]] = []

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def truth(self) -> np.ndarray | None:
        return self._truth

    @property
    def prediction(self) -> np.ndarray | None:
        return self._prediction

    @property
    def error_map(self) -> np.ndarray | None:
        """Working mask vs ground truth as error kinds (live, read-only); None without truth."""
        return self._errors_view

    def prediction_error_map(self) -> np.ndarray | None:
        """Original prediction vs ground truth (read-only), computed on the first call and kept; None unless
        both exist."""
        if self._truth is None or self._prediction is None:
            return None
        if self._prediction_errors is None:
            errors = np.empty(self._mask.shape, dtype=np.uint8)
            fill_error_kinds(errors, self._truth, self._prediction, Rect.full(self._mask.shape), self._background,
                             self._ignore)
            self._prediction_errors = read_only(errors)
        return self._prediction_errors

    def scores_vs_truth(self) -> Scores | None:
        return None if self._vs_truth is None else self._vs_truth.scores()

    def scores_vs_prediction(self) -> Scores | None:
        return None if self._vs_prediction is None else self._vs_prediction.scores()

    # -- changing --------------------------------------------------------------------------------------

    def recount(self, labels: LabelSet) -> None:
        """Count both comparisons again under ``labels`` (more classes, the same ignore id): one pass each."""
        mask = self._mask
        self._vs_truth = None if self._truth is None else MaskComparison(self._truth, mask, labels)
        self._vs_prediction = None if self._prediction is None else MaskComparison(self._prediction, mask, labels)

    def set_prediction(self, prediction: np.ndarray, comparison: MaskComparison) -> None:
        """Compare with a new (checked, read-only) ``prediction``, already counted against the working mask."""
        self._prediction = prediction
        self._vs_prediction = comparison
        self._prediction_errors = None

    # -- listeners -------------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[Rect], None]) -> None:
        """Call ``listener(rect)`` after every change, once the scores and the error map include it."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Rect], None]) -> None:
        try:
            self._listeners.remove(listener)
        except ValueError:
            raise ValueError("that listener was never added to this session") from None

    def on_change(self, rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        """The document's listener: bring every readout up to date inside ``rect``, then tell the listeners."""
        if self._vs_truth is not None:
            self._vs_truth.update(rect, before, after)
        if self._vs_prediction is not None:
            self._vs_prediction.update(rect, before, after)
        if self._errors is not None and self._truth is not None:
            fill_error_kinds(self._errors, self._truth, self._mask, rect, self._background, self._ignore)
        for listener in list(self._listeners):
            listener(rect)
