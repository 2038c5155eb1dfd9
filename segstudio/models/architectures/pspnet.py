"""PSPNet (Zhao, Shi, Qi, Wang, Jia, CVPR 2017): pyramid pooling over a dilated encoder.

- Encoder: ResNet-50 (default) or MobileNetV2 with ``output_stride`` 8 (the paper's; 16 is cheaper): the last
  stages are dilated instead of strided (:func:`segstudio.models.encoders.build_encoder`).
- Pyramid pooling module on the last feature map (C channels): for each bin size ``b`` in ``bins``
  (1, 2, 3, 6), average-pool to ``b x b``, 1x1 conv to ``C / len(bins)`` channels, BatchNorm, ReLU, bilinear
  upsampling back; concatenated with the feature map itself (2C channels).
- Head: 3x3 conv to ``C / 4`` channels (512 for ResNet-50), BatchNorm, ReLU, dropout 0.1, 1x1 conv to the
  classes, bilinear upsampling to the input size.
- Auxiliary head on the second-to-last encoder feature (ResNet-50's layer3, MobileNetV2's stride-16 block):
  3x3 conv, BatchNorm, ReLU, dropout 0.1, 1x1 conv; returned as ``"aux"`` in training mode only (the paper
  weights its loss 0.4).

The 1x1 bin has no BatchNorm (a conv with bias instead), as in segmentation_models_pytorch: its map has a single
value per channel and image, which BatchNorm cannot normalise for a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segstudio.models.encoder_contract import Encoder, EncoderName
from segstudio.models.encoders import build_encoder
from segstudio.models.architecture import Architecture, Task

PSPNET_ENCODERS: tuple[str, ...] = (EncoderName.RESNET50.value, EncoderName.MOBILENET_V2.value)
PAPER_BINS: tuple[int, ...] = (1, 2, 3, 6)


def _init_conv(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


class PyramidPooling(nn.Module):
    """Average-pool to each bin size, reduce, upsample, and concatenate with the input."""

    def __init__(self, in_channels: int, bins: Sequence[int]) -> None:
        super().__init__()
        reduced = max(1, in_channels // len(bins))
        stages = []
        for size in bins:
            if size == 1:
                layers: list[nn.Module] = [_init_conv(nn.Conv2d(in_channels, reduced, 1, bias=True))]
            else:
                layers = [_init_conv(nn.Conv2d(in_channels, reduced, 1, bias=False)), nn.BatchNorm2d(reduced)]
            stages.append(nn.Sequential(nn.AdaptiveAvgPool2d(size), *layers, nn.ReLU(inplace=True)))
        self.stages = nn.ModuleList(stages)
        self.out_channels = in_channels + reduced * len(bins)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        pooled = [F.interpolate(stage(x), size=size, mode="bilinear", align_corners=False) for stage in self.stages]
        return torch.cat([x, *pooled], dim=1)


def _head(in_channels: int, mid_channels: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        _init_conv(nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False)),
        nn.BatchNorm2d(mid_channels),
        nn.ReLU(inplace=True),
        nn.Dropout2d(0.1),
        _init_conv(nn.Conv2d(mid_channels, num_classes, 1)),
    )


class PSPNet(nn.Module):
    """encoder -> pyramid pooling -> head (+ aux head while training); see the module docstring."""

    def __init__(self, *, encoder: Encoder, num_classes: int, bins: Sequence[int], aux: bool = True) -> None:
        super().__init__()
        self.encoder = encoder
        deepest, second = encoder.out_channels[-1], encoder.out_channels[-2]
        self.ppm = PyramidPooling(deepest, bins)
        self.head = _head(self.ppm.out_channels, max(64, deepest // 4), num_classes)
        self.aux_head = _head(second, max(64, second // 4), num_classes) if aux else None

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        size = x.shape[-2:]
        features = self.encoder(x)
        logits = self.head(self.ppm(features[-1]))
        result = {"out": F.interpolate(logits, size=size, mode="bilinear", align_corners=False)}
        if self.training and self.aux_head is not None:
            aux = self.aux_head(features[-2])
            result["aux"] = F.interpolate(aux, size=size, mode="bilinear", align_corners=False)
        return result


def build_pspnet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str | None = None,
    bins: Sequence[int] = PAPER_BINS,
    output_stride: int = 8,
    aux: bool = True,
) -> PSPNet:
    name = (encoder or EncoderName.RESNET50.value).lower()
    if name not in PSPNET_ENCODERS:
        raise ValueError(f"pspnet has no encoder {encoder!r}; choose one of {', '.join(PSPNET_ENCODERS)}")
    if output_stride not in (8, 16):
        raise ValueError(f"pspnet output_stride must be 8 (the paper's) or 16, got {output_stride}")
    sizes = tuple(int(b) for b in bins)
    if not sizes or any(b < 1 for b in sizes):
        raise ValueError(f"bins must be positive pooling sizes such as (1, 2, 3, 6), got {tuple(bins)}")
    built = build_encoder(name, in_channels=in_channels, output_stride=int(output_stride))
    return PSPNet(encoder=built, num_classes=num_classes, bins=sizes, aux=bool(aux))


PSPNET = Architecture(
    name="pspnet",
    builder=build_pspnet,
    task=Task.SEMANTIC,
    encoders=PSPNET_ENCODERS,
    summary="PSPNet (Zhao et al. 2017): dilated encoder, pyramid pooling (1, 2, 3, 6), auxiliary head",
    options={
        "bins": "pyramid pooling sizes (default 1,2,3,6)",
        "output_stride": "encoder output stride, 8 (default, the paper's) or 16 (faster)",
        "aux": "auxiliary head on the stride-16 features, returned as 'aux' while training (default true)",
    },
)

ARCHITECTURES = (PSPNET,)
