"""Comparing the working mask with a fixed reference while it is edited, under the session's ignore rule: a running
confusion matrix (:class:`MaskComparison`), the same count for a whole image at once (:func:`compare_masks`) and
the error kinds of a rectangle (:func:`fill_error_kinds`). The rule exists here only.

The ignore rule: a pixel that *either* side of a comparison marks with the label set's ignore id ("unlabelled")
is not scored, and the error map shows it as IGNORED. This extends the metrics module's rule (ignore id in the
truth = not scored) symmetrically: the working mask is an annotation, not a model output that must commit to a
class everywhere, so "unlabelled" is a legitimate answer that neither earns nor loses points.

Both take masks holding only class ids and the ignore id (:func:`~segstudio.core.class_masks.check_class_mask`
checks them) and cost in proportion to the rectangle they are given.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.error_map import ErrorKind, error_map
from segstudio.core.geometry import Rect
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.core.tracker import IncrementalConfusion


class MaskComparison:
    """A running confusion matrix of a fixed reference mask against the working mask, with the ignore id of
    either side left out (see the module notes).

    The tracker counts ``n + 1`` indices: the ``n`` classes and one "unlabelled" index ``n`` that the ignore
    id maps to on both sides; the scores read the ``n x n`` class block, so pairs involving "unlabelled" drop
    out. When the ignore id already is ``n`` (SegNet's CamVid: 11 classes, ignore 11) no value needs mapping.
    """

    def __init__(self, reference: np.ndarray, working: np.ndarray, labels: LabelSet) -> None:
        """``reference`` and ``working`` must hold only class ids and the ignore id (the session checks)."""
        self._n = labels.num_classes
        self._names = labels.names
        ignore = labels.ignore_index
        self._remap: np.ndarray | None = None
        if ignore is not None and ignore != self._n:
            # Covers every value of the working mask's type; larger reference values cannot occur (checked).
            size = max(ignore + 1, self._n + 2, int(np.iinfo(working.dtype).max) + 1)
            table = np.full(size, self._n + 1, dtype=np.int64)  # neither a class nor the ignore id
            table[: self._n] = np.arange(self._n)
            table[ignore] = self._n
            self._remap = table.astype(np.uint16 if self._n + 1 > 255 else np.uint8)
        self._tracker = IncrementalConfusion(self._mapped(reference), self._mapped(working), self._n + 1)

    def _mapped(self, values: np.ndarray) -> np.ndarray:
        if self._remap is None:
            return values
        return self._remap.take(values.view(np.uint8) if values.dtype == bool else values)

    def update(self, rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        """The working mask changed inside ``rect`` from ``before`` to ``after`` (both the rectangle's size)."""
        self._tracker.update(rect, self._mapped(before), self._mapped(after))

    def scores(self) -> Scores:
        """The scores of the class block, O(classes)."""
        n = self._n
        return Scores.from_confusion(self._tracker.confusion[:n, :n], self._names)


def fill_error_kinds(
    out: np.ndarray, truth: np.ndarray, other: np.ndarray, rect: Rect, background: int | None, ignore: int | None
) -> None:
    """``out[rect]`` := error kinds of ``other`` against ``truth``, IGNORED where either holds the ignore id."""
    if rect.is_empty:
        return
    error_map(truth, other, background=background, ignore_index=ignore, out=out, rect=rect)
    if ignore is not None:
        region = out[rect.slices]
        region[other[rect.slices] == ignore] = ErrorKind.IGNORED


def compare_masks(truth: np.ndarray, other: np.ndarray, labels: LabelSet) -> np.ndarray:
    """The ``n x n`` confusion matrix of ``other`` against ``truth`` under the ignore rule, for a whole image at once
    (what :class:`MaskComparison` keeps running while a mask is edited): scoring a model's mask for the file list
    and the dataset uses this, so the window's list and its live figures agree pixel for pixel."""
    ignore = labels.ignore_index
    truth, other = np.asarray(truth), np.asarray(other)
    if ignore is not None:
        holes = other == ignore
        if holes.any():  # the metrics module refuses an ignore id in the compared mask: leave those pixels out
            truth = np.where(holes, ignore, truth).astype(truth.dtype, copy=False)
    return confusion_matrix(truth, other, labels.num_classes, ignore)
