"""Load segmentation_models_pytorch ``Unet`` checkpoints into our :class:`~segstudio.models.architectures.unet.UNet`.

Our U-Net with a torchvision encoder (``vgg16``, ``resnet50``, ``mobilenet_v2``) has smp's structure and names:
the encoder keeps torchvision's names as smp's does, the decoder is ``decoder.center.*`` and
``decoder.blocks.<i>.conv{1,2}.{0,1}.*`` in both; only the classifier differs (smp's ``segmentation_head.0.*``
is our ``head.*``). So the mapping is a rename plus a check that every tensor fits. smp itself is not imported:
this works on any state dict, e.g. ``torch.load(path, weights_only=True)`` of a file saved from smp.

What the state dict cannot tell: smp's ``decoder_interpolation`` (``"nearest"`` by default). Build our model
with the same ``upsampling`` to get the same outputs. smp models with attention (``decoder_attention_type``),
a classification head (``aux_params``), another depth or other decoder widths do not match and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

_HEAD_PREFIX = "segmentation_head.0."


def smp_unet_to_segstudio(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """smp ``Unet`` keys renamed to ours (``segmentation_head.0.*`` -> ``head.*``); the rest are the same."""
    renamed: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith(_HEAD_PREFIX):
            key = "head." + key[len(_HEAD_PREFIX) :]
        renamed[key] = value
    return renamed


def load_smp_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor]) -> None:
    """Load an smp ``Unet`` state dict into ``model`` (our UNet with the same encoder), strictly.

    ``ValueError`` names what differs (keys only one side has, tensors of another shape) when the two
    networks are not the same structure, e.g. another encoder, other decoder widths, our ``transposed``
    upsampling (which has weights smp's interpolation lacks), or a different class count.
    """
    from segstudio.models.architectures.unet import UNet

    if not isinstance(model, UNet):
        raise ValueError(f"smp Unet weights load into our unet only, not into {type(model).__name__}")
    if any(key.startswith("classification_head.") for key in state_dict):
        raise ValueError("the smp model has a classification head (aux_params); our unet has none")
    incoming = smp_unet_to_segstudio(state_dict)
    own = model.state_dict()
    missing = sorted(own.keys() - incoming.keys())
    unexpected = sorted(incoming.keys() - own.keys())
    wrong = [
        f"{key}: smp {tuple(incoming[key].shape)} vs ours {tuple(own[key].shape)}"
        for key in sorted(own.keys() & incoming.keys())
        if tuple(incoming[key].shape) != tuple(own[key].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"only in our {model.encoder.name} unet: {_sample(missing)}")
        if unexpected:
            parts.append(f"only in the smp state dict: {_sample(unexpected)}")
        if wrong:
            parts.append(f"different shapes: {_sample(wrong)}")
        raise ValueError(
            "the smp Unet does not have our unet's structure (same encoder, decoder_channels, classes and "
            "in_channels; nearest or bilinear upsampling) - " + "; ".join(parts)
        )
    model.load_state_dict(incoming, strict=True)


def _sample(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")
