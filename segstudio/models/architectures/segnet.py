"""SegNet (Badrinarayanan, Kendall, Cipolla, TPAMI 2017): upsampling by the encoder's max-pooling indices.

Encoder: VGG-16's 13 convolutions with BatchNorm (``encoder.features``, exactly torchvision's ``vgg16_bn``
layout, so its ImageNet weights load), each stage ending in a 2x2 max-pooling that remembers where each
maximum was (``return_indices=True``). Decoder: the mirror image, deepest stage first; each stage starts with
``nn.MaxUnpool2d``, which puts every value back at its maximum's position and leaves zeros elsewhere (no
learned upsampling), followed by conv -> BatchNorm -> ReLU layers that fill the sparse map in:

    stage 5: 512, 512, 512    stage 4: 512, 512, 256    stage 3: 256, 256, 128    stage 2: 128, 64    stage 1: 64

and a final 3x3 conv to the class scores (the paper's ``conv1_1_D``), 13 decoder convs in all.

Odd sizes: unpooling gets ``output_size``, the pre-pool size each stage recorded, so a 33-pixel side comes back
as 33, not 32. Inputs smaller than 32 pixels per side (where five poolings would leave nothing) are
zero-padded at the bottom/right to 32 and the logits cropped back.
"""

from __future__ import annotations

from torch import Tensor, nn

from segstudio.models.encoder_contract import EncoderName, pad_input
from segstudio.models.torchvision_encoders import VGGEncoder
from segstudio.models.architecture import Architecture, Task

# Decoder convs per stage, deepest first: (in, out) channels.
DECODER_LAYOUT: tuple[tuple[tuple[int, int], ...], ...] = (
    ((512, 512), (512, 512), (512, 512)),
    ((512, 512), (512, 512), (512, 256)),
    ((256, 256), (256, 256), (256, 128)),
    ((128, 128), (128, 64)),
    ((64, 64),),
)


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class SegNet(nn.Module):
    """VGG-16-BN encoder, index-unpooling decoder; ``forward`` returns ``{"out": logits}``."""

    def __init__(self, *, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        self.encoder = VGGEncoder(in_channels=in_channels, batch_norm=True)
        self.unpool = nn.MaxUnpool2d(kernel_size=2, stride=2)
        self.decoder = nn.ModuleList(
            nn.Sequential(*(_conv_bn_relu(i, o) for i, o in stage)) for stage in DECODER_LAYOUT
        )
        self.classifier = nn.Conv2d(64, num_classes, 3, padding=1)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x, (height, width) = pad_input(x, minimum=self.encoder.min_input_size)
        stages = self.encoder.forward_pooled(x, return_indices=True)
        y = stages[-1].output
        for stage, block in zip(reversed(stages), self.decoder):
            y = block(self.unpool(y, stage.indices, output_size=stage.size))
        logits = self.classifier(y)
        return {"out": logits[..., :height, :width]}


def build_segnet(*, num_classes: int, in_channels: int = 3, encoder: str | None = None) -> SegNet:
    if encoder not in (None, EncoderName.VGG16.value):
        raise ValueError(f"SegNet is built on vgg16 (with BatchNorm) only, got encoder {encoder!r}")
    return SegNet(num_classes=num_classes, in_channels=in_channels)


SEGNET = Architecture(
    name="segnet",
    builder=build_segnet,
    task=Task.SEMANTIC,
    encoders=(EncoderName.VGG16.value,),
    summary="SegNet (Badrinarayanan et al. 2017): VGG-16-BN encoder, decoder unpooling with its max indices",
)

ARCHITECTURES = (SEGNET,)
