"""Segmentation metrics: the confusion matrix and everything that follows from it.

Every score here (IoU, Dice, pixel accuracy, overlap, combined area, union) is a function of the confusion
matrix, so the matrix is the one thing computed from pixels; scores cost O(classes) after that. Rows are the
ground truth, columns the prediction.

Conventions, stated once:

* A pixel whose ground truth is the ignore id is left out of every count, whatever the prediction says there.
* A value in either mask that is neither a class id (``0..num_classes-1``) nor the ignore id is an error.
* A *prediction* equal to the ignore id where the ground truth is a class is an error too: the prediction must
  commit to a class on every scored pixel. torchmetrics has no sound rule for this case to follow: its
  confusion matrix (which its Jaccard index uses) either fails with a reshape error (ignore id 255) or silently
  counts the pixel as class 0 of the *next* ground-truth row (ignore id == num_classes). So we refuse it with
  a message instead of guessing.
* A class absent from both masks has no IoU or Dice ("n/a", ``None``), never a silent 0 or 1, and means are
  taken over the classes that have a score.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, TypeVar

import cv2
import numpy as np

# Pixels per tile. Tiles spread the count over cores (OpenCV and numpy release the GIL) and keep each tile's
# scratch arrays in cache. calcHist hands back float32 bins, exact only up to 2**24 counts, so no tile may
# hold more pixels than that.
_FLOAT32_EXACT = 1 << 24
_TILE_PIXELS = 1 << 21
if _TILE_PIXELS > _FLOAT32_EXACT:  # pragma: no cover - guards an edit to the constants above
    raise ImportError("metrics tiles must stay within float32's exact integer range")
# Run-length counting pays per run; past one run per this many pixels a histogram is cheaper.
_PIXELS_PER_RUN_MIN = 16
# A packed byte holds 16 truth rows x 16 prediction columns; one row and column stay free for the ignore id.
_PACKED_MAX_CLASSES = 15
# Above this many histogram bins the per-tile histograms cost more than they save; count with bincount.
_MAX_HISTOGRAM_BINS = 1 << 16
_LISTED_VALUES = 12  # how many offending values an error message names before it says "and N more"

T = TypeVar("T")

_WORKER_PREFIX = "segstudio-tiles"
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_scratch = threading.local()  # per-thread buffers: fresh multi-megabyte arrays cost page faults every call


# -- the confusion matrix ------------------------------------------------------------------------------------


def confusion_matrix(
    gt: np.ndarray,
    pred: np.ndarray,
    num_classes: int,
    ignore_index: int | None = None,
    *,
    names: tuple[str, str] = ("ground truth", "prediction"),
) -> np.ndarray:
    """Count ``(ground truth, prediction)`` pixel pairs: an int64 ``(num_classes, num_classes)`` matrix.

    ``cm[t, p]`` is the number of pixels whose truth is class ``t`` and prediction class ``p``. Pixels where
    ``gt == ignore_index`` are left out. ``gt`` and ``pred`` are 2-D integer (or bool) arrays of one shape, of
    any integer type and any strides (views are fine). Work is split into tiles counted on worker threads;
    tiles of real masks (long runs of one class) are counted by run, which takes about twice as long as one
    ``np.count_nonzero(gt == pred)`` on an 8192x8192 pair; noisy tiles fall back to a histogram.

    Raises ``ValueError`` when the shapes differ, when either mask holds a value that is neither a class id
    nor the ignore id (the message lists them), or when the prediction holds the ignore id on a pixel the
    ground truth scores (see the module notes). ``names`` are what the messages call the two masks.
    """
    check_class_count(num_classes, ignore_index)
    num_classes = int(num_classes)
    gt = _as_mask(gt, names[0])
    pred = _as_mask(pred, names[1])
    if gt.shape != pred.shape:
        raise ValueError(
            f"{names[0]} has shape {gt.shape} but {names[1]} has shape {pred.shape}; "
            "the two masks must be the same size"
        )
    counts = _extended_counts(gt, pred, num_classes, ignore_index)
    n = num_classes
    if counts.has_unknown_values:
        _raise_unknown_values(((gt, names[0]), (pred, names[1])), num_classes, ignore_index)
    if counts.ignored_predictions:
        raise ValueError(_ignored_prediction_message(counts.ignored_predictions, ignore_index, names))
    return np.ascontiguousarray(counts.matrix[:n, :n])


def check_class_count(num_classes: int, ignore_index: int | None) -> None:
    """Raise ``ValueError`` unless ``num_classes`` is positive and ``ignore_index`` is not a class id."""
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"number of classes must be a positive integer, got {num_classes!r}")
    if ignore_index is not None:
        if int(ignore_index) != ignore_index:
            raise ValueError(f"ignore id must be an integer, got {ignore_index!r}")
        if 0 <= ignore_index < num_classes:
            raise ValueError(
                f"ignore id {ignore_index} is also a class id (classes are 0..{num_classes - 1}); "
                f"use {num_classes} or higher, or no ignore id"
            )


@dataclass(frozen=True, slots=True)
class _ExtendedCounts:
    """Pair counts over ``num_classes + 2`` indices per axis: the classes, then "ignore id", then "anything else"."""

    matrix: np.ndarray

    @property
    def has_unknown_values(self) -> bool:
        unknown = self.matrix.shape[0] - 1
        return bool(self.matrix[unknown].any() or self.matrix[:, unknown].any())

    @property
    def ignored_predictions(self) -> int:
        """Pixels where the prediction is the ignore id and the truth a class."""
        n = self.matrix.shape[0] - 2
        return int(self.matrix[:n, n].sum())


def _extended_counts(gt: np.ndarray, pred: np.ndarray, n: int, ignore: int | None) -> _ExtendedCounts:
    """Count tile by tile, each tile the cheapest way its content allows.

    Masks are mostly long runs of one (truth, prediction) pair, and counting runs is far cheaper than counting
    pixels: a histogram increments the same bin again and again, each increment waiting on the last. So a
    tile with few runs is counted by run; a busy tile (noise, speckle) by histogram: of one packed byte per
    pixel where that fits, else OpenCV's joint histogram (8- and 16-bit masks with few enough values), else
    ``np.bincount``.
    """
    width = n + 2
    truth_index = IndexMap(gt.dtype, n, ignore, scale=width)
    pred_index = IndexMap(pred.dtype, n, ignore)
    bins = _histogram_bins(gt.dtype, pred.dtype, n, ignore)
    packable = gt.dtype == np.uint8 and pred.dtype == np.uint8 and n <= _PACKED_MAX_CLASSES

    def count(tile: tuple[slice, slice]) -> np.ndarray:
        truth, predicted = gt[tile], pred[tile]
        counts = _count_runs(truth, predicted, truth_index, pred_index, width)
        if counts is None and packable:
            counts = _count_packed(truth, predicted, n, ignore)
        if counts is None and bins is not None:
            counts = _count_histogram(truth, predicted, n, ignore, bins)
        if counts is None:
            codes = truth_index(truth)
            codes += pred_index(predicted)
            counts = np.bincount(codes.ravel(), minlength=width * width)
        return counts

    matrix = np.zeros(width * width, dtype=np.int64)
    if gt.size:
        for part in map_tiles(count, gt.shape):
            matrix += part
    return _ExtendedCounts(matrix.reshape(width, width))


def _count_runs(
    truth: np.ndarray, predicted: np.ndarray, truth_index: IndexMap, pred_index: IndexMap, width: int
) -> np.ndarray | None:
    """Flat extended counts of a tile from its runs of equal pairs, or None when it has too many runs.

    Runs cross row ends freely: only how many pixels each pair has matters, not where.
    """
    # A look at every 16th row first, so a noisy tile costs a sixteenth of a pass, not a full one, to reject.
    # Changes in the two masks are counted apart (an overestimate), hence the looser bound.
    sample_truth, sample_pred = truth[::16], predicted[::16]
    changes = np.count_nonzero(sample_truth[:, 1:] != sample_truth[:, :-1])
    changes += np.count_nonzero(sample_pred[:, 1:] != sample_pred[:, :-1])
    if changes * _PIXELS_PER_RUN_MIN > 2 * sample_truth.size:
        return None
    truth, predicted = truth.reshape(-1), predicted.reshape(-1)  # copies only a strided tile
    size = truth.size
    starts_here, other = _scratch_flags(size)
    starts_here[0] = True
    np.not_equal(truth[1:], truth[:-1], out=starts_here[1:])
    np.not_equal(predicted[1:], predicted[:-1], out=other)
    np.logical_or(starts_here[1:], other, out=starts_here[1:])
    if np.count_nonzero(starts_here) * _PIXELS_PER_RUN_MIN > size:
        return None
    starts = np.flatnonzero(starts_here)
    lengths = np.diff(starts, append=size)
    codes = truth_index(truth[starts])
    codes += pred_index(predicted[starts])
    # float64 weights are exact far beyond any tile's pixel count
    return np.bincount(codes, weights=lengths, minlength=width * width).astype(np.int64)


def _count_packed(truth: np.ndarray, predicted: np.ndarray, n: int, ignore: int | None) -> np.ndarray | None:
    """Flat extended counts of a uint8 tile from a 1-D histogram of ``16 * truth + prediction``, or None.

    OpenCV's 1-D histogram is about twice as fast as its 2-D one. The byte is exact while the prediction
    holds only classes (checked here, else None) and there are at most 15 of them; a truth of 16 or more
    saturates to 255, which is either the ignore id (counted separately to be sure) or an unknown value.
    """
    if cv2.minMaxLoc(predicted)[1] >= n:
        return None
    code = _scratch_bytes(truth.shape)
    cv2.addWeighted(truth, 16, predicted, 1, 0, dst=code)  # float math, exact for these small integers
    histogram = cv2.calcHist([code], [0], None, [256], [0, 256]).ravel().astype(np.int64).reshape(16, 16)
    saturated = int(histogram[15, 15])  # truth >= 16 (a prediction of 15 is impossible: it is < n <= 15)
    histogram[15, 15] = 0
    width = n + 2
    counts = np.zeros((width, width), dtype=np.int64)
    counts[:n, :n] = histogram[:n, :n]
    unknown = int(histogram[n:].sum())
    if ignore is not None and n <= ignore < 16:
        counts[n, :n] = histogram[ignore, :n]
        unknown -= int(histogram[ignore].sum())
    if saturated:
        ignored = np.count_nonzero(truth == ignore) if ignore is not None and ignore >= 16 else 0
        counts[n, 0] += ignored  # the ignored pixels' predictions are never shown, so any column will do
        unknown += saturated - ignored
    counts[n + 1, n + 1] = unknown
    return counts.ravel()


def _scratch_bytes(shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    buffer = getattr(_scratch, "bytes", None)
    if buffer is None or buffer.size < size:
        buffer = _scratch.bytes = np.empty(max(size, _TILE_PIXELS), dtype=np.uint8)
    return buffer[:size].reshape(shape)


def _scratch_flags(size: int) -> tuple[np.ndarray, np.ndarray]:
    flags = getattr(_scratch, "flags", None)
    if flags is None or flags.size < 2 * size:
        flags = _scratch.flags = np.empty(2 * max(size, _TILE_PIXELS), dtype=bool)
    return flags[:size], flags[size : 2 * size - 1]


def _histogram_bins(gt_dtype: np.dtype, pred_dtype: np.dtype, n: int, ignore: int | None) -> int | None:
    """Bins per axis for the calcHist path (value ``v`` lands in bin ``v``), or None where it does not apply."""
    if gt_dtype != pred_dtype or gt_dtype not in (np.uint8, np.uint16):
        return None
    bins = n
    if ignore is not None and ignore >= 0:
        bins = max(bins, ignore + 1)
    bins = min(bins, np.iinfo(gt_dtype).max + 1)  # a uint8 mask cannot hold 300 or an ignore id of 1000
    if bins * bins > _MAX_HISTOGRAM_BINS:
        return None
    return bins


def _count_histogram(truth: np.ndarray, predicted: np.ndarray, n: int, ignore: int | None, bins: int) -> np.ndarray:
    """Flat extended counts of a tile from OpenCV's joint histogram over the values ``0..bins-1``."""
    # Values at or above `bins` fall outside the range and are dropped; they land in "unknown" below.
    histogram = cv2.calcHist([truth, predicted], [0, 1], None, [bins, bins], [0, bins, 0, bins])
    histogram = histogram.astype(np.int64)  # exact: a tile never reaches 2**24 pixels
    width = n + 2
    counts = np.zeros((width, width), dtype=np.int64)
    c = min(n, bins)
    counts[:c, :c] = histogram[:c, :c]
    if ignore is not None and 0 <= ignore < bins:
        counts[n, :c] = histogram[ignore, :c]
        counts[:c, n] = histogram[:c, ignore]
        counts[n, n] = histogram[ignore, ignore]
    counts[n + 1, n + 1] = truth.size - counts.sum()  # every other pixel holds an unknown value somewhere
    return counts.ravel()


class IndexMap:
    """Maps mask values to confusion indices: class ``c`` -> ``c``, the ignore id -> ``n``, anything else -> ``n + 1``.

    Multiplied by ``scale`` so a row index and a column index add up to a flat ``bincount`` bin. Masks of 16
    bits or fewer go through a lookup table (one gather, no comparisons); wider types through comparisons.
    """

    def __init__(self, dtype: np.dtype, num_classes: int, ignore_index: int | None, scale: int = 1) -> None:
        self._n = num_classes
        self._ignore = ignore_index
        self._scale = scale
        self._table: np.ndarray | None = None
        dtype = np.dtype(dtype)
        if dtype.kind in "ub" and dtype.itemsize <= 2:
            size = 2 if dtype.kind == "b" else np.iinfo(dtype).max + 1
            table = np.full(size, num_classes + 1, dtype=np.intp)
            classes = min(num_classes, size)
            table[:classes] = np.arange(classes)
            if ignore_index is not None and 0 <= ignore_index < size:
                table[ignore_index] = num_classes
            self._table = table * scale

    @property
    def table(self) -> np.ndarray | None:
        """The lookup table (indexed by value, already scaled), or None for masks wider than 16 bits."""
        return self._table

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """A new intp array of the indices of ``values`` (the caller may write into it)."""
        if self._table is not None:
            return self._table.take(values.view(np.uint8) if values.dtype == bool else values)
        wide = values.astype(np.int64)
        index = np.where((wide >= 0) & (wide < self._n), wide, self._n + 1)
        if self._ignore is not None:
            index[wide == self._ignore] = self._n
        index = index.astype(np.intp, copy=False)
        if self._scale != 1:
            index *= self._scale
        return index


def map_tiles(
    work: Callable[[tuple[slice, slice]], T], shape: tuple[int, ...], tile_pixels: int | None = None
) -> list[T]:
    """Run ``work(tile)`` over the tiles (pairs of slices) of a 2-D ``shape``, each at most ``tile_pixels``.

    Tiles run on a shared pool of worker threads when there are several: OpenCV and numpy release the GIL
    while they work on arrays, so the tiles really do run side by side. Results come back in tile order.
    ``tile_pixels`` defaults to the size the confusion counts use (never more than float32 counts exactly).
    """
    tiles = _tiles(shape, _TILE_PIXELS if tile_pixels is None else tile_pixels)
    # A worker that waited on its own pool could deadlock it; work started there runs in place.
    if len(tiles) == 1 or threading.current_thread().name.startswith(_WORKER_PREFIX):
        return [work(tile) for tile in tiles]
    return list(_shared_executor().map(work, tiles))


def _tiles(shape: tuple[int, ...], tile_pixels: int) -> list[tuple[slice, slice]]:
    height, width = int(shape[0]), int(shape[1])
    if height == 0 or width == 0:
        return [(slice(0, height), slice(0, width))]
    tile_width = min(width, tile_pixels)
    tile_height = max(1, tile_pixels // tile_width)  # so a tile never holds more than tile_pixels
    return [
        (slice(top, min(top + tile_height, height)), slice(left, min(left + tile_width, width)))
        for top in range(0, height, tile_height)
        for left in range(0, width, tile_width)
    ]


def _shared_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            workers = max(1, min(8, os.cpu_count() or 1))
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=_WORKER_PREFIX)
        return _executor


def _as_mask(mask: np.ndarray, role: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"{role} must be a 2-D class-index mask, got an array of shape {array.shape}")
    if array.dtype == bool:
        return array.view(np.uint8)
    if array.dtype.kind not in "ui":
        raise ValueError(f"{role} must hold integer class ids, got dtype {array.dtype}")
    return array


def _raise_unknown_values(masks: Iterable[tuple[np.ndarray, str]], n: int, ignore: int | None) -> None:
    """The slow, error-only path: find and name the values that are neither classes nor the ignore id."""
    allowed = f"the {n} classes (0..{n - 1})" + (f" and ignore id {ignore}" if ignore is not None else "")
    problems = []
    for mask, role in masks:
        values = unexpected_values(mask, n, ignore)
        if values:
            shown = ", ".join(str(v) for v in values[:_LISTED_VALUES])
            more = f", and {len(values) - _LISTED_VALUES} more" if len(values) > _LISTED_VALUES else ""
            problems.append(f"{role} holds values [{shown}{more}] outside {allowed}")
    if not problems:  # pragma: no cover - the counts and the scan disagree: a bug here, not in the masks
        raise RuntimeError("confusion counts lost pixels that hold no unexpected value; please report this")
    raise ValueError("; ".join(problems) + "; check the label set (number of classes, ignore id) matches the masks")


def unexpected_values(mask: np.ndarray, num_classes: int, ignore_index: int | None = None) -> list[int]:
    """The sorted distinct values in ``mask`` that are neither a class id nor the ignore id (slow: scans it all)."""
    array = np.asarray(mask)
    if array.dtype == bool:
        array = array.view(np.uint8)
    if array.dtype.kind == "u" and array.itemsize <= 2:
        present = np.flatnonzero(np.bincount(array.ravel(), minlength=1))
    else:
        present = np.unique(array)
    return [
        int(v) for v in present if not (0 <= v < num_classes or (ignore_index is not None and v == ignore_index))
    ]


def _ignored_prediction_message(count: int, ignore: int | None, roles: tuple[str, str]) -> str:
    return (
        f"{roles[1]} holds the ignore id {ignore} at {count} pixel{'s' if count != 1 else ''} where the "
        f"{roles[0]} is a class; a {roles[1]} must give a class on every pixel that is scored, so map those "
        "pixels to a class (or to the ignore id in the truth) first"
    )


# -- scores --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassScores:
    """One class's pixel counts and the scores that follow from them.

    ``iou`` and ``dice`` are ``None`` ("n/a") when the class is in neither mask: there is nothing to score,
    and reporting 0 or 1 would drag a mean either way.
    """

    class_id: int
    name: str
    overlap: int  # pixels both masks give this class: true positives
    predicted: int  # pixels the prediction gives this class
    true: int  # pixels the ground truth gives this class

    @property
    def combined(self) -> int:
        """Predicted plus true pixels (the Dice denominator; overlap counts twice)."""
        return self.predicted + self.true

    @property
    def union(self) -> int:
        return self.combined - self.overlap

    @property
    def false_positive(self) -> int:
        return self.predicted - self.overlap

    @property
    def false_negative(self) -> int:
        return self.true - self.overlap

    @property
    def has_score(self) -> bool:
        return self.union > 0

    @property
    def iou(self) -> float | None:
        union = self.union
        return self.overlap / union if union else None

    @property
    def dice(self) -> float | None:
        combined = self.combined
        return 2 * self.overlap / combined if combined else None

    def to_json_dict(self) -> dict[str, int | float | None]:
        return {
            "overlap": self.overlap,
            "predicted": self.predicted,
            "true": self.true,
            "combined": self.combined,
            "union": self.union,
            "iou": self.iou,
            "dice": self.dice,
        }


@dataclass(frozen=True, eq=False)
class Scores:
    """Per-class and averaged scores of one confusion matrix (rows truth, columns prediction).

    Build with :meth:`from_confusion` or :meth:`from_masks`. The matrix is copied and frozen, so a Scores is
    a value: later edits to the array it came from do not change it. The ``*_array`` properties give the
    same numbers vectorised (float64, NaN for n/a) for plotting or tables.
    """

    confusion: np.ndarray
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        matrix = np.array(self.confusion, dtype=np.int64, copy=True)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
            raise ValueError(f"a confusion matrix must be square and non-empty, got shape {np.shape(self.confusion)}")
        if np.any(np.asarray(self.confusion) != matrix):
            raise ValueError("a confusion matrix must hold whole pixel counts")
        if (matrix < 0).any():
            raise ValueError("a confusion matrix cannot hold negative counts")
        matrix.flags.writeable = False
        object.__setattr__(self, "confusion", matrix)
        object.__setattr__(self, "class_names", _class_names(self.class_names, matrix.shape[0]))

    @classmethod
    def from_confusion(cls, confusion: np.ndarray, class_names: Sequence[str] | None = None) -> Scores:
        return cls(confusion, tuple(class_names) if class_names is not None else ())

    @classmethod
    def from_masks(
        cls,
        gt: np.ndarray,
        pred: np.ndarray,
        num_classes: int,
        ignore_index: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> Scores:
        return cls.from_confusion(confusion_matrix(gt, pred, num_classes, ignore_index), class_names)

    # -- vectors --------------------------------------------------------------------------------------------

    @property
    def num_classes(self) -> int:
        return self.confusion.shape[0]

    @cached_property
    def overlap_array(self) -> np.ndarray:
        return _frozen(np.diagonal(self.confusion).copy())

    @cached_property
    def predicted_array(self) -> np.ndarray:
        return _frozen(self.confusion.sum(axis=0))

    @cached_property
    def true_array(self) -> np.ndarray:
        return _frozen(self.confusion.sum(axis=1))

    @property
    def combined_array(self) -> np.ndarray:
        return self.predicted_array + self.true_array

    @property
    def union_array(self) -> np.ndarray:
        return self.combined_array - self.overlap_array

    @property
    def scored_array(self) -> np.ndarray:
        """True where a class has a score (it is in at least one of the masks)."""
        return self.union_array > 0

    @cached_property
    def iou_array(self) -> np.ndarray:
        return _frozen(_ratio(self.overlap_array, self.union_array))

    @cached_property
    def dice_array(self) -> np.ndarray:
        return _frozen(_ratio(2 * self.overlap_array, self.combined_array))

    # -- per class and means --------------------------------------------------------------------------------

    @cached_property
    def classes(self) -> tuple[ClassScores, ...]:
        overlap, predicted, true = self.overlap_array, self.predicted_array, self.true_array
        return tuple(
            ClassScores(i, name, int(overlap[i]), int(predicted[i]), int(true[i]))
            for i, name in enumerate(self.class_names)
        )

    def __getitem__(self, key: int | str) -> ClassScores:
        """The scores of one class, by id or by name."""
        if isinstance(key, str):
            try:
                return self.classes[self.class_names.index(key)]
            except ValueError:
                raise KeyError(f"no class named {key!r}; classes are {', '.join(self.class_names)}") from None
        return self.classes[key]

    @property
    def total(self) -> int:
        """Pixels counted (ignored pixels left out)."""
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @cached_property
    def mean_iou(self) -> float | None:
        """Mean IoU over the classes that have a score; None when none has."""
        return _nanmean(self.iou_array)

    @cached_property
    def mean_dice(self) -> float | None:
        return _nanmean(self.dice_array)

    @property
    def pixel_accuracy(self) -> float | None:
        total = self.total
        return self.correct / total if total else None

    def to_json_dict(self, *, include_confusion: bool = True) -> dict[str, Any]:
        """Plain JSON-ready data: per class counts and scores by name, means, and the matrix. null = n/a."""
        data: dict[str, Any] = {
            "per_class": {c.name: c.to_json_dict() for c in self.classes},
            "mean_iou": self.mean_iou,
            "mean_dice": self.mean_dice,
            "pixel_accuracy": self.pixel_accuracy,
        }
        if include_confusion:
            data["confusion_matrix"] = self.confusion.tolist()
        return data


def _class_names(names: Sequence[str], count: int) -> tuple[str, ...]:
    if not names:
        return tuple(f"class {i}" for i in range(count))
    names = tuple(str(n) for n in names)
    if len(names) != count:
        raise ValueError(f"{len(names)} class names given for a {count}-class confusion matrix")
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"class names must be unique (they key the results); repeated: {', '.join(repeated)}")
    return names


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    result = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def _nanmean(values: np.ndarray) -> float | None:
    scored = values[~np.isnan(values)]
    return float(scored.mean()) if scored.size else None


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# -- datasets ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ImageMeanScores:
    """Scores averaged over images, each image weighing the same however many pixels it has.

    Per class: the mean of that class's per-image score over the images where it has one (``images`` says how
    many), so an image without the class neither helps nor hurts it. Overall: the mean over images of each
    image's mean IoU / mean Dice / pixel accuracy (images with nothing scored left out).
    """

    class_names: tuple[str, ...]
    iou: tuple[float | None, ...]
    dice: tuple[float | None, ...]
    images: tuple[int, ...]
    mean_iou: float | None
    mean_dice: float | None
    pixel_accuracy: float | None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "per_class": {
                name: {"iou": self.iou[i], "dice": self.dice[i], "images": self.images[i]}
                for i, name in enumerate(self.class_names)
            },
            "mean_iou": self.mean_iou,
            "mean_dice": self.mean_dice,
            "pixel_accuracy": self.pixel_accuracy,
        }


@dataclass(frozen=True, eq=False)
class DatasetScores:
    """A dataset's scores two ways.

    ``overall`` sums every image's confusion matrix and scores the sum (the VOC / Cityscapes convention: big
    images and big objects weigh more). ``image_mean`` averages per-image scores instead. ``per_image`` holds
    each image's own scores by name, in the order they were added.
    """

    overall: Scores
    image_mean: ImageMeanScores
    per_image: Mapping[str, Scores] = field(default_factory=dict)
    ignore_index: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_image", MappingProxyType(dict(self.per_image)))

    @property
    def mean_iou(self) -> float | None:
        return self.overall.mean_iou

    @property
    def mean_dice(self) -> float | None:
        return self.overall.mean_dice

    @property
    def pixel_accuracy(self) -> float | None:
        return self.overall.pixel_accuracy

    def to_json_dict(self) -> dict[str, Any]:
        """What the CLI writes: accumulated scores at the top level, per-image means under ``mean_of_images``.

        Keys: ``class_names``, ``ignore_index``, ``num_images``, ``per_class`` (name -> overlap, predicted,
        true, combined, union, iou, dice), ``mean_iou``, ``mean_dice``, ``pixel_accuracy``,
        ``confusion_matrix`` (rows truth, columns prediction), ``mean_of_images`` (per_class name -> iou,
        dice, images; mean_iou, mean_dice, pixel_accuracy) and ``per_image`` (name -> per_class, mean_iou,
        mean_dice, pixel_accuracy; no matrix, to keep the file small). JSON null means n/a.
        """
        data: dict[str, Any] = {
            "class_names": list(self.overall.class_names),
            "ignore_index": self.ignore_index,
            "num_images": len(self.per_image),
        }
        data.update(self.overall.to_json_dict(include_confusion=True))
        data["mean_of_images"] = self.image_mean.to_json_dict()
        data["per_image"] = {
            name: scores.to_json_dict(include_confusion=False) for name, scores in self.per_image.items()
        }
        return data


class DatasetEvaluator:
    """Accumulates a dataset's scores one image at a time; :meth:`result` gives both kinds of average.

    Keeps one small confusion matrix per image, never the masks.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        check_class_count(num_classes, ignore_index)
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.class_names = _class_names(tuple(class_names) if class_names is not None else (), self.num_classes)
        self._per_image: dict[str, Scores] = {}

    def __len__(self) -> int:
        return len(self._per_image)

    def add(self, name: str, gt: np.ndarray, pred: np.ndarray) -> Scores:
        """Score one image pair, remember it under ``name`` (unique), and return its scores."""
        self._check_new(name)
        return self.add_confusion(name, confusion_matrix(gt, pred, self.num_classes, self.ignore_index))

    def add_confusion(self, name: str, confusion: np.ndarray) -> Scores:
        """Add an image whose confusion matrix was counted elsewhere (a worker thread, a cache)."""
        self._check_new(name)
        matrix = np.asarray(confusion)
        if matrix.shape != (self.num_classes, self.num_classes):
            raise ValueError(
                f"confusion matrix for {name!r} has shape {matrix.shape}, expected "
                f"({self.num_classes}, {self.num_classes})"
            )
        scores = Scores.from_confusion(matrix, self.class_names)
        self._per_image[name] = scores
        return scores

    def _check_new(self, name: str) -> None:
        if name in self._per_image:
            raise ValueError(f"image {name!r} was already added; image names must be unique")

    def result(self) -> DatasetScores:
        total = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        images = list(self._per_image.values())
        for scores in images:
            total += scores.confusion
        return DatasetScores(
            overall=Scores.from_confusion(total, self.class_names),
            image_mean=_image_mean(images, self.class_names),
            per_image=self._per_image,
            ignore_index=self.ignore_index,
        )


def _image_mean(images: Sequence[Scores], class_names: tuple[str, ...]) -> ImageMeanScores:
    n = len(class_names)
    if images:
        iou = np.stack([s.iou_array for s in images])
        dice = np.stack([s.dice_array for s in images])
    else:
        iou = dice = np.full((0, n), np.nan)
    counts = (~np.isnan(iou)).sum(axis=0)
    return ImageMeanScores(
        class_names=class_names,
        iou=tuple(_nanmean(iou[:, c]) for c in range(n)),
        dice=tuple(_nanmean(dice[:, c]) for c in range(n)),
        images=tuple(int(c) for c in counts),
        mean_iou=_mean_of_present(s.mean_iou for s in images),
        mean_dice=_mean_of_present(s.mean_dice for s in images),
        pixel_accuracy=_mean_of_present(s.pixel_accuracy for s in images),
    )


def _mean_of_present(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None
