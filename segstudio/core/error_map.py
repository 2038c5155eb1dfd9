"""Error maps: what kind of right or wrong each pixel of a prediction is, for display over the image.

One uint8 image of :class:`ErrorKind` values, so a view colours it with one palette lookup and an edit
recomputes only its rectangle into the same buffer.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType

import numpy as np

from segstudio.core.geometry import Rect
from segstudio.core.metrics import map_tiles

Rgba = tuple[int, int, int, int]

# Tiles small enough that a tile's temporaries stay in a core's cache between the passes over it.
_TILE_PIXELS = 1 << 19


class ErrorKind(IntEnum):
    """How a prediction pixel relates to the truth. The values are the error map's pixel values."""

    TRUE_NEGATIVE = 0  # both background
    TRUE_POSITIVE = 1  # the same non-background class
    FALSE_POSITIVE = 2  # a class predicted where the truth is background
    FALSE_NEGATIVE = 3  # background predicted where the truth is a class
    WRONG_CLASS = 4  # both non-background, but different classes
    IGNORED = 5  # the truth holds the ignore id: not scored

    @property
    def label(self) -> str:
        return ERROR_NAMES[self]


ERROR_NAMES = MappingProxyType(
    {
        ErrorKind.TRUE_NEGATIVE: "correct background",
        ErrorKind.TRUE_POSITIVE: "correct",
        ErrorKind.FALSE_POSITIVE: "false positive",
        ErrorKind.FALSE_NEGATIVE: "missed",
        ErrorKind.WRONG_CLASS: "wrong class",
        ErrorKind.IGNORED: "ignored",
    }
)

# RGBA defaults: cyan missed, magenta extra, yellow confused (three hues far from each other and from most class
# colours; :func:`~segstudio.core.palettes.error_colours_for` moves one that collides with a label set's colours).
# Correct, correct background and ignored pixels are transparent: the map marks only what is wrong, so the class
# colours below stay readable and a fixed spot simply loses its mark.
ERROR_COLOURS: MappingProxyType[ErrorKind, Rgba] = MappingProxyType(
    {
        ErrorKind.TRUE_NEGATIVE: (0, 0, 0, 0),
        ErrorKind.TRUE_POSITIVE: (0, 0, 0, 0),
        ErrorKind.FALSE_POSITIVE: (255, 0, 220, 255),
        ErrorKind.FALSE_NEGATIVE: (0, 229, 255, 255),
        ErrorKind.WRONG_CLASS: (255, 230, 0, 255),
        ErrorKind.IGNORED: (0, 0, 0, 0),
    }
)

#: The kinds the error map marks (drawn in a colour); the others are transparent.
MARKED_KINDS = (ErrorKind.FALSE_NEGATIVE, ErrorKind.FALSE_POSITIVE, ErrorKind.WRONG_CLASS)


def error_palette(length: int = 256, colours: Mapping[ErrorKind, Rgba] = ERROR_COLOURS) -> np.ndarray:
    """A ``(length, 4)`` uint8 RGBA lookup table: ``error_palette()[error_map(...)]`` is the overlay.
    ``colours`` gives each kind's RGBA (kinds it leaves out are transparent)."""
    if length < len(ErrorKind):
        raise ValueError(f"an error palette needs at least {len(ErrorKind)} entries, got {length}")
    table = np.zeros((length, 4), dtype=np.uint8)
    for kind, colour in colours.items():
        table[kind] = colour
    return table


# Indexed by (gt == pred) << 2 | (gt == background) << 1 | (pred == background). Index 3 (both background yet
# different) cannot happen; it maps to TRUE_NEGATIVE only to keep the table total.
_KIND_BY_CODE = np.array(
    [
        ErrorKind.WRONG_CLASS,  # 0: differ, neither background
        ErrorKind.FALSE_NEGATIVE,  # 1: differ, prediction background
        ErrorKind.FALSE_POSITIVE,  # 2: differ, truth background
        ErrorKind.TRUE_NEGATIVE,  # 3: impossible
        ErrorKind.TRUE_POSITIVE,  # 4: equal, not background
        ErrorKind.TRUE_POSITIVE,  # 5: impossible (equal, only one background)
        ErrorKind.TRUE_POSITIVE,  # 6: impossible
        ErrorKind.TRUE_NEGATIVE,  # 7: equal, background
    ],
    dtype=np.uint8,
)


def error_map(
    gt: np.ndarray,
    pred: np.ndarray,
    *,
    background: int | None = 0,
    ignore_index: int | None = None,
    out: np.ndarray | None = None,
    rect: Rect | None = None,
) -> np.ndarray:
    """The :class:`ErrorKind` of every pixel, as a uint8 image.

    ``background`` is the class that counts as "nothing there" (None: no class does, so every mistake is
    WRONG_CLASS and every match TRUE_POSITIVE). Where ``gt == ignore_index`` the pixel is IGNORED, whatever
    the prediction. A prediction holding the ignore id elsewhere is treated as one more non-background
    value (this is a display, not a validator; :func:`~segstudio.core.metrics.confusion_matrix` rejects it).

    ``rect`` limits the work to one rectangle (inside the image). With ``out`` (a caller-owned uint8 array
    of the masks' full shape, say the buffer a view displays), only ``out[rect]`` is rewritten and ``out``
    is returned; without ``out`` the result is a new array of the rectangle's size.
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.ndim != 2 or gt.shape != pred.shape:
        raise ValueError(
            f"ground truth and prediction must be 2-D masks of one shape, got {gt.shape} and {pred.shape}"
        )
    if out is not None and (out.shape != gt.shape or out.dtype != np.uint8):
        raise ValueError(
            f"out must be a uint8 array of the masks' shape {gt.shape}, got {out.dtype} of shape {out.shape}"
        )
    area = Rect.full(gt.shape) if rect is None else rect
    if area.clipped(gt.shape) != area and not area.is_empty:
        raise ValueError(f"rectangle {area} reaches outside the {gt.shape[0]}x{gt.shape[1]} masks; clip it first")
    window = area.slices
    truth, predicted = gt[window], pred[window]
    target = out[window] if out is not None else np.empty(truth.shape, dtype=np.uint8)

    def fill(tile: tuple[slice, slice]) -> None:
        _fill_kinds(target[tile], truth[tile], predicted[tile], background, ignore_index)

    map_tiles(fill, truth.shape, _TILE_PIXELS)
    return out if out is not None else target


def _fill_kinds(
    target: np.ndarray, truth: np.ndarray, predicted: np.ndarray, background: int | None, ignore_index: int | None
) -> None:
    code = np.equal(truth, predicted).view(np.uint8) << 2
    if background is not None:
        code |= np.equal(truth, background).view(np.uint8) << 1
        code |= np.equal(predicted, background).view(np.uint8)
    np.take(_KIND_BY_CODE, code, out=target, mode="clip")  # mode="clip" lets take write into a strided view
    if ignore_index is not None:
        target[truth == ignore_index] = ErrorKind.IGNORED
