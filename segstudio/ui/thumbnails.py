"""Thumbnails for the file list, made on the "thumbnails" worker channel, visible rows first, cached in memory.

Opening a folder decodes nothing: the file list asks :class:`Thumbnails` for the rows on screen (after it is
shown, scrolled or resized), which submits one small job for those rows that are not cached yet. A new request
replaces the previous job (scrolling fast through 10,000 images decodes only what stays on screen). The job
returns small numpy RGB arrays (never a ``QPixmap``: those are made on the GUI thread when the result lands);
JPEGs are decoded at a reduced scale (Pillow's draft mode), so a big photo costs a fraction of a full decode.
The cache keeps the last :data:`CACHE_LIMIT` thumbnails of the folder (least recently made dropped first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from segstudio.core.progress import CancelToken, ProgressCallback
from segstudio.ui.workers import WorkerPool

THUMBNAIL_MAX_PIXELS = 64_000_000  # past this, no thumbnail but a JPEG's (see make_thumbnail)
THUMBNAIL_SIZE = 32
CACHE_LIMIT = 4000
BATCH_LIMIT = 64  # rows per job: about a screenful
CHANNEL = "thumbnails"


def make_thumbnail(path: Path, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """An (h, w, 3) uint8 RGB thumbnail of ``path`` whose longer side is ``size``.

    The header is read first: a decompression bomb is refused unread (:func:`~segstudio.io.images.check_size`, a
    ValueError), and an image past :data:`THUMBNAIL_MAX_PIXELS` gets none unless it is a JPEG (decoded at 1/8
    scale): a 64 px picture is not worth decoding a slide of gigabytes for every row of the list."""
    import cv2
    from PIL import Image

    from segstudio.io.images import check_readable_file, check_size

    declared = check_size(path, check_readable_file(path), expand_palette=True)
    if declared is not None and declared.pixels > THUMBNAIL_MAX_PIXELS and declared.format != "JPEG":
        raise ValueError(f"{path}: {declared.width}x{declared.height} is too large to decode for a thumbnail")
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size * 2, size * 2))  # JPEG: decode at 1/2..1/8 scale
            image.thumbnail((size, size))
            array = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        from segstudio.io.images import read_image

        array = read_image(path)
        if array.dtype != np.uint8:
            array = (array >> 8).astype(np.uint8) if array.dtype == np.uint16 else np.clip(array, 0, 255).astype(np.uint8)
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        scale = size / max(array.shape[:2])
        if scale < 1:
            array = cv2.resize(array, (max(1, round(array.shape[1] * scale)), max(1, round(array.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(array[:, :, :3])


def make_thumbnails(
    items: Sequence[tuple[str, Path]], size: int, *, progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, np.ndarray | None]:
    """The "thumbnails" job: key -> thumbnail (None: the file could not be read), in the order asked."""
    from segstudio.core.progress import Progress, report

    out: dict[str, np.ndarray | None] = {}
    for done, (key, path) in enumerate(items):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            out[key] = make_thumbnail(path, size)
        except (OSError, ValueError):
            out[key] = None
        report(progress, Progress("thumbnails", done + 1, len(items)))
    return out


class Thumbnails(QObject):
    """``ready(keys)`` when thumbnails for those keys were made; :meth:`pixmap` gives a cached one (or None)."""

    ready = Signal(list)

    def __init__(self, pool: WorkerPool, parent: QObject | None = None, *, size: int = THUMBNAIL_SIZE) -> None:
        super().__init__(parent)
        self.pool = pool
        self.size = size
        self._cache: OrderedDict[str, QPixmap | None] = OrderedDict()
        self._paths: dict[str, Path] = {}
        self._asked: set[str] = set()  # in the running job
        self.jobs_submitted = 0
        self.decoded = 0
        pool.signals(CHANNEL).finished.connect(self._on_made)
        pool.signals(CHANNEL).cancelled.connect(self._asked.clear)
        pool.signals(CHANNEL).failed.connect(lambda _failure: self._asked.clear())

    def set_paths(self, paths: dict[str, Path]) -> None:
        """A new folder: forget the old thumbnails (nothing is decoded here)."""
        self.pool.cancel(CHANNEL, drop=True)
        self._paths = dict(paths)
        self._cache.clear()
        self._asked.clear()

    def pixmap(self, key: str) -> QPixmap | None:
        return self._cache.get(key)

    def has(self, key: str) -> bool:
        return key in self._cache

    def request(self, keys: Sequence[str]) -> bool:
        """Make thumbnails for ``keys`` (the visible rows, in order) that are not cached; True if a job started."""
        wanted = [k for k in keys if k not in self._cache and k in self._paths][:BATCH_LIMIT]
        if not wanted or set(wanted) <= self._asked:
            return False
        items, size = [(k, self._paths[k]) for k in wanted], self.size
        self._asked = set(wanted)
        self.jobs_submitted += 1
        self.pool.submit(CHANNEL, lambda progress, cancel: make_thumbnails(items, size, progress=progress, cancel=cancel))
        return True

    def _on_made(self, made: dict[str, np.ndarray | None]) -> None:
        self._asked.clear()
        for key, array in made.items():
            if key not in self._paths:
                continue
            self.decoded += 1
            pixmap = None
            if array is not None:
                h, w = array.shape[:2]
                image = QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888)
                pixmap = QPixmap.fromImage(image.copy())
            self._cache[key] = pixmap
            self._cache.move_to_end(key)
        while len(self._cache) > CACHE_LIMIT:
            self._cache.popitem(last=False)
        self.ready.emit(list(made))
