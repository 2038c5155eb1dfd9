"""map_tiles and the shared pool of worker threads it runs on."""

from __future__ import annotations

import threading

import numpy as np

from segstudio.core.confusion import confusion_matrix
from segstudio.core.tiling import in_tile_worker, map_tiles, shared_executor


def test_map_tiles_cover_the_shape_once() -> None:
    seen = np.zeros((37, 53), np.int64)

    def mark(tile: tuple[slice, slice]) -> int:
        seen[tile] += 1
        return seen[tile].size

    sizes = map_tiles(mark, seen.shape, tile_pixels=20)
    assert (seen == 1).all() and sum(sizes) == seen.size and max(sizes) <= 20


def test_map_tiles_inside_its_own_workers_runs_in_place() -> None:
    # Counting from inside a tile job (say, a per-tile metric) must neither deadlock nor drop tiles.
    rng = np.random.default_rng(11)
    gt = np.kron(rng.integers(0, 4, (10, 10)), np.ones((7, 7), np.int64))[:64, :64].astype(np.uint8)
    pred = np.where(rng.random(gt.shape) < 0.3, rng.integers(0, 4, gt.shape), gt).astype(np.uint8)
    expected = confusion_matrix(gt, pred, 4)
    results = map_tiles(lambda tile: map_tiles(lambda inner: 1, (50, 50), tile_pixels=10), (40, 40), tile_pixels=100)
    assert len(results) == 20 and all(sum(r) == 250 for r in results)  # 2-row tiles; 10-pixel inner tiles
    nested = map_tiles(lambda tile: confusion_matrix(gt, pred, 4), (4, 4), tile_pixels=4)
    for matrix in nested:
        np.testing.assert_array_equal(matrix, expected)


def test_the_pool_is_one_and_its_threads_know_they_are_workers() -> None:
    assert shared_executor() is shared_executor()
    assert not in_tile_worker()
    assert shared_executor().submit(in_tile_worker).result() is True
    # A thread that merely has a worker-like name is not a worker.
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(in_tile_worker()), name="segstudio-tiles_99")
    thread.start()
    thread.join()
    assert seen == [False]
