"""The encoder contract: what every encoder is (:class:`Encoder`), the names they go by, and the padding that
lets an architecture take inputs smaller than an encoder's minimum.

An :class:`Encoder` maps ``(B, in_channels, H, W)`` to a list of feature maps ordered from high to low
resolution. What each encoder returns is fixed and known before any forward pass (``out_channels`` and
``reductions``: feature ``i`` has ``out_channels[i]`` channels and is ``reductions[i]`` times smaller than the
input); :mod:`segstudio.models.encoders` lists each one's.

Sizes round as the layers do: strided convolutions round up (a 33-pixel side gives 17, 9, 5, 3, 2), max-pooling
rounds down (33 gives 16, 8, 4, 2, 1), so VGG and classic need sides of at least 32 and 16 pixels
(``min_input_size``; :func:`pad_input` pads smaller inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import torch.nn.functional as F
from torch import Tensor, nn


class EncoderName(StrEnum):
    VGG16 = "vgg16"
    RESNET50 = "resnet50"
    MOBILENET_V2 = "mobilenet_v2"
    MOBILENET_V3 = "mobilenet_v3"  # MobileNetV3-Large
    CLASSIC = "classic"  # the U-Net paper's double-conv contracting path


ENCODERS: tuple[str, ...] = tuple(name.value for name in EncoderName)


def pad_input(x: Tensor, *, minimum: int = 1, multiple: int = 1) -> tuple[Tensor, tuple[int, int]]:
    """``x`` zero-padded at the bottom/right to at least ``minimum`` and a multiple of ``multiple`` per side.

    Returns the padded tensor (``x`` itself when nothing is needed) and the original ``(H, W)`` to crop back to.
    """
    height, width = int(x.shape[-2]), int(x.shape[-1])
    target_h = -(-max(height, minimum) // multiple) * multiple
    target_w = -(-max(width, minimum) // multiple) * multiple
    if (target_h, target_w) == (height, width):
        return x, (height, width)
    return F.pad(x, (0, target_w - width, 0, target_h - height)), (height, width)


class Encoder(nn.Module):
    """A feature extractor with a known feature contract (see :mod:`segstudio.models.encoders` for each one's taps)."""

    def __init__(
        self,
        *,
        name: str,
        in_channels: int,
        out_channels: Sequence[int],
        reductions: Sequence[int],
        min_input_size: int = 1,
    ) -> None:
        super().__init__()
        if len(out_channels) != len(reductions):
            raise ValueError("an encoder needs one reduction per feature map")
        self.name = name
        self.in_channels = in_channels
        self.out_channels: tuple[int, ...] = tuple(int(c) for c in out_channels)
        self.reductions: tuple[int, ...] = tuple(int(r) for r in reductions)
        # The smallest H and W forward accepts: floor-mode pooling empties smaller maps. Pad up to it
        # (pad_input) when an architecture must take any size.
        self.min_input_size = min_input_size

    @property
    def output_stride(self) -> int:
        return self.reductions[-1]

    def forward(self, x: Tensor) -> list[Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


__all__ = ["ENCODERS", "Encoder", "EncoderName", "pad_input"]
