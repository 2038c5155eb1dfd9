"""The confusion matrix: counting ``(ground truth, prediction)`` pixel pairs, and the rules that govern it.

Rows are the ground truth, columns the prediction. Conventions, stated once:

* A pixel whose ground truth is the ignore id is left out of every count, whatever the prediction says there.
* A value in either mask that is neither a class id (``0..num_classes-1``) nor the ignore id is an error.
* A *prediction* equal to the ignore id where the ground truth is a class is an error too: the prediction must
  commit to a class on every scored pixel. torchmetrics has no sound rule for this case to follow: its
  confusion matrix (which its Jaccard index uses) either fails with a reshape error (ignore id 255) or silently
  counts the pixel as class 0 of the *next* ground-truth row (ignore id == num_classes). So we refuse it with
  a message instead of guessing.

Counting is done tile by tile on :mod:`segstudio.core.tiling`'s worker threads, each tile the cheapest of
three ways: by run (real masks), by OpenCV's joint histogram (noisy 8- and 16-bit masks), else by
``np.bincount``. ``bench/bench_metrics.py`` times the first two.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.tiling import map_tiles

# Pixels per tile. Tiles spread the count over cores (OpenCV and numpy release the GIL) and keep each tile's
# scratch arrays in cache. calcHist hands back float32 bins, exact only up to 2**24 counts, so no tile may
# hold more pixels than that.
_FLOAT32_EXACT = 1 << 24
_TILE_PIXELS = 1 << 21
if _TILE_PIXELS > _FLOAT32_EXACT:  # pragma: no cover - guards an edit to the constants above
    raise ImportError("confusion tiles must stay within float32's exact integer range")
# Run-length counting pays per run; past one run per this many pixels a histogram is cheaper.
_PIXELS_PER_RUN_MIN = 16
# Above this many histogram bins the per-tile histograms cost more than they save; count with bincount.
_MAX_HISTOGRAM_BINS = 1 << 16
_LISTED_VALUES = 12  # how many offending values an error message names before it says "and N more"

_scratch = threading.local()  # per-thread buffers: fresh multi-megabyte arrays cost page faults every call


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
    tile with few runs is counted by run; a busy tile (noise, speckle) by OpenCV's joint histogram (8- and
    16-bit masks with few enough values), else by ``np.bincount``.
    """
    width = n + 2
    truth_index = IndexMap(gt.dtype, n, ignore, scale=width)
    pred_index = IndexMap(pred.dtype, n, ignore)
    bins = _histogram_bins(gt.dtype, pred.dtype, n, ignore)

    def count(tile: tuple[slice, slice]) -> np.ndarray:
        truth, predicted = gt[tile], pred[tile]
        counts = _count_runs(truth, predicted, truth_index, pred_index, width)
        if counts is None and bins is not None:
            counts = _count_histogram(truth, predicted, n, ignore, bins)
        if counts is None:
            codes = truth_index(truth)
            codes += pred_index(predicted)
            counts = np.bincount(codes.ravel(), minlength=width * width)
        return counts

    matrix = np.zeros(width * width, dtype=np.int64)
    if gt.size:
        for part in map_tiles(count, gt.shape, _TILE_PIXELS):
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

