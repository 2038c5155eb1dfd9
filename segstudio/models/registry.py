"""The model registry: every architecture the app can build, by name, with keyword-only options.

Contract for semantic models (``Task.SEMANTIC``): ``forward(x)`` takes a float tensor ``(B, in_channels, H, W)``
of any ``H, W`` (odd sizes too) and returns ``{"out": logits}`` with logits ``(B, num_classes, H, W)``; models
with an auxiliary head (PSPNet) add ``"aux"`` of the same shape while training. Instance models
(``Task.INSTANCE``, Mask R-CNN) follow torchvision's detection API.

Nothing here downloads weights: builders always start from random initialisation (``weights=None``); weights
come only from local files through :mod:`segstudio.models.checkpoints`.
"""

from __future__ import annotations

from torch import nn

from segstudio.models.architecture import Architecture, Builder, ModelConfig, Task, Upsampling

__all__ = [
    "Architecture",
    "Builder",
    "ModelConfig",
    "Task",
    "Upsampling",
    "architectures",
    "build_model",
    "get_architecture",
    "register",
]


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


_BUILT_IN_LOADED = False


def _load_builtin() -> None:
    # The built-in architectures are imported lazily, so importing the registry (for its vocabulary) stays cheap;
    # they describe themselves and the registry collects them: they never import the registry.
    global _BUILT_IN_LOADED
    if _BUILT_IN_LOADED:
        return
    from segstudio.models.architectures import BUILT_IN

    for architecture in BUILT_IN:
        if architecture.name not in _ARCHITECTURES:
            register(architecture)
    _BUILT_IN_LOADED = True
