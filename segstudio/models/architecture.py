"""What an architecture is, as the registry and checkpoints know it: its record, its task and a model's settings.

The vocabulary shared by the registry and every architecture module; it imports neither, so architecture modules
describe themselves here without importing the registry that collects them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from torch import nn


class Task(StrEnum):
    SEMANTIC = "semantic"
    INSTANCE = "instance"


class Upsampling(StrEnum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    TRANSPOSED = "transposed"  # learned transposed convolution
    MAX_UNPOOL = "max-unpool"  # pooling indices from the encoder (SegNet)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model: what a checkpoint stores besides the weights."""

    architecture: str
    num_classes: int
    in_channels: int = 3
    encoder: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_mapping(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "encoder": self.encoder,
            "options": dict(self.options),
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ModelConfig:
        return cls(
            architecture=str(data["architecture"]),
            num_classes=int(data["num_classes"]),
            in_channels=int(data.get("in_channels", 3)),
            encoder=None if data.get("encoder") is None else str(data["encoder"]),
            options=dict(data.get("options", {})),
        )


Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Builder  # builder(*, num_classes, in_channels, encoder, **options) -> nn.Module
    task: Task
    encoders: tuple[str, ...]  # the encoders it accepts; the first is the default
    summary: str
    options: Mapping[str, str] = field(default_factory=dict)  # option name -> what it does (for `segstudio models`)
