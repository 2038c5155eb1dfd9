"""Tile work over a 2-D shape on a shared pool of worker threads.

OpenCV and numpy release the GIL while they work on arrays, so tiles counted on worker threads really do run
side by side, and each tile's scratch arrays stay in cache. This module owns the pool: one process-wide
:class:`~concurrent.futures.ThreadPoolExecutor`, created on first use by :func:`shared_executor`. Its
threads mark themselves when they start, so work that calls :func:`map_tiles` from inside a tile job runs
in place instead of waiting on the pool it occupies (which could deadlock it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

TILE_PIXELS = 1 << 21  # the default tile size: a few megabytes of scratch per uint8 tile
_MAX_WORKERS = 8

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_this_thread = threading.local()  # .is_tile_worker: set once in each of the pool's threads


def map_tiles(
    work: Callable[[tuple[slice, slice]], T], shape: tuple[int, ...], tile_pixels: int | None = None
) -> list[T]:
    """Run ``work(tile)`` over the tiles (pairs of slices) of a 2-D ``shape``, each at most ``tile_pixels``.

    Tiles run on the shared pool of worker threads when there are several. Results come back in tile order.
    ``tile_pixels`` defaults to :data:`TILE_PIXELS`.
    """
    tiles = _tiles(shape, TILE_PIXELS if tile_pixels is None else tile_pixels)
    # A worker that waited on its own pool could deadlock it; work started there runs in place.
    if len(tiles) == 1 or in_tile_worker():
        return [work(tile) for tile in tiles]
    return list(shared_executor().map(work, tiles))


def in_tile_worker() -> bool:
    """Whether the calling thread is one of the shared pool's workers."""
    return getattr(_this_thread, "is_tile_worker", False)


def shared_executor() -> ThreadPoolExecutor:
    """The process-wide pool that runs tiles, created on first use (at most 8 threads, one per core)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1))
            _executor = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="segstudio-tiles", initializer=_mark_worker
            )
        return _executor


def _mark_worker() -> None:
    _this_thread.is_tile_worker = True


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
