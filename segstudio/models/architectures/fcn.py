"""Fully convolutional networks (Long, Shelhamer, Darrell, CVPR 2015), and torchvision's FCN-ResNet50.

``fcn32s`` / ``fcn16s`` / ``fcn8s`` follow the paper's VGG-16 nets. One builder, :func:`_build_fcn`, makes all
three; they differ only in which skips are fused (state-dict keys: see :class:`FCN`):

- trunk: VGG-16's 13 convolutions (``encoder.features``, torchvision's layout, so ImageNet weights load);
- ``fc6``: 7x7 conv 512 -> ``width`` and ``fc7``: 1x1 conv ``width`` -> ``width``, each with ReLU and dropout
  0.5: VGG's first two fully connected layers made convolutions (``width`` 4096 in the paper; smaller widths
  make a lighter net); :meth:`FCN.load_torchvision_vgg16` copies a torchvision VGG-16 classifier into them;
- ``score_fr``: 1x1 conv to class scores at stride 32;
- FCN-32s: ``upscore`` (x32 transposed conv) to the input size;
- FCN-16s: ``upscore2`` (x2) of the scores plus ``score_pool4`` (1x1 conv on pool4), then ``upscore16`` (x16);
- FCN-8s: as 16s, then ``upscore_pool4`` (x2) plus ``score_pool3`` (1x1 conv on pool3), then ``upscore8`` (x8).

Every upsampling is a learned transposed convolution with kernel ``2f``, stride ``f``, no bias, initialised
to bilinear interpolation per class (the paper's "deconvolution"); skip score layers start at zero, as in the
paper's staged training, so a fresh FCN-16s/8s starts out as its coarser parent's scores upsampled in stages.

Alignment, differing from the paper: instead of padding the input by 100 pixels and cropping each fused map
at an offset, the input is zero-padded at the bottom/right to a multiple of 32, ``fc6`` is padded by 3 so
pool5's size is kept, and each transposed conv is padded by ``f / 2`` so it enlarges exactly ``f`` times and
stays centred. All fused maps then line up pixel for pixel; the logits are cropped to the input's size.
The staged paper nets also scale nothing, as here (the "at-once" FCN-8s scales pool3/pool4 by 1e-4/1e-2).

``fcn_resnet50`` is torchvision's ``fcn_resnet50`` (dilated ResNet-50, output stride 8, FCNHead, auxiliary
FCNHead on layer3), built from torchvision's own parts so its state dict has torchvision's exact keys and the
official ``fcn_resnet50_coco-*.pth`` loads unchanged (21 classes, ``aux=True``). Unlike torchvision's, it
returns ``"aux"`` only in training mode. ``in_channels != 3`` replaces ``backbone.conv1``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from functools import partial

import torch
from torch import Tensor, nn
from torchvision.models import resnet50
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.fcn import FCN as TorchvisionFCN
from torchvision.models.segmentation.fcn import FCNHead

from segstudio.models.encoder_contract import EncoderName, pad_input
from segstudio.models.torchvision_encoders import VGGEncoder, adapt_input_channels
from segstudio.models.architecture import Architecture, Task

FCN_STRIDES: tuple[int, ...] = (32, 16, 8)
PAPER_WIDTH = 4096


def bilinear_kernel(channels: int, factor: int) -> Tensor:
    """A ``(channels, channels, 2f, 2f)`` transposed-conv weight that upsamples each channel bilinearly."""
    size = 2 * factor
    centre = factor - 0.5
    taps = 1 - (torch.arange(size, dtype=torch.float32) - centre).abs() / factor
    weight = torch.zeros(channels, channels, size, size)
    weight[range(channels), range(channels)] = taps[:, None] * taps[None, :]
    return weight


def upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """Transposed conv enlarging exactly ``factor`` times, aligned, initialised to bilinear interpolation."""
    layer = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(bilinear_kernel(channels, factor))
    return layer


def _zero_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, out_channels, 1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class FCN(nn.Module):
    """FCN-32s/16s/8s on VGG-16 (see the module docstring); ``forward`` returns ``{"out": logits}``."""

    def __init__(self, *, num_classes: int, in_channels: int = 3, stride: int = 32, width: int = PAPER_WIDTH) -> None:
        super().__init__()
        if stride not in FCN_STRIDES:
            raise ValueError(f"FCN stride must be one of {FCN_STRIDES} (FCN-32s/16s/8s), got {stride}")
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width}")
        self.stride = stride
        self.width = width
        self.encoder = VGGEncoder(in_channels=in_channels)
        self.fc6 = nn.Conv2d(512, width, 7, padding=3)
        self.fc7 = nn.Conv2d(width, width, 1)
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(0.5)
        self.score_fr = nn.Conv2d(width, num_classes, 1)
        for conv in (self.fc6, self.fc7, self.score_fr):
            nn.init.normal_(conv.weight, 0, 0.01)  # torchvision's init of VGG's linear layers
            nn.init.zeros_(conv.bias)
        if stride == 32:
            self.upscore = upsampler(num_classes, 32)
        else:
            self.upscore2 = upsampler(num_classes, 2)
            self.score_pool4 = _zero_conv(512, num_classes)
            if stride == 16:
                self.upscore16 = upsampler(num_classes, 16)
            else:
                self.upscore_pool4 = upsampler(num_classes, 2)
                self.score_pool3 = _zero_conv(256, num_classes)
                self.upscore8 = upsampler(num_classes, 8)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x, (height, width) = pad_input(x, multiple=32)
        pools = self.encoder.forward_pooled(x)  # pool1..pool5
        h = self.drop(self.relu(self.fc6(pools[4].output)))
        h = self.drop(self.relu(self.fc7(h)))
        score = self.score_fr(h)
        if self.stride == 32:
            score = self.upscore(score)
        else:
            score = self.upscore2(score) + self.score_pool4(pools[3].output)
            if self.stride == 16:
                score = self.upscore16(score)
            else:
                score = self.upscore_pool4(score) + self.score_pool3(pools[2].output)
                score = self.upscore8(score)
        return {"out": score[..., :height, :width]}

    def load_torchvision_vgg16(self, state_dict: Mapping[str, Tensor]) -> None:
        """The paper's initialisation: a torchvision VGG-16 state dict into the trunk, ``fc6`` and ``fc7``.

        ``classifier.0`` (25088 -> width) becomes the 7x7 ``fc6``, ``classifier.3`` the 1x1 ``fc7``;
        the 1000-class ``classifier.6`` is dropped. ``ValueError`` if the widths differ from this FCN's.
        """
        for key in ("classifier.0.weight", "classifier.0.bias", "classifier.3.weight", "classifier.3.bias"):
            if key not in state_dict:
                raise ValueError(f"not a torchvision VGG-16 state dict: {key!r} is missing")
        fc6_weight, fc7_weight = state_dict["classifier.0.weight"], state_dict["classifier.3.weight"]
        expected = {"classifier.0.weight": (self.width, 512 * 7 * 7), "classifier.3.weight": (self.width, self.width)}
        for key, shape in expected.items():
            if tuple(state_dict[key].shape) != shape:
                raise ValueError(
                    f"{key} is {tuple(state_dict[key].shape)}, this FCN (width {self.width}) needs {shape}; "
                    f"build it with width={state_dict[key].shape[0]}"
                )
        self.encoder.load_torchvision_state_dict(state_dict)
        with torch.no_grad():
            self.fc6.weight.copy_(fc6_weight.reshape(self.width, 512, 7, 7))
            self.fc6.bias.copy_(state_dict["classifier.0.bias"])
            self.fc7.weight.copy_(fc7_weight.reshape(self.width, self.width, 1, 1))
            self.fc7.bias.copy_(state_dict["classifier.3.bias"])


def _build_fcn(
    *, stride: int, num_classes: int, in_channels: int = 3, encoder: str | None = None, width: int = PAPER_WIDTH
) -> FCN:
    """The one builder behind fcn32s, fcn16s and fcn8s."""
    if encoder not in (None, EncoderName.VGG16.value):
        raise ValueError(f"FCN-{stride}s is built on vgg16 only, got encoder {encoder!r}")
    return FCN(num_classes=num_classes, in_channels=in_channels, stride=stride, width=int(width))


_FCN_OPTIONS: Mapping[str, str] = {
    "width": f"channels of fc6/fc7 (default {PAPER_WIDTH} as in the paper; fc6 alone then has 103M parameters)",
}
FCN_ARCHITECTURES = tuple(
    Architecture(
        name=f"fcn{stride}s",
        builder=partial(_build_fcn, stride=stride),
        task=Task.SEMANTIC,
        encoders=(EncoderName.VGG16.value,),
        summary=f"FCN-{stride}s (Long et al. 2015): fully convolutional VGG-16"
        + ("" if stride == 32 else f", skips from {'pool4' if stride == 16 else 'pool3 and pool4'}"),
        options=_FCN_OPTIONS,
    )
    for stride in FCN_STRIDES
)


# --- torchvision's FCN-ResNet50 -------------------------------------------------------------------------------


class FCNResNet50(TorchvisionFCN):
    """torchvision's FCN (same modules and keys), with the auxiliary head run in training mode only."""

    def forward(self, x: Tensor) -> dict[str, Tensor]:  # type: ignore[override]
        size = x.shape[-2:]
        features = self.backbone(x)
        result: OrderedDict[str, Tensor] = OrderedDict()
        result["out"] = nn.functional.interpolate(
            self.classifier(features["out"]), size=size, mode="bilinear", align_corners=False
        )
        if self.training and self.aux_classifier is not None:
            result["aux"] = nn.functional.interpolate(
                self.aux_classifier(features["aux"]), size=size, mode="bilinear", align_corners=False
            )
        return result


def build_fcn_resnet50(
    *, num_classes: int, in_channels: int = 3, encoder: str | None = None, aux: bool = True
) -> FCNResNet50:
    """torchvision's ``fcn_resnet50(weights=None, weights_backbone=None, num_classes=..., aux_loss=aux)``."""
    if encoder not in (None, EncoderName.RESNET50.value):
        raise ValueError(f"fcn_resnet50 is built on resnet50 only, got encoder {encoder!r}")
    backbone = resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
    if in_channels != 3:
        old = backbone.conv1
        backbone.conv1 = nn.Conv2d(in_channels, old.out_channels, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(backbone.conv1.weight, mode="fan_out", nonlinearity="relu")
    layers = {"layer4": "out", "layer3": "aux"} if aux else {"layer4": "out"}
    body = IntermediateLayerGetter(backbone, return_layers=layers)
    aux_head = FCNHead(1024, num_classes) if aux else None
    return FCNResNet50(body, FCNHead(2048, num_classes), aux_head)


def adapt_torchvision_fcn_state_dict(state_dict: Mapping[str, Tensor], in_channels: int) -> dict[str, Tensor]:
    """A torchvision FCN-ResNet50 state dict with ``backbone.conv1`` adapted to ``in_channels`` (sum for grey)."""
    adapted = dict(state_dict)
    key = "backbone.conv1.weight"
    if key in adapted:
        adapted[key] = adapt_input_channels(adapted[key], in_channels)
    return adapted


FCN_RESNET50 = Architecture(
    name="fcn_resnet50",
    builder=build_fcn_resnet50,
    task=Task.SEMANTIC,
    encoders=(EncoderName.RESNET50.value,),
    summary="torchvision's FCN-ResNet50 (dilated, output stride 8); loads fcn_resnet50_coco-*.pth unchanged",
    options={"aux": "auxiliary FCN head on layer3, used in training (default true, as the COCO file has)"},
)

ARCHITECTURES = (*FCN_ARCHITECTURES, FCN_RESNET50)
