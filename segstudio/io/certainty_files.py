"""A semantic model's certainty per pixel, kept beside the prediction it belongs to: ``<key>.certainty.tif`` next to
``<key>.png`` under ``segstudio-predictions/<model>/``, written by "Predict all".

The file holds :attr:`~segstudio.core.confidence.Confidence.certainty` as it was (float16, the probability the model
gave each pixel's predicted class), zlib-compressed TIFF through tifffile, so a later run re-derives the prediction
at any threshold, shows the model-doubt layer and measures the uncertain share exactly as the run that predicted
it could, without the model. Written atomically; a file that is not such an array, or does not fit its image, is a
:class:`~segstudio.core.errors.FileProblem` naming it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tifffile

from segstudio.core.atomic import write_bytes_atomic
from segstudio.core.errors import FileProblem

CERTAINTY_SUFFIX = ".certainty.tif"


def certainty_path(mask_path: Path) -> Path:
    """Where the certainty of the prediction mask ``mask_path`` (``<key>.png``) is kept."""
    return mask_path.with_name(mask_path.name.removesuffix(".png") + CERTAINTY_SUFFIX)


def write_certainty(path: Path, certainty: np.ndarray) -> None:
    """Write ``certainty`` (2-D float16, values in [0, 1]) to ``path`` atomically."""
    certainty = np.asarray(certainty)
    if certainty.dtype != np.float16 or certainty.ndim != 2:
        raise ValueError(f"a certainty map is a 2-D float16 array, got {certainty.dtype} of shape {certainty.shape}")
    encoded = io.BytesIO()
    tifffile.imwrite(encoded, certainty, compression="zlib", metadata=None)
    write_bytes_atomic(path, encoded.getvalue())


def read_certainty(path: Path, shape: tuple[int, int] | None) -> np.ndarray:
    """The certainty map in ``path`` (float16) for an image of ``shape`` (None: any); :class:`FileProblem` when it
    cannot be."""
    try:
        certainty = tifffile.imread(path)
    except FileNotFoundError:
        raise FileProblem(path, "no such file") from None
    except Exception as exc:  # tifffile raises its own types, ValueError and struct errors for damage
        raise FileProblem(path, f"is not a readable certainty map (TIFF): {exc}") from None
    if certainty.dtype != np.float16 or certainty.ndim != 2:
        raise FileProblem(path, f"is not a certainty map: it holds {certainty.dtype} of shape {certainty.shape}, "
                                "not one float16 probability per pixel")
    if shape is not None and certainty.shape != tuple(shape):
        raise FileProblem(path, f"is {certainty.shape[1]}x{certainty.shape[0]} but its prediction is "
                                f"{shape[1]}x{shape[0]}")
    if not np.isfinite(certainty).all() or certainty.min() < 0 or certainty.max() > 1:
        raise FileProblem(path, "holds values that are not probabilities (outside 0..1, or not numbers)")
    certainty.flags.writeable = False
    return certainty


__all__ = ["CERTAINTY_SUFFIX", "certainty_path", "read_certainty", "write_certainty"]
