"""The encoders built from torchvision's ImageNet classifiers (VGG-16, ResNet-50, MobileNetV2 and V3-Large),
and how their ImageNet weights load into them.

The VGG taps follow segmentation_models_pytorch, so its checkpoints map onto ours; :meth:`VGGEncoder.forward_pooled`
gives the pooled outputs (pool1..pool5, optionally with their max indices) that FCN and SegNet need.

``output_stride`` (ResNet-50 and the MobileNets only) trades the last downsamplings for dilated convolutions as
in DeepLab/PSPNet: 16 keeps layer4 (the last stage) at stride 16 with dilation 2; 8 keeps layer3 and layer4 at
stride 8 with dilations 2 and 4. The reductions then read ``(2, 4, 8, 16, 16)`` or ``(2, 4, 8, 8, 8)``. The
number of parameters and the state-dict keys do not change, so ImageNet weights load either way.

Torchvision-based encoders keep torchvision's own module names (``features.N`` for VGG and MobileNets,
``conv1``/``bn1``/``layer1..4`` for ResNet), so :meth:`TorchvisionEncoder.load_torchvision_state_dict` loads
an ImageNet classification checkpoint as torchvision saves it, minus the classifier. A different number of
input channels replaces the first convolution; the checkpoint's RGB kernel is then adapted by
:func:`adapt_input_channels`: for one channel the three RGB kernels are summed (a grey image ``g`` then gives
exactly the response the RGB network gives to ``(g, g, g)``); for ``n`` channels the RGB kernels are repeated
cyclically (R, G, B, R, ...) and scaled by ``3 / n``, as segmentation_models_pytorch does.

Nothing here downloads: torchvision models are always built with ``weights=None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models import vgg

from segstudio.models.encoder_contract import Encoder, EncoderName


@dataclass(frozen=True)
class PooledStage:
    """One VGG stage after its 2x2 max-pooling: what FCN's skips and SegNet's unpooling consume."""

    output: Tensor  # the pooled map
    indices: Tensor | None  # argmax positions in the pre-pool map (``return_indices=True`` only)
    size: torch.Size  # the pre-pool spatial size, the ``output_size`` that undoes the pooling on odd sizes


def adapt_input_channels(weight: Tensor, in_channels: int) -> Tensor:
    """An RGB first-conv kernel ``(out, 3, kh, kw)`` adapted to ``in_channels`` (see the module docstring)."""
    if weight.ndim != 4:
        raise ValueError(f"expected a conv kernel (out, in, kh, kw), got shape {tuple(weight.shape)}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {in_channels}")
    if weight.shape[1] == in_channels:
        return weight
    if weight.shape[1] != 3:
        raise ValueError(
            f"can only adapt an RGB (3-channel) first convolution, this one takes {weight.shape[1]} channels"
        )
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    order = [channel % 3 for channel in range(in_channels)]
    return weight[:, order] * (3.0 / in_channels)


class TorchvisionEncoder(Encoder):
    """An encoder whose weights are a torchvision ImageNet classifier's, minus the classifier."""

    torchvision_name: str = ""
    _classifier_prefixes: tuple[str, ...] = ()
    _first_conv_key: str = ""

    def load_torchvision_state_dict(self, state_dict: Mapping[str, Tensor]) -> None:
        """Load a torchvision ImageNet state dict (``torchvision.models.<name>().state_dict()`` or its file).

        Classifier keys are ignored; every other key must match by name and shape (``ValueError`` listing the
        missing/unexpected keys otherwise, e.g. for a file of another network). A 3-channel first convolution
        is adapted to this encoder's ``in_channels`` (:func:`adapt_input_channels`).
        """
        incoming = {k: v for k, v in state_dict.items() if not k.startswith(self._classifier_prefixes)}
        own = self.state_dict()
        # Checkpoints saved before BatchNorm counted its batches lack num_batches_tracked; BatchNorm fills it in.
        missing = sorted(k for k in own.keys() - incoming.keys() if not k.endswith("num_batches_tracked"))
        unexpected = sorted(incoming.keys() - own.keys())
        if missing or unexpected:
            raise ValueError(
                f"this is not a torchvision {self.torchvision_name} state dict: "
                f"{_describe_keys('missing', missing)}; {_describe_keys('unexpected', unexpected)}"
            )
        first = incoming[self._first_conv_key]
        if first.shape[1] != self.in_channels:
            incoming[self._first_conv_key] = adapt_input_channels(first, self.in_channels)
        wrong = [
            f"{k}: file {tuple(v.shape)} vs encoder {tuple(own[k].shape)}"
            for k, v in incoming.items()
            if tuple(v.shape) != tuple(own[k].shape)
        ]
        if wrong:
            raise ValueError(
                f"the state dict's shapes do not fit torchvision {self.torchvision_name}: " + "; ".join(wrong[:10])
            )
        self.load_state_dict(incoming, strict=False)  # keys already checked; tolerates num_batches_tracked


def _describe_keys(what: str, keys: Sequence[str]) -> str:
    if not keys:
        return f"no {what} keys"
    shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
    return f"{what} keys: {shown}"


def _new_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """``conv`` rebuilt for ``in_channels`` inputs, randomly initialised as torchvision initialises convs."""
    replacement = nn.Conv2d(
        in_channels,
        conv.out_channels,
        kernel_size=conv.kernel_size,  # type: ignore[arg-type]
        stride=conv.stride,  # type: ignore[arg-type]
        padding=conv.padding,  # type: ignore[arg-type]
        dilation=conv.dilation,  # type: ignore[arg-type]
        groups=conv.groups,
        bias=conv.bias is not None,
    )
    nn.init.kaiming_normal_(replacement.weight, mode="fan_out", nonlinearity="relu")
    if replacement.bias is not None:
        nn.init.zeros_(replacement.bias)
    return replacement


# --- VGG-16 ---------------------------------------------------------------------------------------------------


class VGGEncoder(TorchvisionEncoder):
    """VGG-16 (``batch_norm=True``: VGG-16-BN), ``features`` exactly as torchvision's."""

    _classifier_prefixes = ("classifier.",)
    _first_conv_key = "features.0.weight"

    def __init__(self, *, in_channels: int = 3, batch_norm: bool = False) -> None:
        super().__init__(
            name=EncoderName.VGG16.value,
            in_channels=in_channels,
            out_channels=(64, 128, 256, 512, 512, 512),
            reductions=(1, 2, 4, 8, 16, 32),
            min_input_size=32,
        )
        self.batch_norm = batch_norm
        self.torchvision_name = "vgg16_bn" if batch_norm else "vgg16"
        # torchvision's own layer list and initialisation, without building (and initialising) the 120M-parameter
        # classifier that vgg16() would throw away here.
        self.features: nn.Sequential = vgg.make_layers(vgg.cfgs["D"], batch_norm=batch_norm)
        for module in self.features.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if in_channels != 3:
            self.features[0] = _new_first_conv(self.features[0], in_channels)  # type: ignore[arg-type]
        pools = [i for i, module in enumerate(self.features) if isinstance(module, nn.MaxPool2d)]
        starts = [0] + [p + 1 for p in pools[:-1]]
        self._stages: tuple[tuple[int, int], ...] = tuple(zip(starts, pools))  # (first layer, its max-pool)

    def forward(self, x: Tensor) -> list[Tensor]:
        features: list[Tensor] = []
        for start, pool in self._stages:
            for index in range(start, pool):
                x = self.features[index](x)
            features.append(x)
            x = self.features[pool](x)
        features.append(x)
        return features

    def forward_pooled(self, x: Tensor, *, return_indices: bool = False) -> list[PooledStage]:
        """pool1..pool5 (strides 2..32; 64, 128, 256, 512, 512 channels), with max indices on request."""
        stages: list[PooledStage] = []
        for start, pool in self._stages:
            for index in range(start, pool):
                x = self.features[index](x)
            size = x.shape[-2:]
            if return_indices:
                x, indices = F.max_pool2d(x, kernel_size=2, stride=2, return_indices=True)
                stages.append(PooledStage(x, indices, size))
            else:
                x = self.features[pool](x)
                stages.append(PooledStage(x, None, size))
        return stages


# --- ResNet-50 ------------------------------------------------------------------------------------------------


class ResNetEncoder(TorchvisionEncoder):
    """ResNet-50 without ``avgpool``/``fc``; ``output_stride`` 16 or 8 dilates the last stage(s)."""

    torchvision_name = "resnet50"
    _classifier_prefixes = ("fc.",)
    _first_conv_key = "conv1.weight"

    def __init__(self, *, in_channels: int = 3, output_stride: int = 32) -> None:
        options = {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}
        if output_stride not in options:
            raise ValueError(f"output_stride must be 8, 16 or 32 for resnet50, got {output_stride}")
        dilate = options[output_stride]
        reductions = (2, 4, 8, min(16, output_stride), output_stride)
        super().__init__(
            name=EncoderName.RESNET50.value,
            in_channels=in_channels,
            out_channels=(64, 256, 512, 1024, 2048),
            reductions=reductions,
        )
        net = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=dilate)
        self.conv1 = net.conv1 if in_channels == 3 else _new_first_conv(net.conv1, in_channels)
        self.bn1 = net.bn1
        self.relu = net.relu
        self.maxpool = net.maxpool
        self.layer1 = net.layer1
        self.layer2 = net.layer2
        self.layer3 = net.layer3
        self.layer4 = net.layer4

    def forward(self, x: Tensor) -> list[Tensor]:
        stem = self.relu(self.bn1(self.conv1(x)))
        c1 = self.layer1(self.maxpool(stem))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return [stem, c1, c2, c3, c4]


# --- MobileNet V2 / V3-Large ----------------------------------------------------------------------------------


def _downsamples(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) and tuple(m.stride) == (2, 2) for m in module.modules())


def _dilate(module: nn.Module, dilation: int) -> None:
    """Make ``module``'s convolutions stride 1 with ``dilation`` (same receptive field, no downsampling)."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            conv.stride = (1, 1)
            kh, kw = conv.kernel_size
            if kh > 1 or kw > 1:
                conv.dilation = (dilation, dilation)
                conv.padding = ((kh - 1) // 2 * dilation, (kw - 1) // 2 * dilation)


class MobileNetEncoder(TorchvisionEncoder):
    """MobileNetV2 or V3-Large ``features``; taps are the last block before each downsampling, and the last."""

    _classifier_prefixes = ("classifier.",)
    _first_conv_key = "features.0.0.weight"

    def __init__(self, *, version: int = 2, in_channels: int = 3, output_stride: int = 32) -> None:
        if version == 2:
            features = torchvision.models.mobilenet_v2(weights=None).features
            name, tv_name = EncoderName.MOBILENET_V2.value, "mobilenet_v2"
        elif version == 3:
            features = torchvision.models.mobilenet_v3_large(weights=None).features
            name, tv_name = EncoderName.MOBILENET_V3.value, "mobilenet_v3_large"
        else:
            raise ValueError(f"MobileNet version must be 2 or 3, got {version}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32 for {tv_name}, got {output_stride}")
        blocks = list(features)
        down = [_downsamples(block) for block in blocks]
        taps = [i for i in range(len(blocks) - 1) if down[i + 1]] + [len(blocks) - 1]
        channels = [[m for m in blocks[i].modules() if isinstance(m, nn.Conv2d)][-1].out_channels for i in taps]
        # Dilate every block that would take the stride past output_stride.
        stride, dilation = 1, 1
        for block, downsampling in zip(blocks, down):
            if downsampling:
                if stride >= output_stride:
                    dilation *= 2
                else:
                    stride *= 2
            if dilation > 1:
                _dilate(block, dilation)
        reductions = [2, 4, 8, min(16, output_stride), output_stride]
        super().__init__(name=name, in_channels=in_channels, out_channels=channels, reductions=reductions)
        self.torchvision_name = tv_name
        if in_channels != 3:
            features[0][0] = _new_first_conv(features[0][0], in_channels)  # type: ignore[index]
        self.features = features
        self._taps = frozenset(taps)

    def forward(self, x: Tensor) -> list[Tensor]:
        out: list[Tensor] = []
        for index, block in enumerate(self.features):
            x = block(x)
            if index in self._taps:
                out.append(x)
        return out


__all__ = [
    "MobileNetEncoder",
    "PooledStage",
    "ResNetEncoder",
    "TorchvisionEncoder",
    "VGGEncoder",
    "adapt_input_channels",
]
