"""Class masks held to a label set: the type a working mask needs, and the checks every mask passes on the way in.

A class mask is ``(H, W)`` integers, each a class id of the label set or its ignore id. :func:`mask_dtype` says
which type holds them all (uint8 when they fit a byte, else uint16); :func:`check_class_mask` checks a mask's shape,
type and values in one pass before an :class:`~segstudio.core.session.ImageSession` holds it, and
:func:`check_class_value` checks one value an edit would write. :func:`read_only` makes the views a session hands
out, so nothing outside it writes a mask it compares with.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.labels import LabelSet


def mask_dtype(labels: LabelSet) -> np.dtype:
    """The working mask's type for ``labels``: uint8 when every id (ignore id included) fits a byte, else uint16."""
    top = labels.num_classes - 1
    if labels.ignore_index is not None:
        top = max(top, labels.ignore_index)
    if top > np.iinfo(np.uint16).max:
        raise ValueError(f"label set ids reach {top}; a class mask holds at most 65535")
    return np.dtype(np.uint8) if top <= 255 else np.dtype(np.uint16)


def check_class_mask(mask: np.ndarray, shape: tuple[int, int], labels: LabelSet, role: str) -> np.ndarray:
    """``mask`` as an array, checked: 2-D, of ``shape`` (the image's), integers, each a class id or the ignore id
    of ``labels``. ``role`` names the mask in the ValueError raised otherwise ("the ground truth")."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"{role} must be a 2-D class mask, got an array of shape {array.shape}")
    if array.shape != shape:
        raise ValueError(
            f"{role} is {array.shape[1]}x{array.shape[0]} but the image is {shape[1]}x{shape[0]}; "
            "resize it to the image first"
        )
    if array.dtype == bool:
        array = array.view(np.uint8)
    if array.dtype.kind not in "ui":
        raise ValueError(f"{role} must hold integer class ids, got dtype {array.dtype}")
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > np.iinfo(np.uint16).max:
            raise ValueError(f"{role} holds values {low}..{high}, outside the label set ({describe_labels(labels)})")
        counts = np.bincount(array.ravel(), minlength=high + 1)
        bad = [v for v in np.flatnonzero(counts).tolist() if not labels.is_valid_value(v)]
        if bad:
            listed = ", ".join(map(str, bad[:8])) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
            raise ValueError(f"{role} holds values {listed}, outside the label set ({describe_labels(labels)})")
    return array


def check_class_value(value: int, labels: LabelSet) -> None:
    """Raise ValueError unless ``value`` is an integer that is a class id or the ignore id of ``labels``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"a class value is an integer id, got {value!r}")
    if not labels.is_valid_value(int(value)):
        raise ValueError(f"class {value} is not in the label set ({describe_labels(labels)})")


def describe_labels(labels: LabelSet) -> str:
    """The ids ``labels`` allows, for messages: ``classes 0..4, ignore id 255``."""
    text = f"classes 0..{labels.num_classes - 1}"
    if labels.ignore_index is not None:
        text += f", ignore id {labels.ignore_index}"
    return text


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the array itself stays writable to whoever owns it)."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view
