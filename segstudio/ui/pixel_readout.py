"""What the hover readout says about the pixel under the cursor: the ground truth's, the prediction's and the working
mask's class there by name (the ground truth's object too, for instance masks), and what the error map marks there,
in the legend's words, so a mark on the canvas can be read without the legend.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.error_map import ErrorKind
from segstudio.core.session import ImageSession

# The error map's verdicts, as the legend names them (correct, background and not scored pixels carry no mark).
MARK_WORDS = {
    ErrorKind.FALSE_NEGATIVE: "missed",
    ErrorKind.FALSE_POSITIVE: "extra",
    ErrorKind.WRONG_CLASS: "wrong class",
}


def pixel_readout(session: ImageSession, x: int, y: int, instance: int = 0) -> str:
    """``"x 12, y 40: truth Road, prediction Car, working Road"`` (plus ``" - wrong class"`` where the error map
    marks the pixel, and ``" #2"`` after the truth's class for instance 2); only the masks the session has."""
    height, width = session.shape
    if not (0 <= y < height and 0 <= x < width):
        return ""
    parts = []
    if session.ground_truth is not None:
        object_id = f" #{instance}" if instance else ""
        parts.append(f"truth {_name(session, session.ground_truth[y, x])}{object_id}")
    if session.prediction is not None:
        parts.append(f"prediction {_name(session, session.prediction[y, x])}")
    parts.append(f"working {_name(session, session.mask[y, x])}")
    text = f"x {x}, y {y}: " + ", ".join(parts)
    errors = session.error_map
    if errors is not None and int(errors[y, x]) in MARK_WORDS:
        text += f" - {MARK_WORDS[ErrorKind(int(errors[y, x]))]}"
    return text


def _name(session: ImageSession, value: np.integer | int) -> str:
    try:
        return session.labels.name_of(int(value))
    except KeyError:
        return f"value {int(value)}"


__all__ = ["MARK_WORDS", "pixel_readout"]
