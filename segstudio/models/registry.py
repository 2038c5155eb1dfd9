"""The model registry: every architecture the app can build, by name, with keyword-only options.

Contract for semantic models (``Task.SEMANTIC``): ``forward(x)`` takes a float tensor ``(B, in_channels, H, W)``
of any ``H, W`` (odd sizes too) and returns ``{"out": logits}`` with logits ``(B, num_classes, H, W)``; models
with an auxiliary head (PSPNet) add ``"aux"`` of the same shape while training. Instance models
(``Task.INSTANCE``, Mask R-CNN) follow torchvision's detection API.

Nothing here downloads weights: builders always start from random initialisation (``weights=None``); weights
come only from local files through :mod:`segstudio.models.checkpoints`.
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


_ARCHITECTURES: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    if architecture.name in _ARCHITECTURES:
        raise ValueError(f"architecture {architecture.name!r} is registered twice")
    _ARCHITECTURES[architecture.name] = architecture
    return architecture


def architectures() -> dict[str, Architecture]:
    """All registered architectures by name (importing the builders registers them)."""
    _load_builtin()
    return dict(_ARCHITECTURES)


def get_architecture(name: str) -> Architecture:
    known = architectures()
    key = name.lower()
    if key not in known:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(sorted(known))}")
    return known[key]


def build_model(config: ModelConfig) -> nn.Module:
    """A randomly initialised model for ``config``; ``ValueError`` for an unknown name, encoder or option."""
    architecture = get_architecture(config.architecture)
    encoder = config.encoder or (architecture.encoders[0] if architecture.encoders else None)
    if architecture.encoders and encoder not in architecture.encoders:
        raise ValueError(
            f"{architecture.name} has no encoder {encoder!r}; choose one of {', '.join(architecture.encoders)}"
        )
    if config.num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {config.num_classes}")
    if config.in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {config.in_channels}")
    unknown = sorted(set(config.options) - set(architecture.options))
    if unknown:
        accepted = ", ".join(sorted(architecture.options)) or "none"
        raise ValueError(f"{architecture.name} has no option(s) {', '.join(unknown)}; it accepts: {accepted}")
    return architecture.builder(
        num_classes=config.num_classes, in_channels=config.in_channels, encoder=encoder, **dict(config.options)
    )


def _load_builtin() -> None:
    # Importing the architecture modules registers them; done lazily so the registry imports cheaply.
    from segstudio.models import architectures as _  # noqa: F401
