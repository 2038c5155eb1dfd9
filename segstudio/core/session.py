"""One image being corrected: its masks, the edits, the live scores and the error map, without any Qt.

An :class:`ImageSession` holds everything the desktop app needs about the image on screen, so the window
only displays it and forwards the user's gestures:

- the image and the fixed masks it is compared with: the ground truth and the model's original prediction
  (either may be missing);
- the working mask, owned by a :class:`~segstudio.core.document.MaskDocument` (the one writer of its pixels,
  with undo/redo per stroke), and where it started from (:mod:`segstudio.core.working_source`);
- the live readouts (:class:`~segstudio.core.live_readouts.LiveReadouts`): two running confusion matrices, working
  mask against the ground truth ("how good is it") and against the original prediction ("how much did the user
  change"), and the error map of the working mask against the ground truth, one uint8
  :class:`~segstudio.core.error_map.ErrorKind` per pixel, all kept current from the rectangle every edit reports,
  so readouts cost O(classes) however big the image.

Ignore id in the working mask: the label set's ignore id ("unlabelled") may be painted, erased to (the eraser
writes it when the label set has one: :attr:`ImageSession.erase_value`) or come from the ground truth (reset to
ground truth, or a working mask started from it). A pixel that *either* side of a comparison marks with the
ignore id is not scored, and the error map shows it as IGNORED (:mod:`segstudio.core.mask_comparison` states the
rule and why). Every mask is checked against the label set on the way in (:mod:`segstudio.core.class_masks`).

Instances: a session given :class:`~segstudio.core.instance_start.InstanceSources` (Penn-Fudan, a Mask R-CNN
prediction) edits instances, the class mask derived from them (:mod:`segstudio.core.working_masks`): everything
that reads classes works unchanged, and every object edit is one undo step of the same history.

Coordinates are ``(x, y)`` floats in image pixels with pixel centres on integers, as in
:mod:`segstudio.core.editing`. Not thread-safe: use a session from one thread (the GUI thread).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from segstudio.core.class_masks import check_class_mask, check_class_value, describe_labels, mask_dtype, read_only
from segstudio.core.document import DEFAULT_BYTE_BUDGET
from segstudio.core.editing import Connectivity, Point, brush_stamp, eraser_stamp, flood_fill_stamp, polygon_stamp
from segstudio.core.error_regions import ErrorRegion, RegionFix, error_regions, region_at, region_values
from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.instance_layer import InstanceLayer
from segstudio.core.instance_start import InstanceSources, instance_editing_problem
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet, erase_value_for
from segstudio.core.live_instance_figures import InstanceFigures, LiveInstanceFigures
from segstudio.core.live_readouts import LiveReadouts
from segstudio.core.metrics import Scores
from segstudio.core.paint_scope import PaintScope
from segstudio.core.polygon_raster import PolygonLike
from segstudio.core.outlines import EditableOutline, outline_covers, written_back
from segstudio.core.stamp import Stamp
from segstudio.core.prediction_handover import PreparedPrediction, StalePrediction, prediction_job, starts_again
from segstudio.core.working_masks import ClassWork, InstanceWork
from segstudio.core.working_source import WorkingSource, starting_mask

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


class ImageSession:
    """Everything about the image being edited: masks, edits, undo, live scores and the error map.

    ``image``: ``(H, W)`` grey or ``(H, W, 3)`` RGB (any dtype; kept as a read-only view, for display).
    ``ground_truth``, ``prediction``: ``(H, W)`` class masks or None; held as read-only views and never
    written (they must not change while the session lives). A label set whose ignore id is not its class count
    (VOC's 255) costs each comparison one remapped copy of its reference. ``working``: the mask to start editing from,
    copied into the document as :func:`~segstudio.core.class_masks.mask_dtype`. ``working_source`` says where it
    came from (see :meth:`start`, which chooses). ``background`` is the class the error map treats as "nothing there"
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
        instances: InstanceSources | None = None,
        working_instances: InstanceMask | None = None,
    ) -> None:
        image = np.asarray(image)
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise ValueError(f"an image is (H, W) grey or (H, W, 3) colour, got an array of shape {image.shape}")
        self._shape: tuple[int, int] = (int(image.shape[0]), int(image.shape[1]))
        self._image = read_only(image)
        self._labels = labels
        self._dtype = mask_dtype(labels)
        self._background = labels.background if background is FROM_LABELS else background  # type: ignore[assignment]
        self._working_source = WorkingSource(working_source)
        truth = None if ground_truth is None else read_only(self._checked(ground_truth, "the ground truth"))
        predicted = None if prediction is None else read_only(self._checked(prediction, "the prediction"))
        working = self._as_working(working, "the working mask")

        self._work: ClassWork | InstanceWork = ClassWork(working, byte_budget)
        if instances is not None and instance_editing_problem(labels) is None and self._background is not None:
            self._work = InstanceWork(instances, working_instances, working, labels, self._background, self._dtype,
                                      byte_budget)
        self._document = self._work.document
        self._readouts = LiveReadouts(self._work.classes, labels, self._background, truth=truth, prediction=predicted)
        self._work.add_listener(self._readouts.on_change)

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
        instances: InstanceSources | None = None,
    ) -> ImageSession:
        """A session whose working mask is the saved ``correction``, else the ``prediction``, else the
        ``ground_truth``, else blank (the label set's :attr:`~LabelSet.erase_value`: unlabelled, else background, else
        class 0); :attr:`working_source` says which.

        ``recovered`` (an autosave the user chose to restore) is applied on top of that start as one undo
        step, so the session is dirty (the recovered work is not saved yet) and Ctrl+Z goes back to the
        saved state; :attr:`working_source` is then AUTOSAVE.

        ``instances``: the image's instance masks, for an instance session (see the module notes); the instances of
        the chosen source come with its class mask. A ``recovered`` :class:`InstanceMask` puts back instance work.
        """
        working, source = starting_mask(
            np.shape(image)[:2], labels, correction=correction, prediction=prediction, ground_truth=ground_truth
        )
        session = cls(
            image,
            labels,
            ground_truth=ground_truth,
            prediction=prediction,
            working=working,
            working_source=source,
            background=background,
            byte_budget=byte_budget,
            instances=instances,
            working_instances=None if instances is None else instances.of(source),
        )
        if recovered is not None:
            classes = recovered.to_class_mask(session._dtype) if isinstance(recovered, InstanceMask) else recovered
            session._work.restore(recovered, session._as_working(classes, "the recovered autosave"))
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
            raise ValueError(f"relabel only renames, recolours or adds classes; got {describe_labels(labels)} "
                             f"for a session labelled {describe_labels(old)}")
        self._labels = labels
        if labels.num_classes != old.num_classes:
            self._readouts.recount(labels)

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
        return self._readouts.truth

    @property
    def prediction(self) -> np.ndarray | None:
        """The model's original prediction (read-only); edits never change it."""
        return self._readouts.prediction

    @property
    def mask(self) -> np.ndarray:
        """The working mask, live and read-only: copy it to keep a snapshot (e.g. to save it)."""
        return self._work.classes

    @property
    def instances(self) -> InstanceLayer | None:
        """The working instances of an instance session (None: a class-mask session)."""
        return self._work.layer

    @property
    def instance_sources(self) -> InstanceSources | None:
        return self._work.sources

    def instance_figures(self, threshold: float = 0.5) -> InstanceFigures | None:
        """Each working instance's IoU with its matched ground-truth object and the matching at ``threshold``
        (O(instances x objects)); None unless this is an instance session with ground-truth instances."""
        figures = self._work.figures
        return None if figures is None else figures.figures(threshold)

    @property
    def live_instance_figures(self) -> LiveInstanceFigures | None:
        return self._work.figures

    @property
    def error_map(self) -> np.ndarray | None:
        """Working mask vs ground truth as :class:`~segstudio.core.error_map.ErrorKind` values (live, read-only);
        None without truth."""
        return self._readouts.error_map

    def prediction_error_map(self) -> np.ndarray | None:
        """Original prediction vs ground truth (read-only), computed on the first call and kept; None unless
        both exist."""
        return self._readouts.prediction_error_map()

    def scores_vs_truth(self) -> Scores | None:
        """Working mask (as the prediction side) against the ground truth, O(classes); None without truth."""
        return self._readouts.scores_vs_truth()

    def scores_vs_prediction(self) -> Scores | None:
        """Working mask against the model's original prediction (rows: the prediction), O(classes): how
        much the user changed. None without a prediction."""
        return self._readouts.scores_vs_prediction()

    def class_at(self, x: float, y: float) -> int | None:
        """The working mask's value at the pixel nearest ``(x, y)``; None outside the image."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        col, row = math.floor(x + 0.5), math.floor(y + 0.5)
        height, width = self._shape
        if not (0 <= row < height and 0 <= col < width):
            return None
        return int(self.mask[row, col])

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
        self._readouts.add_listener(listener)

    def remove_listener(self, listener: SessionListener) -> None:
        self._readouts.remove_listener(listener)

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
        check_class_value(value, self._labels)
        key = self._work.paint_value(value)
        return self._document.apply(brush_stamp(self._document.mask, start, end, radius, key, self._bound(scope)))

    def erase(self, start: Point, end: Point, *, radius: float, scope: PaintScope = _DEFAULT_SCOPE) -> Rect:
        """The brush painting :attr:`erase_value` (see :func:`~segstudio.core.editing.eraser_stamp`); the erased
        pixels read as the ignore id ("Unlabelled") and drop out of the scores. Raises :class:`NoEraseValue`,
        writing nothing, when the label set has no value to erase to."""
        value = self.erase_value
        if value is None:
            raise NoEraseValue()
        check_class_value(value, self._labels)
        scope = self._work.erase_scope(self._bound(scope))
        return self._document.apply(eraser_stamp(self._document.mask, start, end, radius, scope, value))

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
        check_class_value(value, self._labels)
        stamp = flood_fill_stamp(self._document.mask, seed, self._work.paint_value(value), connectivity=connectivity,
                                 contiguous=contiguous, scope=self._bound(scope))
        return self._document.apply(stamp)

    def fill_polygon(self, vertices: PolygonLike | Sequence[Point], value: int, scope: PaintScope = _DEFAULT_SCOPE) -> Rect:
        """Fill the polygon's pixels (centres inside) with ``value``; one undo step."""
        check_class_value(value, self._labels)
        key = self._work.paint_value(value)
        return self._document.apply(polygon_stamp(self._document.mask, vertices, key, self._bound(scope)))

    def write_selection(self, select: Callable[[np.ndarray, int, PaintScope], Stamp], value: int,
                        scope: PaintScope = _DEFAULT_SCOPE) -> Rect:
        """An image-driven tool's selection written in class ``value`` as one undo step (inside a stroke: part of
        it). ``select(mask, written value, scope)`` makes the stamp from the document's live mask (instance keys
        in an instance session, which the scope's free values treat alike)."""
        check_class_value(value, self._labels)
        key = self._work.paint_value(value)
        return self._document.apply(select(self._document.mask, key, self._bound(scope)))

    def write_found(self, found: Stamp, value: int, scope: PaintScope = _DEFAULT_SCOPE) -> Rect:
        """Pixels a tool found (``found``: its box and bool pixels, computed off the live mask, e.g. on a worker)
        written in class ``value`` where ``scope`` lets them be, as one undo step (:meth:`write_selection`)."""
        if found.is_empty:
            return EMPTY_RECT
        return self.write_selection(
            lambda mask, key, bound: Stamp(found.rect, found.pixels & bound.writable(mask[found.rect.slices], key), key),
            value, scope)

    def write_outline(self, source: Rect, region: np.ndarray, outline: EditableOutline) -> Rect:
        """An edited outline written back over the region it was traced from (``region``: its pixels in the box
        ``source``), as one undo step (:func:`~segstudio.core.outlines.written_back`). On an instance image the
        outline's value is the key of the object it was traced from (:attr:`InstanceLayer.keys`), and pixels it gives up
        become background, as a deleted object's do."""
        layer = self._work.layer
        if layer is not None:
            if layer.owner_of(outline.value) is None:
                raise ValueError(f"key {outline.value} is no object of this image: trace the outline again")
            box, values = written_back(self._document.mask, source, region, outline, erase_value=self._background)
            return self._document.replace_region(box, values)
        check_class_value(outline.value, self._labels)
        if self.erase_value is None and not outline_covers(outline, source, region, self._shape):
            raise NoEraseValue()
        box, values = written_back(self._document.mask, source, region, outline, erase_value=self.erase_value)
        return self._document.replace_region(box, values)

    def undo(self) -> Rect | None:
        """Revert the last undo step (a stroke still open is closed first); None when there is none."""
        return self._document.undo()

    def redo(self) -> Rect | None:
        return self._document.redo()

    def prepare_prediction(
        self, prediction: np.ndarray, instances: InstanceMask | None = None
    ) -> Callable[[], PreparedPrediction[ImageSession]]:
        """A new model prediction, in two parts: this call (GUI thread) only copies the working mask; the function it
        returns does the O(image) work (checking the mask, counting it against the working mask) and may run on a
        worker; :meth:`set_prediction` then attaches the result in O(1). An untouched session starts again from the
        new prediction; any other keeps its work and undo history (:mod:`segstudio.core.prediction_handover`)."""
        image, labels, truth, background = self._image, self._labels, self._readouts.truth, self._background
        sources = self._work.sources
        if sources is not None:
            sources = dataclasses.replace(sources, prediction=instances)
        elif instances is not None:  # an instance model's objects: a fresh start corrects them as instances
            sources = InstanceSources(prediction=instances)

        def restart() -> ImageSession:
            return ImageSession.start(image, labels, ground_truth=truth, prediction=prediction, background=background,
                                      instances=sources)

        fresh = restart if starts_again(self.dirty, self._working_source) else None
        job = prediction_job(prediction, revision=self.revision, working=self.mask, labels=labels,
                             check=self._checked, start_again=fresh)
        return job if instances is None else lambda: dataclasses.replace(job(), instances=instances)

    def set_prediction(self, prepared: PreparedPrediction[ImageSession]) -> ImageSession:
        """Attach a prediction made ready by :meth:`prepare_prediction`; returns the session to show: this one
        (working mask and undo history kept), or the fresh start of an untouched session.
        :class:`~segstudio.core.prediction_handover.StalePrediction` when the working mask changed since it was
        prepared."""
        if prepared.revision != self.revision or self.in_stroke:
            raise StalePrediction("the working mask changed while the prediction was being prepared; prepare it again")
        if prepared.replacement is not None:
            return prepared.replacement
        assert prepared.comparison is not None
        self._readouts.set_prediction(prepared.prediction, prepared.comparison)
        self._work.with_prediction(prepared.instances if isinstance(prepared.instances, InstanceMask) else None)
        return self

    def accept_prediction(self) -> Rect:
        """Working mask := the model's original prediction, as one undo step."""
        prediction = self._readouts.prediction
        if prediction is None:
            raise ValueError("this image has no prediction to accept; predict it first")
        sources = self._work.sources
        return self._work.replace(prediction, None if sources is None else sources.prediction)

    def reset_to_ground_truth(self) -> Rect:
        """Working mask := the ground truth, as one undo step."""
        truth = self._readouts.truth
        if truth is None:
            raise ValueError("this image has no ground truth to reset to")
        sources = self._work.sources
        return self._work.replace(truth, None if sources is None else sources.truth)

    # -- error regions -----------------------------------------------------------------------------------

    def error_regions(self, *, min_area: int = 1, within: Rect | None = None) -> list[ErrorRegion]:
        """The working mask's error regions against the ground truth, largest first (none without truth);
        ``within``: only that part of the image."""
        errors = self._readouts.error_map
        return [] if errors is None else error_regions(errors, min_area=min_area, within=within)

    def error_region_at(self, x: float, y: float, *, within: Rect | None = None) -> ErrorRegion | None:
        """The error region under ``(x, y)`` (None: no error there, or no ground truth); ``within``: look only
        there."""
        errors = self._readouts.error_map
        return None if errors is None else region_at(errors, x, y, within=within)

    def fix_error_region(self, region: ErrorRegion, fix: RegionFix, value: int | None = None) -> Rect:
        """The region's pixels take the ground truth, the prediction or class ``value``: one undo step. On an
        instance image the pixels join objects (:meth:`InstanceLayer.take_region`): the ground truth's or the
        model's object there, as the instance already holding most of it or a new one; a class ``value`` paints
        them into the current instance of that class, else a new one."""
        source: np.ndarray | int | None = {RegionFix.TRUTH: self._readouts.truth,
                                           RegionFix.PREDICTION: self._readouts.prediction}.get(fix, value)
        if source is None:
            missing = {RegionFix.TRUTH: "ground truth", RegionFix.PREDICTION: "prediction"}.get(fix, "class")
            raise ValueError(f"this image has no {missing} to take")
        if isinstance(source, int):
            check_class_value(source, self._labels)
        layer = self._work.layer
        if layer is None:
            return self._document.replace_region(region.rect, region_values(region, self.mask, source))
        if isinstance(source, int):
            key = self._work.paint_value(source)
            values = np.array(self._document.mask[region.rect.slices], copy=True)
            values[region.pixels] = key
            return self._document.replace_region(region.rect, values)
        sources = self.instance_sources
        objects = None if sources is None else (sources.truth if fix is RegionFix.TRUTH else sources.prediction)
        return layer.take_region(region.rect, region.pixels, objects, source)

    # -- internals -------------------------------------------------------------------------------------

    def _bound(self, scope: PaintScope) -> PaintScope:
        """``scope`` with this session's free values (a default PaintScope would call class 0 background)."""
        background, unlabelled = self._background, self._labels.ignore_index
        if scope.background == background and scope.unlabelled == unlabelled:
            return scope
        return PaintScope(scope.only_over, scope.keep_other_classes, background, unlabelled)

    def _checked(self, mask: np.ndarray, role: str) -> np.ndarray:
        """``mask`` as an array, checked against the image's size and the label set."""
        return check_class_mask(mask, self._shape, self._labels, role)

    def _as_working(self, mask: np.ndarray, role: str) -> np.ndarray:
        """``mask`` checked and converted to the working mask's type."""
        return np.ascontiguousarray(self._checked(mask, role), dtype=self._dtype)


__all__ = ["ImageSession", "NoEraseValue", "SessionListener"]
