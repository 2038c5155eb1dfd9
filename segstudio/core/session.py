"""One image being corrected: its masks, the edits, the live scores and the error map, without any Qt.

An :class:`ImageSession` holds everything the desktop app needs about the image on screen, so the window
only displays it and forwards the user's gestures:

- the image and the fixed masks it is compared with: the ground truth and the model's original prediction
  (either may be missing);
- the working mask, owned by a :class:`~segstudio.core.document.MaskDocument` (the one writer of its pixels,
  with undo/redo per stroke);
- two running confusion matrices (:class:`~segstudio.core.tracker.IncrementalConfusion`): working mask against
  the ground truth ("how good is it") and against the original prediction ("how much did the user change"),
  each kept current from the rectangle every edit reports, so readouts cost O(classes) however big the image;
- the error map of the working mask against the ground truth, one uint8 :class:`~segstudio.core.error_map.ErrorKind`
  per pixel, rewritten only inside each changed rectangle.

The error map compares the *working* mask with the truth (not the model's prediction): it is the map of what is
still wrong while the user corrects, so painting a fix turns that spot green at once. The model's own error map
(original prediction against truth) is offered too, computed on first request and kept, since neither mask
changes.

Ignore id in the working mask: the label set's ignore id ("unlabelled") may be painted, erased to (the eraser
writes it when the label set has one: :attr:`ImageSession.erase_value`) or come from the ground truth (reset to
ground truth, or a working mask started from it). A pixel that *either* side of a comparison
marks with the ignore id is not scored, and the error map shows it as IGNORED. This extends the metrics
module's rule (ignore id in the truth = not scored) symmetrically: the working mask is an annotation, not a
model output that must commit to a class everywhere, so "unlabelled" is a legitimate answer that neither earns
nor loses points.

Scope: class-index (semantic) masks only. Instance masks (one id per object) are out of scope for now.

Coordinates are ``(x, y)`` floats in image pixels with pixel centres on integers, as in
:mod:`segstudio.core.editing`. Not thread-safe: use a session from one thread (the GUI thread).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from segstudio.core.document import DEFAULT_BYTE_BUDGET, MaskDocument
from segstudio.core.editing import (
    Connectivity,
    PaintScope,
    Point,
    PolygonLike,
    brush_stamp,
    eraser_stamp,
    flood_fill_stamp,
    polygon_stamp,
)
from segstudio.core.error_map import ErrorKind, error_map
from segstudio.core.geometry import Rect
from segstudio.core.labels import LabelSet, erase_value_for
from segstudio.core.metrics import Scores
from segstudio.core.tracker import IncrementalConfusion

#: ``listener(rect)``: the working mask (and the error map) changed inside ``rect``.
SessionListener = Callable[[Rect], None]

_DEFAULT_SCOPE = PaintScope()  # paint over anything (a frozen value, safe to share)

FROM_LABELS: object = object()  # "background": take the label set's (LabelSet.background)


class NoEraseValue(ValueError):
    """The eraser has nothing to write: the label set has neither an ignore ("unlabelled") id nor a background
    class, so every value is a real class and writing any of them (class 0 was the old guess: Sky on CamVid)
    would be a wrong annotation, not an erasure."""

    MESSAGE = (
        "this label set has no background class and no unlabelled value, so the eraser has nothing to write; "
        "add an ignore id (\"ignore_index\") or a background class (\"background\") to the labels in the project file"
    )

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


class StalePrediction(ValueError):
    """The working mask changed after the prediction was prepared: prepare it again from the newer mask."""


class WorkingSource(Enum):
    """Where the working mask a session started with came from (:meth:`ImageSession.start` picks one)."""

    AUTOSAVE = "unsaved work recovered from an autosave"
    CORRECTION = "the saved correction"
    PREDICTION = "the model's prediction"
    GROUND_TRUTH = "the ground truth"
    BLANK = "a blank mask (every pixel unlabelled, or background where there is no unlabelled value)"


def mask_dtype(labels: LabelSet) -> np.dtype:
    """The working mask's type for ``labels``: uint8 when every id (ignore id included) fits a byte, else uint16."""
    top = labels.num_classes - 1
    if labels.ignore_index is not None:
        top = max(top, labels.ignore_index)
    if top > np.iinfo(np.uint16).max:
        raise ValueError(f"label set ids reach {top}; a class mask holds at most 65535")
    return np.dtype(np.uint8) if top <= 255 else np.dtype(np.uint16)


class _Comparison:
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
        self._tracker.update(rect, self._mapped(before), self._mapped(after))

    def scores(self) -> Scores:
        n = self._n
        return Scores.from_confusion(self._tracker.confusion[:n, :n], self._names)


class ImageSession:
    """Everything about the image being edited: masks, edits, undo, live scores and the error map.

    ``image``: ``(H, W)`` grey or ``(H, W, 3)`` RGB (any dtype; kept as a read-only view, for display).
    ``ground_truth``, ``prediction``: ``(H, W)`` class masks or None; held as read-only views and never
    written (they must not change while the session lives). A label set whose ignore id is not its class count
    (VOC's 255) costs each comparison one remapped copy of its reference. ``working``: the mask to start editing from,
    copied into the document as :func:`mask_dtype`. ``working_source`` says where it came from (see
    :meth:`start`, which chooses). ``background`` is the class the error map treats as "nothing there"
    (None: no class is; by default the label set's :attr:`~LabelSet.background`). ``byte_budget`` caps the undo history.

    Opening checks every mask's values (one pass each) and counts both comparisons and the error map in full:
    about 1.6 s for 8192x8192 on two busy cores, so open sessions of huge images on a worker. After that an
    edit costs in proportion to its rectangle (a brush segment with both readouts: about 0.13 ms at 1024x1024
    and at 8192x8192 alike).

    Every edit returns the rectangle it changed (empty when nothing changed) and, after the scores and the
    error map are current, calls each listener added with :meth:`add_listener` with that rectangle, so a view
    repaints only there. Undo and redo return None when there is nothing to undo or redo.
    """

    def __init__(
        self,
        image: np.ndarray,
        labels: LabelSet,
        *,
        ground_truth: np.ndarray | None,
        prediction: np.ndarray | None,
        working: np.ndarray,
        working_source: WorkingSource,
        background: int | None | object = FROM_LABELS,
        byte_budget: int = DEFAULT_BYTE_BUDGET,
    ) -> None:
        image = np.asarray(image)
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise ValueError(f"an image is (H, W) grey or (H, W, 3) colour, got an array of shape {image.shape}")
        self._shape: tuple[int, int] = (int(image.shape[0]), int(image.shape[1]))
        self._image = _read_only(image)
        self._labels = labels
        self._dtype = mask_dtype(labels)
        self._background = labels.background if background is FROM_LABELS else background  # type: ignore[assignment]
        self._working_source = WorkingSource(working_source)
        self._truth = None if ground_truth is None else _read_only(self._checked(ground_truth, "the ground truth"))
        self._prediction = None if prediction is None else _read_only(self._checked(prediction, "the prediction"))
        working = self._as_working(working, "the working mask")

        self._document = MaskDocument(working, byte_budget)
        mask = self._document.mask
        self._vs_truth = None if self._truth is None else _Comparison(self._truth, mask, labels)
        self._vs_prediction = (
            None if self._prediction is None else _Comparison(self._prediction, mask, labels)
        )
        self._errors: np.ndarray | None = None
        self._errors_view: np.ndarray | None = None
        if self._truth is not None:
            self._errors = np.empty(self._shape, dtype=np.uint8)
            self._fill_errors(self._errors, self._truth, mask, Rect.full(self._shape))
            self._errors_view = _read_only(self._errors)
        self._prediction_errors: np.ndarray | None = None
        self._listeners: list[SessionListener] = []
        self._document.add_listener(self._on_change)

    @classmethod
    def start(
        cls,
        image: np.ndarray,
        labels: LabelSet,
        *,
        ground_truth: np.ndarray | None = None,
        prediction: np.ndarray | None = None,
        correction: np.ndarray | None = None,
        recovered: np.ndarray | None = None,
        background: int | None | object = FROM_LABELS,
        byte_budget: int = DEFAULT_BYTE_BUDGET,
    ) -> ImageSession:
        """A session whose working mask is the saved ``correction``, else the ``prediction``, else the
        ``ground_truth``, else blank (the label set's :attr:`~LabelSet.erase_value`: unlabelled, else background, else
        class 0); :attr:`working_source` says which.

        ``recovered`` (an autosave the user chose to restore) is applied on top of that start as one undo
        step, so the session is dirty (the recovered work is not saved yet) and Ctrl+Z goes back to the
        saved state; :attr:`working_source` is then AUTOSAVE.
        """
        if correction is not None:
            working, source = correction, WorkingSource.CORRECTION
        elif prediction is not None:
            working, source = prediction, WorkingSource.PREDICTION
        elif ground_truth is not None:
            working, source = ground_truth, WorkingSource.GROUND_TRUTH
        else:
            shape = np.shape(image)[:2]
            # What the eraser writes (unlabelled, else background): never a real class like CamVid's Sky. A label
            # set with neither starts at class 0, the only value it has.
            fill = labels.erase_value if labels.erase_value is not None else 0
            working, source = np.full(shape, fill, dtype=mask_dtype(labels)), WorkingSource.BLANK
        session = cls(
            image,
            labels,
            ground_truth=ground_truth,
            prediction=prediction,
            working=working,
            working_source=source,
            background=background,
            byte_budget=byte_budget,
        )
        if recovered is not None:
            session._document.replace(session._as_working(recovered, "the recovered autosave"))
            session._working_source = WorkingSource.AUTOSAVE
        return session

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def image(self) -> np.ndarray:
        """The image (read-only view)."""
        return self._image

    @property
    def labels(self) -> LabelSet:
        return self._labels

    def relabel(self, labels: LabelSet) -> None:
        """Switch to an edited label set in which no id shifts: classes renamed, recoloured or added at the end,
        the same ignore id and mask dtype. Masks are untouched; with more classes the scores are recounted
        (one pass over the image). Anything else (a removed or reordered class) raises ValueError."""
        old = self._labels
        if (
            labels.num_classes < old.num_classes
            or labels.ignore_index != old.ignore_index
            or mask_dtype(labels) != self._dtype
        ):
            raise ValueError(f"relabel only renames, recolours or adds classes; got {_describe(labels)} "
                             f"for a session labelled {_describe(old)}")
        self._labels = labels
        if labels.num_classes != old.num_classes:
            mask = self._document.mask
            self._vs_truth = None if self._truth is None else _Comparison(self._truth, mask, labels)
            self._vs_prediction = None if self._prediction is None else _Comparison(self._prediction, mask, labels)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the image and every mask."""
        return self._shape

    @property
    def background(self) -> int | None:
        return self._background

    @property
    def erase_value(self) -> int | None:
        """What :meth:`erase` writes: the ignore id, else the background class (this session's), else None,
        when :meth:`erase` raises :class:`NoEraseValue` (the rule: :func:`~segstudio.core.labels.erase_value_for`)."""
        return erase_value_for(self._labels.ignore_index, self._background)

    def paint_scope(self, *, keep_other_classes: bool = False, only_over: int | None = None) -> PaintScope:
        """A scope whose free values ("keep other classes" may overwrite them) are this session's background
        class and the label set's ignore id, those that exist; never a guessed class 0."""
        return PaintScope(
            only_over=only_over,
            keep_other_classes=keep_other_classes,
            background=self._background,
            unlabelled=self._labels.ignore_index,
        )

    @property
    def working_source(self) -> WorkingSource:
        return self._working_source

    @property
    def ground_truth(self) -> np.ndarray | None:
        return self._truth

    @property
    def prediction(self) -> np.ndarray | None:
        """The model's original prediction (read-only); edits never change it."""
        return self._prediction

    @property
    def mask(self) -> np.ndarray:
        """The working mask, live and read-only: copy it to keep a snapshot (e.g. to save it)."""
        return self._document.mask

    @property
    def error_map(self) -> np.ndarray | None:
        """Working mask vs ground truth as :class:`ErrorKind` values (live, read-only); None without truth."""
        return self._errors_view

    def prediction_error_map(self) -> np.ndarray | None:
        """Original prediction vs ground truth (read-only), computed on the first call and kept; None unless
        both exist."""
        if self._truth is None or self._prediction is None:
            return None
        if self._prediction_errors is None:
            errors = np.empty(self._shape, dtype=np.uint8)
            self._fill_errors(errors, self._truth, self._prediction, Rect.full(self._shape))
            self._prediction_errors = _read_only(errors)
        return self._prediction_errors

    def scores_vs_truth(self) -> Scores | None:
        """Working mask (as the prediction side) against the ground truth, O(classes); None without truth."""
        return None if self._vs_truth is None else self._vs_truth.scores()

    def scores_vs_prediction(self) -> Scores | None:
        """Working mask against the model's original prediction (rows: the prediction), O(classes): how
        much the user changed. None without a prediction."""
        return None if self._vs_prediction is None else self._vs_prediction.scores()

    def class_at(self, x: float, y: float) -> int | None:
        """The working mask's value at the pixel nearest ``(x, y)``; None outside the image."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        col, row = math.floor(x + 0.5), math.floor(y + 0.5)
        height, width = self._shape
        if not (0 <= row < height and 0 <= col < width):
            return None
        return int(self._document.mask[row, col])

    @property
    def revision(self) -> int:
        """Grows with every pixel change (edits, undo, redo): for caches and autosave timers."""
        return self._document.revision

    @property
    def dirty(self) -> bool:
        """True when the working mask differs from the last :meth:`mark_saved` (or from the start)."""
        return self._document.dirty

    def mark_saved(self) -> None:
        self._document.mark_saved()

    @property
    def can_undo(self) -> bool:
        return self._document.history.can_undo or self._document.in_stroke

    @property
    def can_redo(self) -> bool:
        return self._document.history.can_redo

    @property
    def in_stroke(self) -> bool:
        return self._document.in_stroke

    # -- listeners -------------------------------------------------------------------------------------

    def add_listener(self, listener: SessionListener) -> None:
        """Call ``listener(rect)`` after every change of the working mask, once the scores and the error map
        include it (inside a stroke: after every dab). Never called for edits that change nothing."""
        self._listeners.append(listener)

    def remove_listener(self, listener: SessionListener) -> None:
        try:
            self._listeners.remove(listener)
        except ValueError:
            raise ValueError("that listener was never added to this session") from None

    # -- editing ---------------------------------------------------------------------------------------

    def begin_stroke(self) -> None:
        """Mouse press: the paints and erases until :meth:`end_stroke` become one undo step."""
        self._document.begin_stroke()

    def end_stroke(self) -> Rect:
        """Mouse release: close the stroke; returns the box of its net change (pixels were already
        reported dab by dab, so listeners are not called again)."""
        return self._document.end_stroke()

    # Every edit takes a PaintScope for only_over and keep_other_classes, but which values are free to overwrite
    # is the label set's business, so the session sets them itself (:meth:`_bound`) whatever the caller passed.

    def paint(self, start: Point, end: Point, *, radius: float, value: int, scope: PaintScope = _DEFAULT_SCOPE) -> Rect:
        """A round brush of ``radius`` from ``start`` to ``end`` (one mouse-move segment) in class ``value``."""
        self._check_value(value)
        return self._document.apply(brush_stamp(self._document.mask, start, end, radius, value, self._bound(scope)))

    def erase(self, start: Point, end: Point, *, radius: float, scope: PaintScope = _DEFAULT_SCOPE) -> Rect:
        """The brush painting :attr:`erase_value` (see :func:`~segstudio.core.editing.eraser_stamp`); the erased
        pixels read as the ignore id ("Unlabelled") and drop out of the scores. Raises :class:`NoEraseValue`,
        writing nothing, when the label set has no value to erase to."""
        value = self.erase_value
        if value is None:
            raise NoEraseValue()
        self._check_value(value)
        return self._document.apply(eraser_stamp(self._document.mask, start, end, radius, self._bound(scope), value))

    def fill(
        self,
        seed: Point,
        value: int,
        *,
        connectivity: int = Connectivity.FOUR,
        contiguous: bool = True,
        scope: PaintScope = _DEFAULT_SCOPE,
    ) -> Rect:
        """Flood fill from ``seed`` (see :func:`~segstudio.core.editing.flood_fill_stamp`); one undo step."""
        self._check_value(value)
        stamp = flood_fill_stamp(
            self._document.mask, seed, value, connectivity=connectivity, contiguous=contiguous, scope=self._bound(scope)
        )
        return self._document.apply(stamp)

    def fill_polygon(self, vertices: PolygonLike | Sequence[Point], value: int, scope: PaintScope = _DEFAULT_SCOPE) -> Rect:
        """Fill the polygon's pixels (centres inside) with ``value``; one undo step."""
        self._check_value(value)
        return self._document.apply(polygon_stamp(self._document.mask, vertices, value, self._bound(scope)))

    def undo(self) -> Rect | None:
        """Revert the last undo step (a stroke still open is closed first); None when there is none."""
        return self._document.undo()

    def redo(self) -> Rect | None:
        return self._document.redo()

    def prepare_prediction(self, prediction: np.ndarray) -> Callable[[], PreparedPrediction]:
        """A new model prediction, in two parts: this call (GUI thread) only copies the working mask; the function it
        returns does the O(image) work (checking the mask, counting it against the working mask) and may run on a
        worker; :meth:`set_prediction` then attaches the result in O(1).

        An untouched session that started from the old prediction, the ground truth or a blank mask gets a fresh
        start from the new prediction (the usual "correct the model" start; it has no work to keep). Any other
        session keeps its working mask and its whole undo history; only the prediction and the "vs prediction"
        figures change."""
        height, width = self._shape
        if np.shape(prediction) != (height, width):
            raise ValueError(f"the prediction is {np.shape(prediction)} but the image is {(height, width)}")
        revision, labels = self.revision, self._labels
        if not self.dirty and self._working_source in (
            WorkingSource.PREDICTION, WorkingSource.GROUND_TRUTH, WorkingSource.BLANK
        ):
            image, truth, background = self._image, self._truth, self._background

            def restart() -> PreparedPrediction:
                fresh = ImageSession.start(image, labels, ground_truth=truth, prediction=prediction, background=background)
                return PreparedPrediction(fresh.prediction, revision, None, fresh)  # type: ignore[arg-type]

            return restart
        working = self._document.mask.copy()

        def keep_work() -> PreparedPrediction:
            checked = _read_only(self._checked(prediction, "the prediction"))
            return PreparedPrediction(checked, revision, _Comparison(checked, working, labels), None)

        return keep_work

    def set_prediction(self, prepared: PreparedPrediction) -> ImageSession:
        """Attach a prediction made ready by :meth:`prepare_prediction`; returns the session to show: this one
        (working mask and undo history kept), or the fresh start of an untouched session.
        :class:`StalePrediction` when the working mask changed since it was prepared."""
        if prepared.revision != self.revision or self.in_stroke:
            raise StalePrediction("the working mask changed while the prediction was being prepared; prepare it again")
        if prepared.replacement is not None:
            return prepared.replacement
        assert prepared.comparison is not None
        self._prediction = prepared.prediction
        self._vs_prediction = prepared.comparison
        self._prediction_errors = None
        return self

    def accept_prediction(self) -> Rect:
        """Working mask := the model's original prediction, as one undo step."""
        if self._prediction is None:
            raise ValueError("this image has no prediction to accept; predict it first")
        return self._document.replace(self._prediction)

    def reset_to_ground_truth(self) -> Rect:
        """Working mask := the ground truth, as one undo step."""
        if self._truth is None:
            raise ValueError("this image has no ground truth to reset to")
        return self._document.replace(self._truth)

    # -- internals -------------------------------------------------------------------------------------

    def _bound(self, scope: PaintScope) -> PaintScope:
        """``scope`` with this session's free values (a default PaintScope would call class 0 background)."""
        background, unlabelled = self._background, self._labels.ignore_index
        if scope.background == background and scope.unlabelled == unlabelled:
            return scope
        return PaintScope(scope.only_over, scope.keep_other_classes, background, unlabelled)

    def _on_change(self, rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        if self._vs_truth is not None:
            self._vs_truth.update(rect, before, after)
        if self._vs_prediction is not None:
            self._vs_prediction.update(rect, before, after)
        if self._errors is not None and self._truth is not None:
            self._fill_errors(self._errors, self._truth, self._document.mask, rect)
        for listener in list(self._listeners):
            listener(rect)

    def _fill_errors(self, out: np.ndarray, truth: np.ndarray, other: np.ndarray, rect: Rect) -> None:
        """``out[rect]`` := error kinds of ``other`` against ``truth``, IGNORED where either holds the ignore id."""
        if rect.is_empty:
            return
        ignore = self._labels.ignore_index
        error_map(truth, other, background=self._background, ignore_index=ignore, out=out, rect=rect)
        if ignore is not None:
            region = out[rect.slices]
            region[other[rect.slices] == ignore] = ErrorKind.IGNORED

    def _check_value(self, value: int) -> None:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"a class value is an integer id, got {value!r}")
        if not self._labels.is_valid_value(int(value)):
            raise ValueError(f"class {value} is not in the label set ({_describe(self._labels)})")

    def _checked(self, mask: np.ndarray, role: str) -> np.ndarray:
        """``mask`` as an array, checked: 2-D, the image's size, integers, each a class id or the ignore id."""
        array = np.asarray(mask)
        if array.ndim != 2:
            raise ValueError(f"{role} must be a 2-D class mask, got an array of shape {array.shape}")
        if array.shape != self._shape:
            raise ValueError(
                f"{role} is {array.shape[1]}x{array.shape[0]} but the image is {self._shape[1]}x{self._shape[0]}; "
                "resize it to the image first"
            )
        if array.dtype == bool:
            array = array.view(np.uint8)
        if array.dtype.kind not in "ui":
            raise ValueError(f"{role} must hold integer class ids, got dtype {array.dtype}")
        if array.size:
            low, high = int(array.min()), int(array.max())
            if low < 0 or high > np.iinfo(np.uint16).max:
                raise ValueError(f"{role} holds values {low}..{high}, outside the label set ({_describe(self._labels)})")
            counts = np.bincount(array.ravel(), minlength=high + 1)
            bad = [v for v in np.flatnonzero(counts).tolist() if not self._labels.is_valid_value(v)]
            if bad:
                listed = ", ".join(map(str, bad[:8])) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
                raise ValueError(f"{role} holds values {listed}, outside the label set ({_describe(self._labels)})")
        return array

    def _as_working(self, mask: np.ndarray, role: str) -> np.ndarray:
        """``mask`` checked and converted to the working mask's type."""
        return np.ascontiguousarray(self._checked(mask, role), dtype=self._dtype)


def _describe(labels: LabelSet) -> str:
    text = f"classes 0..{labels.num_classes - 1}"
    if labels.ignore_index is not None:
        text += f", ignore id {labels.ignore_index}"
    return text


def _read_only(array: np.ndarray) -> np.ndarray:
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class PreparedPrediction:
    """A new prediction made ready on a worker (see :meth:`ImageSession.prepare_prediction`): the checked mask, the
    working-mask revision it was counted against, and either that count (the work is kept) or a fresh session."""

    prediction: np.ndarray
    revision: int
    comparison: _Comparison | None
    replacement: ImageSession | None


__all__ = [
    "ImageSession", "NoEraseValue", "PreparedPrediction", "SessionListener", "StalePrediction", "WorkingSource",
    "mask_dtype",
]
