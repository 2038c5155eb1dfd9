"""Encoders: the feature extractors every semantic architecture is built on, behind one contract; this module
lists them and builds them by name (:func:`build_encoder`).

An :class:`~segstudio.models.encoder_contract.Encoder` maps ``(B, in_channels, H, W)`` to a list of feature maps ordered from high to low
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
(``min_input_size``; :func:`~segstudio.models.encoder_contract.pad_input` pads smaller inputs).

Where each lives: the contract (:class:`~segstudio.models.encoder_contract.Encoder`, the names, padding) in
:mod:`segstudio.models.encoder_contract`; the torchvision-based encoders and the loading of their ImageNet weights
in :mod:`segstudio.models.torchvision_encoders`; ``classic`` in :mod:`segstudio.models.classic_encoder`.

Nothing here downloads: torchvision models are always built with ``weights=None``.
"""

from __future__ import annotations

from segstudio.models.classic_encoder import ClassicEncoder
from segstudio.models.encoder_contract import ENCODERS, Encoder, EncoderName
from segstudio.models.torchvision_encoders import MobileNetEncoder, ResNetEncoder, VGGEncoder


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


__all__ = ["build_encoder"]
