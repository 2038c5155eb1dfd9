"""What a canvas tile shows: the session's image and mask layers in the canvas's layer styles, composited into the
tile (:func:`~segstudio.core.compositing.composite`), and a selected instance highlighted on top.

Zoomed out far (``step > AREA_MAX_STEP``) the image is subsampled (nearest) rather than block-averaged, so a
fitted view of a 40,000 x 20,000 slide does not read every pixel of it. While the user peeks at the ground truth,
only the image and the ground truth (filled) are shown.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.compositing import ImageSampling, composite
from segstudio.core.geometry import Rect
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes
from segstudio.core.session import ImageSession
from segstudio.ui.canvas_tiles import Tile

AREA_MAX_STEP = 8  # block-average the image up to this step, subsample past it
HIGHLIGHT_RGB = np.array([255, 255, 0], dtype=np.uint16)  # a selected instance, blended 60 % over the pixels

DEFAULT_STYLES: dict[LayerKind, LayerStyle] = {
    LayerKind.IMAGE: LayerStyle(True, 1.0),
    LayerKind.GROUND_TRUTH: LayerStyle(True, 0.9, outline_only=True),
    LayerKind.PREDICTION: LayerStyle(False, 0.5),
    LayerKind.WORKING: LayerStyle(True, 0.5),
    LayerKind.ERROR_MAP: LayerStyle(False, 0.6),
}
MASK_LAYERS = (LayerKind.GROUND_TRUTH, LayerKind.PREDICTION, LayerKind.WORKING, LayerKind.ERROR_MAP)


def shown_layers(
    session: ImageSession, styles: dict[LayerKind, LayerStyle], peek_truth: bool
) -> list[tuple[LayerKind, np.ndarray, LayerStyle]]:
    """The mask layers to composite, bottom to top, each with its style."""
    arrays = {
        LayerKind.GROUND_TRUTH: session.ground_truth,
        LayerKind.PREDICTION: session.prediction,
        LayerKind.WORKING: session.mask,
        LayerKind.ERROR_MAP: session.error_map,
    }
    if peek_truth and session.ground_truth is not None:
        layers = [(LayerKind.GROUND_TRUTH, session.ground_truth, LayerStyle(True, 0.7))]
    else:
        layers = [(kind, arrays[kind], styles[kind]) for kind in MASK_LAYERS if arrays[kind] is not None]
    return layers


def composite_tile(
    tile: Tile,
    step: int,
    rect: Rect,
    *,
    session: ImageSession,
    palettes: Palettes,
    styles: dict[LayerKind, LayerStyle],
    peek_truth: bool,
    highlight: np.ndarray | None,
) -> Rect:
    """Composite image rectangle ``rect`` into ``tile`` (clipped to it); return the output pixels it wrote."""
    done = composite(tile.buffer.array, rect, image=session.image, layers=shown_layers(session, styles, peek_truth),
                     palettes=palettes, step=step, origin=tile.origin, image_style=styles[LayerKind.IMAGE],
                     sampling=ImageSampling.AREA if step <= AREA_MAX_STEP else ImageSampling.NEAREST)
    if highlight is not None and not done.is_empty:
        oy, ox = tile.origin
        shown = highlight[oy + done.top * step : oy + (done.bottom - 1) * step + 1 : step,
                          ox + done.left * step : ox + (done.right - 1) * step + 1 : step]
        if shown.any():
            target = tile.buffer.array[done.top : done.bottom, done.left : done.right]
            pixels = target[shown]
            pixels[:, :3] = (pixels[:, :3].astype(np.uint16) * 2 // 5 + HIGHLIGHT_RGB * 3 // 5).astype(np.uint8)
            target[shown] = pixels
    return done


__all__ = ["AREA_MAX_STEP", "DEFAULT_STYLES", "HIGHLIGHT_RGB", "MASK_LAYERS", "composite_tile", "shown_layers"]
