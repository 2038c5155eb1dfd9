"""LayerStyle: how one canvas layer is drawn (the drawing itself: test_compositing.py)."""

from __future__ import annotations

import pytest

from segstudio.core.layers import LayerStyle


def test_a_layer_style_refuses_an_opacity_outside_0_to_1() -> None:
    with pytest.raises(ValueError, match="opacity"):
        LayerStyle(opacity=1.5)
    assert LayerStyle(opacity=0.0).shows is False and LayerStyle(visible=False).shows is False
