"""The canvas's tiles: what a tile is, which image pixels it covers, and the LRU cache that holds them with their
queued edits.

Rendering (see ARCHITECTURE.md, pattern 5: "render lazily, downsample when zoomed out, tile past Qt's limit"):

- The view is cut into fixed tiles of ``TILE x TILE`` *output* pixels at the zoom's ``step`` (image pixels per
  output pixel: 1 when zoomed in, pixel level with no smoothing; a power of two <= 1/scale when zoomed out).
  Tile ``(ty, tx)`` at ``step`` shows image pixels from ``origin = (ty * TILE * step, tx * TILE * step)``
  every ``step``-th pixel. Each tile is its own small :class:`~segstudio.ui.qt_image.RgbaImage` (numpy buffer
  + QImage over it), so no QImage ever comes near Qt's 32767-pixel raster limit, whatever the image size.
- Tiles are made only when a paint needs them (visible tiles only), kept in an LRU cache (:class:`TileCache`)
  bounded by ``MAX_TILE_BYTES`` (visible tiles are never evicted) and keyed by ``(step, ty, tx)``, so zooming
  back to a level seen before reuses its tiles. Canvas memory is therefore bounded by the cache, not by the image.
- An edit reported by the session (a small rectangle) is queued on each cached tile it touches and composited
  exactly at that tile's next paint; only that rectangle of the widget is updated. A tile with too many
  queued edits (``MAX_DIRTY``, or a big one) is simply recomposited whole.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection, ValuesView

import numpy as np

from segstudio.core.compositing import out_shape
from segstudio.core.geometry import Rect
from segstudio.ui.qt_image import RgbaImage

TILE = 512  # output pixels per tile side (volumina's tile size)
MAX_TILE_BYTES = 96 << 20  # LRU cache bound: 96 MiB = 96 full tiles (visible tiles are always kept)
MAX_DIRTY = 16  # queued edits per tile before it is recomposited whole instead

TileKey = tuple[int, int, int]  # (step, ty, tx)


class Tile:
    """One cached tile: its buffer, its image origin, whether it was ever composited, and queued edits."""

    __slots__ = ("buffer", "dirty", "origin", "valid")

    def __init__(self, rows: int, cols: int, origin: tuple[int, int]) -> None:
        self.buffer = RgbaImage(np.empty((rows, cols, 4), dtype=np.uint8))
        self.origin = origin
        self.valid = False
        self.dirty: list[Rect] = []

    @property
    def nbytes(self) -> int:
        return int(self.buffer.array.nbytes)


def step_for(scale: float, shape: tuple[int, int] | None = None) -> int:
    """Image pixels per output pixel at ``scale``: the largest power of two <= 1/scale (1 when zoomed in).
    Tiles keep every QImage small, so the image's size no longer raises the step."""
    step = 1
    while step * 2 <= 1.0 / scale:
        step *= 2
    return step


def tiles_in_view(
    clip: tuple[float, float, float, float], image_shape: tuple[int, int], step: int, scale: float,
    offset: tuple[float, float],
) -> list[TileKey]:
    """Keys of the tiles at ``step`` that land in widget rectangle ``clip`` = ``(left, top, right, bottom)``
    (right and bottom exclusive) of a view at ``scale`` widget pixels per image pixel whose image origin sits at
    widget point ``offset``."""
    rows, cols, _ = out_shape(image_shape, step)
    s = scale * step
    left = max(0, math.floor((clip[0] - offset[0]) / s))
    top = max(0, math.floor((clip[1] - offset[1]) / s))
    right = min(cols, math.ceil((clip[2] - offset[0]) / s))
    bottom = min(rows, math.ceil((clip[3] - offset[1]) / s))
    if right <= left or bottom <= top:
        return []
    return [(step, ty, tx) for ty in range(top // TILE, -(-bottom // TILE)) for tx in range(left // TILE, -(-right // TILE))]


def tile_image_rect(key: TileKey, image_shape: tuple[int, int]) -> Rect:
    """Image pixels a tile covers (clipped to an image of ``image_shape``)."""
    step, ty, tx = key
    height, width = image_shape
    top, left = ty * TILE * step, tx * TILE * step
    return Rect(top, left, min(height, top + TILE * step), min(width, left + TILE * step))


class TileCache:
    """Tiles by key ``(step, ty, tx)``, least recently used first; ``nbytes`` is the RGBA they hold."""

    def __init__(self) -> None:
        self._tiles: OrderedDict[TileKey, Tile] = OrderedDict()  # LRU: oldest first
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._tiles)

    def __contains__(self, key: object) -> bool:
        return key in self._tiles

    def __getitem__(self, key: TileKey) -> Tile:
        return self._tiles[key]

    def values(self) -> ValuesView[Tile]:
        return self._tiles.values()

    def clear(self) -> None:
        self._tiles.clear()
        self.nbytes = 0

    def tile(self, key: TileKey, image_shape: tuple[int, int]) -> Tile:
        """The tile at ``key`` (made, not yet composited, if new), now the most recently used."""
        tile = self._tiles.get(key)
        if tile is None:
            step, ty, tx = key
            origin = (ty * TILE * step, tx * TILE * step)
            rows, cols, _ = out_shape(image_shape, step, origin)
            tile = Tile(min(TILE, rows), min(TILE, cols), origin)
            self._tiles[key] = tile
            self.nbytes += tile.nbytes
        else:
            self._tiles.move_to_end(key)
        return tile

    def evict(self, keep: Collection[TileKey], max_bytes: int) -> None:
        """Drop least recently used tiles (never one in ``keep``) until the cache fits ``max_bytes``."""
        if self.nbytes <= max_bytes:
            return
        for key in list(self._tiles):
            if self.nbytes <= max_bytes:
                break
            if key not in keep:
                self.nbytes -= self._tiles.pop(key).nbytes

    def invalidate(self) -> None:
        """Every tile is recomposited whole at its next paint."""
        for tile in self._tiles.values():
            tile.valid, tile.dirty = False, []

    def queue_edit(self, rect: Rect, image_shape: tuple[int, int]) -> None:
        """Image rectangle ``rect`` changed: queue it on every composited tile it touches (a tile with
        ``MAX_DIRTY`` edits queued already is recomposited whole instead)."""
        for key, tile in self._tiles.items():
            if tile.valid and not tile_image_rect(key, image_shape).intersection(rect).is_empty:
                if len(tile.dirty) >= MAX_DIRTY:
                    tile.valid, tile.dirty = False, []
                else:
                    tile.dirty.append(rect)


__all__ = ["MAX_DIRTY", "MAX_TILE_BYTES", "TILE", "Tile", "TileCache", "TileKey", "tile_image_rect"]
