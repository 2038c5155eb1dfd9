"""Non-finite values in prediction: the errors for NaN or infinite model input and output, and their messages.

A model with NaN weights gives NaN logits, and the argmax of NaNs is class 0: an all-background mask that
looks like a prediction. So every batch of windows is checked, once going in and once coming out (one
``torch.isfinite(...).all()`` each, small beside the network): a window whose input is not finite raises
:class:`NonFiniteInput` (a float image with NaN/inf pixels, or values that overflow float32 once normalised)
before the model runs; a window whose logits are not finite raises :class:`NonFiniteOutput`. Both are
``ValueError`` subclasses, so :func:`segstudio.app.prediction.predict_images` skips that image with the reason. Instance
models' scores, boxes and masks are checked the same way. Under mixed precision an unusual input can
overflow float16 to inf even with sound weights; that is refused too, and the message says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class NonFiniteOutput(ValueError):
    """The model produced NaN or infinite values for an image whose input was finite: its weights are
    likely broken, or mixed precision overflowed."""


class NonFiniteInput(ValueError):
    """An image (or a window of it) whose model input is NaN or infinite: nothing a model says about it means
    anything, so it is refused rather than predicted."""


def non_finite_input(image: np.ndarray, place: str) -> NonFiniteInput:
    """Why the model input of ``place`` in ``image`` is not finite: NaN/inf pixels, or values that overflow.

    Refused rather than repaired: a NaN pixel spreads to every output pixel whose receptive field sees it, and
    any value put in its place would be a guess the user did not make.
    """
    is_float = np.issubdtype(image.dtype, np.floating)
    where = "" if place == "the image" else f", first in {place}"
    bad = int(np.count_nonzero(~np.isfinite(image))) if is_float else 0
    if bad:
        return NonFiniteInput(
            f"the image has {bad} NaN or infinite value{'s' if bad != 1 else ''}{where}; pixel values must be "
            "finite numbers: replace them (e.g. with 0) before predicting"
        )
    hint = "; float images are read as 0..1" if is_float else ""
    return NonFiniteInput(
        f"the model input is NaN or infinite{where}: the image's values (up to {float(np.abs(image).max()):g}) "
        f"overflow float32 once normalised{hint}"
    )


def non_finite_output(what: str, amp_dtype: torch.dtype | None) -> NonFiniteOutput:
    """The error for NaN/inf model output; the input was checked finite, so the model is to blame
    (or ``amp_dtype``, the mixed precision it ran under, if any)."""
    message = (
        f"the model produced NaN or infinite {what}, though its input was finite: no mask was made. "
        "Its weights are probably broken (NaN or inf, e.g. from a diverged training)"
    )
    if amp_dtype is not None:
        dtype = str(amp_dtype).removeprefix("torch.")
        message += (
            f", or its {dtype} mixed precision overflowed to inf on this input (rare with sound weights): "
            "try again without mixed precision (amp=False)"
        )
    return NonFiniteOutput(message)


__all__ = ["NonFiniteInput", "NonFiniteOutput", "non_finite_input", "non_finite_output"]
