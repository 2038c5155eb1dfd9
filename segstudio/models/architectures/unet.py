"""U-Net (Ronneberger, Fischer, Brox, MICCAI 2015): a contracting path, an expanding path, skip concatenation.

Each decoder block upsamples (``upsampling``: learned 2x2 transposed convolution that halves the channels, as
the paper's "up-convolution"; or parameter-free ``nearest``/``bilinear`` interpolation), concatenates the
encoder feature of the size it reaches, and applies (3x3 conv -> BatchNorm -> ReLU) x 2.

Two layouts, chosen by the encoder:

- ``classic`` (default): the paper. Encoder double convs at strides 1..16 (64..1024 channels); 4 decoder blocks
  (512, 256, 128, 64 channels) back to stride 1, every encoder level a skip, a 1x1 conv classifier. Upsampling
  defaults to ``transposed``. Convs are padded (the paper's are not), so the output has the input's size.
- ``vgg16`` / ``resnet50`` / ``mobilenet_v2``: the segmentation_models_pytorch layout, so its ``smp.Unet``
  checkpoints load (:func:`segstudio.models.smp_compat.load_smp_state_dict`): 5 decoder blocks (256, 128, 64,
  32, 16 channels) from stride 32 to 1, skips at strides 16, 8, 4 and 2 (VGG's full-resolution conv1_2 is not
  used, as in smp), a double-conv centre block on VGG's pool5 only, a 3x3 conv classifier. Upsampling defaults
  to ``nearest``, like smp.

The model keeps its weights and activations in channels-last ("NHWC") memory layout, oneDNN's fastest on
CPUs: the logits come back channels-last strided (same values; ``.contiguous()`` gives the plain layout), and
``model.to(memory_format=torch.contiguous_format)`` switches the whole model to plain NCHW.

Any input size works: blocks upsample to the exact size of the skip they join (interpolation to that size;
a transposed conv's output padded or cropped at the bottom/right to it), and inputs smaller than the encoder
accepts (32 px for VGG, 16 for classic) are zero-padded and the logits cropped back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segstudio.models.encoder_contract import Encoder, EncoderName, pad_input
from segstudio.models.encoders import build_encoder
from segstudio.models.architecture import Architecture, Task, Upsampling

UNET_ENCODERS: tuple[str, ...] = (
    EncoderName.CLASSIC.value,
    EncoderName.VGG16.value,
    EncoderName.RESNET50.value,
    EncoderName.MOBILENET_V2.value,
)
UNET_UPSAMPLING: tuple[Upsampling, ...] = (Upsampling.TRANSPOSED, Upsampling.BILINEAR, Upsampling.NEAREST)
SMP_DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """conv (no bias) -> BatchNorm -> ReLU; keys ``0.weight``, ``1.*`` as smp's ``Conv2dReLU``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def fit_to(x: Tensor, size: Sequence[int]) -> Tensor:
    """``x`` zero-padded or cropped at the bottom/right to spatial ``size`` (top-left stays aligned)."""
    dh, dw = int(size[0]) - x.shape[-2], int(size[1]) - x.shape[-1]
    if dh == 0 and dw == 0:
        return x
    if dh < 0 or dw < 0:
        x = x[..., : x.shape[-2] + min(dh, 0), : x.shape[-1] + min(dw, 0)]
    if dh > 0 or dw > 0:
        x = F.pad(x, (0, max(dw, 0), 0, max(dh, 0)))
    return x


class DecoderBlock(nn.Module):
    """Upsample to the skip's size, concatenate the skip (if any), then two conv-BN-ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, upsampling: Upsampling) -> None:
        super().__init__()
        self.upsampling = upsampling
        if upsampling is Upsampling.TRANSPOSED:
            up_channels = max(1, in_channels // 2)
            self.up: nn.ConvTranspose2d | None = nn.ConvTranspose2d(in_channels, up_channels, 2, stride=2)
        else:
            up_channels = in_channels
            self.up = None
        self.conv1 = conv_bn_relu(up_channels + skip_channels, out_channels)
        self.conv2 = conv_bn_relu(out_channels, out_channels)

    def forward(self, x: Tensor, size: Sequence[int], skip: Tensor | None) -> Tensor:
        if self.up is not None:
            x = fit_to(self.up(x), size)
        elif self.upsampling is Upsampling.BILINEAR:
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        else:
            x = F.interpolate(x, size=tuple(size), mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class UNetDecoder(nn.Module):
    """The expanding path over an encoder's features; ``skip_indices[i]`` is block ``i``'s skip (or None)."""

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        skip_indices: Sequence[int | None],
        decoder_channels: Sequence[int],
        upsampling: Upsampling,
        center: bool,
    ) -> None:
        super().__init__()
        head = encoder_channels[-1]
        self.center: nn.Module = (
            nn.Sequential(conv_bn_relu(head, head), conv_bn_relu(head, head)) if center else nn.Identity()
        )
        self.skip_indices = tuple(skip_indices)
        blocks = []
        in_channels = head
        for skip, out_channels in zip(self.skip_indices, decoder_channels):
            skip_channels = 0 if skip is None else encoder_channels[skip]
            blocks.append(DecoderBlock(in_channels, skip_channels, out_channels, upsampling))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)

    def forward(self, features: list[Tensor], input_size: Sequence[int]) -> Tensor:
        x = self.center(features[-1])
        for skip_index, block in zip(self.skip_indices, self.blocks):
            if skip_index is None:
                x = block(x, input_size, None)
            else:
                skip = features[skip_index]
                x = block(x, skip.shape[-2:], skip)
        return x


class UNet(nn.Module):
    """encoder -> :class:`UNetDecoder` -> classifier conv; returns ``{"out": logits}`` at the input's size."""

    def __init__(
        self,
        *,
        encoder: Encoder,
        num_classes: int,
        decoder_channels: Sequence[int],
        upsampling: Upsampling,
    ) -> None:
        super().__init__()
        classic = encoder.name == EncoderName.CLASSIC.value
        # Skips: every encoder level below the deepest, deepest first; the smp layout leaves out stride 1 and
        # ends with a block that upsamples to the input without a skip.
        levels = [i for i in range(len(encoder.reductions) - 1) if classic or encoder.reductions[i] > 1]
        skip_indices: list[int | None] = list(reversed(levels))
        if not levels or encoder.reductions[levels[0]] > 1:
            skip_indices.append(None)
        if len(decoder_channels) != len(skip_indices):
            raise ValueError(
                f"decoder_channels needs one width per decoder block: {len(skip_indices)} for the "
                f"{encoder.name} encoder, got {len(decoder_channels)} ({tuple(decoder_channels)})"
            )
        self.encoder = encoder
        self.upsampling = upsampling
        self.decoder = UNetDecoder(
            encoder_channels=encoder.out_channels,
            skip_indices=skip_indices,
            decoder_channels=decoder_channels,
            upsampling=upsampling,
            center=encoder.name == EncoderName.VGG16.value,
        )
        kernel = 1 if classic else 3
        self.head = nn.Conv2d(decoder_channels[-1], num_classes, kernel, padding=kernel // 2)
        for name, module in self.named_modules():
            if name.startswith("encoder"):
                continue
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        # Channels-last ("NHWC") weights and activations: oneDNN's fastest CPU convolutions (about a fifth
        # faster than NCHW for ResNet-50 at 512 px) and tensor cores' layout on GPUs. Values and state-dict keys
        # are unchanged; forward follows the weights' layout, so model.to(memory_format=torch.contiguous_format)
        # gives plain NCHW (whose float rounding differs slightly: other convolution kernels).
        self.to(memory_format=torch.channels_last)

    def _runs_channels_last(self) -> bool:
        # A 3x3 kernel of the decoder: unambiguous, unlike a 1x1 kernel or a one-channel first conv.
        weight = self.decoder.blocks[-1].conv2[0].weight
        return weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x, (height, width) = pad_input(x, minimum=self.encoder.min_input_size)
        if self._runs_channels_last():
            x = x.contiguous(memory_format=torch.channels_last)
        features = self.encoder(x)
        logits = self.head(self.decoder(features, x.shape[-2:]))
        if logits.shape[-2:] != (height, width):
            logits = logits[..., :height, :width]
        return {"out": logits}


def build_unet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str | None = None,
    upsampling: str | Upsampling | None = None,
    decoder_channels: Sequence[int] | None = None,
    base_channels: int | None = None,
) -> UNet:
    """A randomly initialised U-Net (see the module docstring for the two layouts and the defaults)."""
    name = (encoder or EncoderName.CLASSIC.value).lower()
    if name not in UNET_ENCODERS:
        raise ValueError(f"unet has no encoder {encoder!r}; choose one of {', '.join(UNET_ENCODERS)}")
    classic = name == EncoderName.CLASSIC.value
    if base_channels is not None and not classic:
        raise ValueError("base_channels sets the classic encoder's width; the torchvision encoders have fixed widths")
    if upsampling is None:
        mode = Upsampling.TRANSPOSED if classic else Upsampling.NEAREST
    else:
        try:
            mode = Upsampling(str(upsampling).lower())
        except ValueError:
            mode = None  # type: ignore[assignment]
        if mode not in UNET_UPSAMPLING:
            raise ValueError(
                f"unet upsampling must be one of {', '.join(u.value for u in UNET_UPSAMPLING)}, got {upsampling!r}"
            )
    base = 64 if base_channels is None else int(base_channels)
    built = build_encoder(name, in_channels=in_channels, base_channels=base)
    if decoder_channels is None:
        channels: tuple[int, ...] = tuple(base * 2**i for i in (3, 2, 1, 0)) if classic else SMP_DECODER_CHANNELS
    else:
        channels = tuple(int(c) for c in decoder_channels)
        if any(c < 1 for c in channels):
            raise ValueError(f"decoder_channels must all be positive, got {channels}")
    return UNet(encoder=built, num_classes=num_classes, decoder_channels=channels, upsampling=mode)


UNET = Architecture(
    name="unet",
    builder=build_unet,
    task=Task.SEMANTIC,
    encoders=UNET_ENCODERS,
    summary="U-Net (Ronneberger et al. 2015): encoder-decoder with skip concatenation",
    options={
        "upsampling": "transposed, bilinear or nearest (default: transposed for classic, nearest otherwise)",
        "decoder_channels": "one width per decoder block, deepest first "
        "(default 512,256,128,64 for classic; 256,128,64,32,16 otherwise, as smp)",
        "base_channels": "classic encoder's first width, doubled at each level (default 64)",
    },
)

ARCHITECTURES = (UNET,)
