"""The U-Net paper's contracting path (Ronneberger et al. 2015) as an encoder, and its double-conv unit."""

from __future__ import annotations

from torch import Tensor, nn

from segstudio.models.encoder_contract import Encoder, EncoderName


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


__all__ = ["ClassicEncoder", "double_conv"]
