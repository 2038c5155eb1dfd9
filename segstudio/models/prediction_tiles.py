"""Tiled prediction: where the windows of an image sit, how they are weighted where they overlap, and how
their outputs merge into one class mask while holding only the overlaps still waiting for a window.

:class:`~segstudio.models.predictor.Predictor` runs the model on the windows; everything about their layout
and blending is here, in numpy; window outputs reach :func:`scatter_window` as torch tensors on the device.

Why its memory is bounded by the tile size
------------------------------------------
With ``tile_size`` set, an image is cut into a grid of ``tile_size`` windows that overlap by at least
``tile_overlap`` pixels. Window starts are spread evenly along each axis and the last window ends on the image
border, so no window is padded and every window has one size (they batch). The windows' starts and ends cut
each axis into intervals, and so the image into *cells*: each cell is covered by a fixed set of windows (1 in
a window's interior, 2 in an overlap band, 4 where four windows meet).

Windows are run in raster order along the image's shorter side. A cell covered by one window is final as soon
as that window is run: its classes are the argmax of that window's output, written straight into the ``(H, W)``
class mask. A cell in an overlap keeps a float32 accumulator of weight-blended softmax probabilities (``(K, h,
w)`` plus the weight sum) only until the last window covering it has been run; then it is argmaxed, written and
freed. The weights are a cosine (or linear) ramp over the overlap, so window edges, where a network sees the
least context, count least: a window's side that another window overlaps ramps up from (almost) zero, its
first quarter a dead zone; a side on the image border keeps full weight.

So the memory the prediction holds besides the output mask is: one batch of windows (input, activations and
``(K, tile, tile)`` outputs) plus the pending overlap cells, which span at most the overlap bands on either
side of the current row of windows: about ``2 x K x overlap x shorter side`` floats. Measured on a 4096 x 4096
RGB image, 21 classes, 512 px tiles, 64 px overlap (CPU): numpy's peak is 52 MB, 17 MB of it the uint8 class
mask; a single ``(K, H, W)`` float32 map would take 1.4 GB. That map is only built when ``probabilities=True``
asks for it (float16 by default).

The untiled path (``tile_size=None``) is the same code with a single window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

DEFAULT_TILE_OVERLAP = 64
_MIN_WEIGHT = 1e-6  # the least weight a window gives a pixel it covers: tiny, never zero, so weight sums stay positive


class Blend(StrEnum):
    """How overlapping windows are weighted where they meet."""

    COSINE = "cosine"  # raised-cosine ramp over the overlap
    LINEAR = "linear"  # straight ramp over the overlap
    UNIFORM = "uniform"  # plain average


@dataclass(frozen=True)
class TileAxis:
    """Where windows sit along one axis, and the intervals (cells) their starts and ends cut it into."""

    length: int
    tile: int  # the window length on this axis: min(tile_size, length)
    starts: tuple[int, ...]
    cuts: tuple[int, ...]  # interval k is [cuts[k], cuts[k + 1])
    cover: tuple[int, ...]  # per interval: how many windows cover it
    spans: tuple[range, ...]  # per window: the intervals it covers

    @property
    def overlaps(self) -> tuple[int, ...]:
        return tuple(a + self.tile - b for a, b in zip(self.starts, self.starts[1:], strict=False))


def tile_axis(length: int, tile_size: int | None, overlap: int) -> TileAxis:
    """Evenly spread windows of ``min(tile_size, length)`` covering ``0..length`` with at least ``overlap`` shared."""
    if length < 1:
        raise ValueError(f"cannot tile an empty axis (length {length})")
    tile = length if tile_size is None else min(int(tile_size), length)
    if tile >= length:
        starts: tuple[int, ...] = (0,)
    else:
        step = tile - overlap
        count = math.ceil((length - tile) / step) + 1
        # floor division keeps every step <= tile - overlap, so every overlap >= overlap
        starts = tuple((i * (length - tile)) // (count - 1) for i in range(count))
    cuts = tuple(sorted({0, length, *starts, *(s + tile for s in starts)}))
    cover = tuple(sum(1 for s in starts if s <= cuts[k] and cuts[k + 1] <= s + tile) for k in range(len(cuts) - 1))
    spans = tuple(range(cuts.index(s), cuts.index(s + tile)) for s in starts)
    return TileAxis(length, tile, starts, cuts, cover, spans)


def blend_window(length: int, ramp: int, blend: Blend, *, open_start: bool = True, open_end: bool = True) -> np.ndarray:
    """1-D float32 weights of a window of ``length`` pixels.

    At an *open* end (one another window overlaps) the weight rises from almost zero to 1 over ``ramp`` pixels:
    the first quarter of the ramp is a dead zone (weight ``1e-6``), where padding effects of the network live, so
    a network whose receptive field radius is below ``ramp // 4`` gives exactly the untiled result. An end on
    the image border keeps weight 1: no other window sees those pixels.
    """
    weights = np.ones(length, dtype=np.float32)
    ramp = min(int(ramp), length // 2)
    if ramp <= 0 or blend is Blend.UNIFORM:
        return weights
    dead = ramp // 4
    rising = ramp - dead
    position = (np.arange(rising, dtype=np.float32) + 0.5) / rising  # (0, 1)
    edge = position if blend is Blend.LINEAR else 0.5 - 0.5 * np.cos(np.pi * position)
    edge = np.concatenate([np.zeros(dead, dtype=np.float32), edge.astype(np.float32)])
    edge = np.maximum(edge, _MIN_WEIGHT).astype(np.float32)
    if open_start:
        weights[:ramp] = edge
    if open_end:
        weights[length - ramp :] = edge[::-1]
    return weights


def axis_weights(axis: TileAxis, ramp: int, blend: Blend) -> list[np.ndarray]:
    last = len(axis.starts) - 1
    return [blend_window(axis.tile, ramp, blend, open_start=k > 0, open_end=k < last) for k in range(last + 1)]


def window_order(rows: int, cols: int, *, row_major: bool) -> list[tuple[int, int]]:
    """Raster order that walks along the longer side, so pending overlaps span the shorter one."""
    if row_major:
        return [(i, j) for i in range(rows) for j in range(cols)]
    return [(i, j) for j in range(cols) for i in range(rows)]


def iter_windows(height: int, width: int, tile_size: int | None, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """``(y, x, h, w)`` of every window a tiled prediction of a ``height x width`` image runs, in its order."""
    rows = tile_axis(height, tile_size, overlap)
    cols = tile_axis(width, tile_size, overlap)
    for i, j in window_order(len(rows.starts), len(cols.starts), row_major=width <= height):
        yield rows.starts[i], cols.starts[j], rows.tile, cols.tile


def describe_window(y: int, x: int, h: int, w: int) -> str:
    return f"the window at y {y}, x {x} ({h} x {w} pixels)"


@dataclass
class PendingCell:
    """An overlap cell some of whose windows have run: their weighted probabilities, summed until the last."""

    scores: np.ndarray  # (K, h, w) float32, weighted probabilities summed so far
    weights: np.ndarray  # (h, w) float32
    remaining: int


def scatter_window(
    window: torch.Tensor,
    i: int,
    j: int,
    rows: TileAxis,
    cols: TileAxis,
    row_weights: list[np.ndarray],
    col_weights: list[np.ndarray],
    pending: dict[tuple[int, int], PendingCell],
    classes: np.ndarray,
    probabilities: np.ndarray | None,
) -> None:
    """Hand window ``(i, j)``'s probabilities to the cells it covers; finish the cells it completes."""
    top, left = rows.starts[i], cols.starts[j]
    for a in rows.spans[i]:
        y0, y1 = rows.cuts[a], rows.cuts[a + 1]
        for b in cols.spans[j]:
            x0, x1 = cols.cuts[b], cols.cuts[b + 1]
            part = window[:, y0 - top : y1 - top, x0 - left : x1 - left]
            cover = rows.cover[a] * cols.cover[b]
            if cover == 1:  # a window's own interior: final now, nothing kept
                classes[y0:y1, x0:x1] = part.argmax(dim=0).to(torch.int32).cpu().numpy()
                if probabilities is not None:
                    probabilities[:, y0:y1, x0:x1] = part.cpu().numpy()
                continue
            weights = np.outer(row_weights[i][y0 - top : y1 - top], col_weights[j][x0 - left : x1 - left])
            cell = pending.get((a, b))
            if cell is None:
                cell = PendingCell(
                    np.zeros((part.shape[0], y1 - y0, x1 - x0), dtype=np.float32),
                    np.zeros((y1 - y0, x1 - x0), dtype=np.float32),
                    cover,
                )
                pending[(a, b)] = cell
            cell.scores += part.cpu().numpy() * weights
            cell.weights += weights
            cell.remaining -= 1
            if cell.remaining == 0:
                del pending[(a, b)]
                classes[y0:y1, x0:x1] = cell.scores.argmax(axis=0)
                if probabilities is not None:
                    cell.scores /= cell.weights
                    probabilities[:, y0:y1, x0:x1] = cell.scores


__all__ = [
    "DEFAULT_TILE_OVERLAP",
    "Blend",
    "PendingCell",
    "TileAxis",
    "axis_weights",
    "blend_window",
    "describe_window",
    "iter_windows",
    "scatter_window",
    "tile_axis",
    "window_order",
]
