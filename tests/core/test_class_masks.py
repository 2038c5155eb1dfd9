"""Class masks held to a label set: the working mask's type and the checks every mask passes on the way in (the
session's messages for them: test_session.py)."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.class_masks import check_class_mask, check_class_value, mask_dtype, read_only
from segstudio.core.labels import LabelSet

LABELS = LabelSet.from_names(["background", "thing"], ignore_index=255)


def test_the_mask_type_holds_every_id() -> None:
    assert mask_dtype(LabelSet.with_count(300)) == np.uint16
    assert mask_dtype(LABELS) == np.uint8  # ignore id 255 still fits a byte
    assert mask_dtype(LabelSet.with_count(3, ignore_index=256)) == np.uint16


def test_a_mask_is_checked_for_shape_type_and_values() -> None:
    good = np.array([[0, 1, 255]], np.uint8)
    assert check_class_mask(good, (1, 3), LABELS, "the mask") is good
    assert check_class_mask(np.array([[True, False]]), (1, 2), LABELS, "the mask").dtype == np.uint8
    with pytest.raises(ValueError, match="the mask is 3x1 but the image is 2x1"):
        check_class_mask(good, (1, 2), LABELS, "the mask")
    with pytest.raises(ValueError, match="integer class ids"):
        check_class_mask(good.astype(np.float32), (1, 3), LABELS, "the mask")
    with pytest.raises(ValueError, match=r"holds values 2, 7, outside the label set \(classes 0..1, ignore id 255\)"):
        check_class_mask(np.array([[0, 2, 7]]), (1, 3), LABELS, "the mask")
    check_class_value(255, LABELS)
    with pytest.raises(ValueError, match="class 2 is not in the label set"):
        check_class_value(2, LABELS)
    with pytest.raises(ValueError, match="integer id"):
        check_class_value(True, LABELS)


def test_read_only_leaves_the_array_writable() -> None:
    array = np.zeros(3)
    view = read_only(array)
    assert not view.flags.writeable and array.flags.writeable and np.shares_memory(view, array)
