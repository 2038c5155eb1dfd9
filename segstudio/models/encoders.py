"""Encoders: the feature extractors every semantic architecture is built on, behind one contract.

An :class:`Encoder` maps ``(B, in_channels, H, W)`` to a list of feature maps ordered from high to low
resolution. What each encoder returns is fixed and known before any forward pass (``out_channels`` and
``reductions``: feature ``i`` has ``out_channels[i]`` channels and is ``reductions[i]`` times smaller than the
input):

================  ====================================  ===============================  ==================
name              features (taps)                       out_channels                     reductions
================  ====================================  ===============================  ==================
``vgg16``         conv1_2, conv2_2, conv3_3, conv4_3,   64, 128, 256, 512, 512, 512      1, 2, 4, 8, 16, 32
                  conv5_3 (each before its pooling),
                  then pool5
``resnet50``      relu(bn1(conv1)), layer1, layer2,     64, 256, 512, 1024, 2048         2, 4, 8, 16, 32
                  layer3, layer4
``mobilenet_v2``  the last block at each stride         16, 24, 32, 96, 1280             2, 4, 8, 16, 32
                  (features 1, 3, 6, 13, 18)
``mobilenet_v3``  the same for MobileNetV3-Large        16, 24, 40, 112, 960             2, 4, 8, 16, 32
                  (features 1, 3, 6, 12, 16)
``classic``       U-Net double convs: the first, then   64, 128, 256, 512, 1024          1, 2, 4, 8, 16
                  one after each 2x2 max-pooling        (``base_channels`` x 1..16)
================  ====================================  ===============================  ==================

Sizes round as the layers do: strided convolutions round up (a 33-pixel side gives 17, 9, 5, 3, 2), max-pooling
rounds down (33 gives 16, 8, 4, 2, 1), so VGG and classic need sides of at least 32 and 16 pixels
(``min_input_size``; :func:`pad_input` pads smaller inputs).

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
from enum import StrEnum

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models import vgg


class EncoderName(StrEnum):
    VGG16 = "vgg16"
    RESNET50 = "resnet50"
    MOBILENET_V2 = "mobilenet_v2"
    MOBILENET_V3 = "mobilenet_v3"  # MobileNetV3-Large
    CLASSIC = "classic"  # the U-Net paper's double-conv contracting path


ENCODERS: tuple[str, ...] = tuple(name.value for name in EncoderName)


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
    """A feature extractor with a known feature contract (see the module docstring for each one's taps)."""

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


# --- The U-Net paper's contracting path ------------------------------------------------------------------------


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """(3x3 conv -> BatchNorm -> ReLU) x 2, 'same' padding: the U-Net paper's unit, plus BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ClassicEncoder(Encoder):
    """Ronneberger et al.'s contracting path: a double conv, then 4 x (2x2 max-pool, double conv doubling width).

    Unlike the paper (unpadded convs, output smaller than input) the convs are padded so features keep their
    size, and BatchNorm follows every conv.
    """

    def __init__(self, *, in_channels: int = 3, base_channels: int = 64) -> None:
        if base_channels < 1:
            raise ValueError(f"base_channels must be at least 1, got {base_channels}")
        channels = tuple(base_channels * 2**i for i in range(5))
        super().__init__(
            name=EncoderName.CLASSIC.value,
            in_channels=in_channels,
            out_channels=channels,
            reductions=(1, 2, 4, 8, 16),
            min_input_size=16,
        )
        stages = [double_conv(in_channels, channels[0])]
        for previous, current in zip(channels, channels[1:]):
            stages.append(nn.Sequential(nn.MaxPool2d(2), double_conv(previous, current)))
        self.stages = nn.ModuleList(stages)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> list[Tensor]:
        features: list[Tensor] = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


# --- The one entry point ---------------------------------------------------------------------------------------


def build_encoder(
    name: str,
    *,
    in_channels: int = 3,
    output_stride: int | None = None,
    batch_norm: bool = False,
    base_channels: int = 64,
) -> Encoder:
    """A randomly initialised encoder.

    ``output_stride``: ``None`` for the encoder's own (32; 16 for ``classic``); 16 or 8 dilate ResNet-50 and
    the MobileNets. ``batch_norm`` selects VGG-16-BN (``vgg16`` only). ``base_channels`` is the first width
    of ``classic`` (64 in the paper).
    """
    try:
        kind = EncoderName(name.lower())
    except ValueError:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}") from None
    if in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {in_channels}")
    dilatable = (EncoderName.RESNET50, EncoderName.MOBILENET_V2, EncoderName.MOBILENET_V3)
    if output_stride is not None:
        if kind in dilatable and output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32 for {kind.value}, got {output_stride}")
        natural = 16 if kind is EncoderName.CLASSIC else 32
        if kind not in dilatable and output_stride != natural:
            raise ValueError(
                f"{kind.value} has a fixed output stride of {natural} (max-pooling cannot be dilated away); "
                f"use resnet50 or mobilenet_v2 for output_stride={output_stride}"
            )
    if batch_norm and kind is not EncoderName.VGG16:
        raise ValueError(f"batch_norm is a VGG-16 option ({kind.value} always has BatchNorm)")
    stride = output_stride or 32
    if kind is EncoderName.VGG16:
        return VGGEncoder(in_channels=in_channels, batch_norm=batch_norm)
    if kind is EncoderName.RESNET50:
        return ResNetEncoder(in_channels=in_channels, output_stride=stride)
    if kind is EncoderName.MOBILENET_V2:
        return MobileNetEncoder(version=2, in_channels=in_channels, output_stride=stride)
    if kind is EncoderName.MOBILENET_V3:
        return MobileNetEncoder(version=3, in_channels=in_channels, output_stride=stride)
    return ClassicEncoder(in_channels=in_channels, base_channels=base_channels)
