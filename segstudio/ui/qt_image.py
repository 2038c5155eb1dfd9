"""numpy RGBA buffers shown as QImages without copying a pixel.

A :class:`RgbaImage` owns a ``(rows, cols, 4)`` uint8 array and one QImage that reads that array's memory in
place (``Format_RGBX8888``: bytes R, G, B, A in memory order; the composited buffer is opaque). The QImage
does not own the memory, so the array must outlive it: the wrapper keeps both together, and callers draw
``wrapper.qimage`` and write ``wrapper.array``. Writes to the array show in the next paint, no upload step.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

MAX_QIMAGE_SIDE = 32767  # Qt's raster engine refuses larger images


class RgbaImage:
    """A persistent RGBA buffer and the QImage over it (made once; see the module notes)."""

    def __init__(self, array: np.ndarray) -> None:
        if not (isinstance(array, np.ndarray) and array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 4):
            raise ValueError(f"an RGBA buffer is a (rows, cols, 4) uint8 array, got {getattr(array, 'shape', array)!r}")
        if not array.flags.c_contiguous:
            raise ValueError("an RGBA buffer must be C-contiguous so Qt can read its rows in place")
        rows, cols = int(array.shape[0]), int(array.shape[1])
        if rows > MAX_QIMAGE_SIDE or cols > MAX_QIMAGE_SIDE:
            raise ValueError(f"a {cols}x{rows} buffer is past Qt's {MAX_QIMAGE_SIDE}-pixel limit; use a smaller step")
        self._array = array
        self._qimage = wrap_rgba(array)

    @classmethod
    def zeros(cls, rows: int, cols: int) -> RgbaImage:
        return cls(np.zeros((max(1, rows), max(1, cols), 4), dtype=np.uint8))

    @property
    def array(self) -> np.ndarray:
        return self._array

    @property
    def qimage(self) -> QImage:
        return self._qimage

    @property
    def shape(self) -> tuple[int, int]:
        return int(self._array.shape[0]), int(self._array.shape[1])


def wrap_rgba(array: np.ndarray) -> QImage:
    """A QImage reading ``array``'s memory (no copy). The caller must keep ``array`` alive as long as the
    QImage is used (:class:`RgbaImage` does)."""
    rows, cols = int(array.shape[0]), int(array.shape[1])
    image = QImage(array.data, cols, rows, int(array.strides[0]), QImage.Format.Format_RGBX8888)
    return image


def qimage_to_array(image: QImage) -> np.ndarray:
    """A copy of a QImage's pixels as ``(rows, cols, 4)`` RGBA uint8 (for tests and screenshots)."""
    converted = image.convertToFormat(QImage.Format.Format_RGBA8888)
    rows, cols = converted.height(), converted.width()
    data = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    return data.reshape(rows, converted.bytesPerLine())[:, : cols * 4].reshape(rows, cols, 4).copy()
