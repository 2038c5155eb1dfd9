"""PaintScope: which existing pixels an edit may overwrite (the operations that apply it: test_editing.py)."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.paint_scope import PaintScope


def test_keep_other_classes_frees_the_background_and_the_unlabelled_value_only():
    # CamVid-like: class 0 (Sky) is a real class, 11 is unlabelled, there is no background class.
    mask = np.array([[0, 11, 3, 11, 0, 5]], dtype=np.uint8)
    camvid = PaintScope(keep_other_classes=True, background=None, unlabelled=11)
    assert camvid.free_values == (11,)
    np.testing.assert_array_equal(camvid.writable(mask, 8), [[False, True, False, True, False, False]])
    assert not camvid.allows(0, 8) and camvid.allows(11, 8)
    # VOC-like: background 0 and boundary 255 are both free.
    voc = PaintScope(keep_other_classes=True, background=0, unlabelled=255)
    np.testing.assert_array_equal(voc.writable(np.array([[0, 255, 3]], np.uint8), 7), [[True, True, False]])
    # Neither: every pixel holds an annotated class, so nothing may be painted over.
    neither = PaintScope(keep_other_classes=True, background=None)
    assert neither.free_values == () and not neither.writable(mask, 8).any() and not neither.allows(11, 8)
    with pytest.raises(ValueError, match="unlabelled"):
        PaintScope(unlabelled=-1)
