"""Loading foreign weight files: one adapter per :class:`WeightsFamily`, found through :data:`ADAPTERS`.

:func:`load_weights_file` sniffs and reads the file safely (:mod:`.files`), takes a segstudio checkpoint the
short way (:mod:`.format`), recognises any other state dict (:mod:`.layouts`), and hands it to the adapter
registered for its family: whole models (torchvision's Mask R-CNN and FCN, plain state dicts of a named
model, our own checkpoints with another class count), ImageNet encoder weights, and smp's Unet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN

from segstudio.core.labels import LabelSet
from segstudio.models.architectures import mask_rcnn
from segstudio.models.architectures.fcn import adapt_torchvision_fcn_state_dict
from segstudio.models.checkpoints.files import _Format, _read_safetensors, _read_torch, _safetensors_metadata, _sniff
from segstudio.models.checkpoints.fitting import (
    _build,
    _check_registered,
    _check_same_model,
    _class_sized_keys,
    _complete,
    _describe_config,
    _drop_aux_if_unused,
    _infer_num_classes,
    _load_strict,
    _with_aux_like_file,
)
from segstudio.models.checkpoints.format import (
    METADATA_KEY,
    CheckpointMeta,
    LoadedModel,
    _check_expectations,
    _device,
    _parse_meta,
    load_checkpoint,
)
from segstudio.models.checkpoints.layouts import WeightsFamily, WeightsLayout, identify_state_dict
from segstudio.models.checkpoints.problems import CheckpointProblem, ProblemKind
from segstudio.models.registry import ModelConfig, get_architecture
from segstudio.models.smp_compat import load_smp_state_dict

# torchvision's network name -> our encoder name, where they differ.
_ENCODER_FOR_NETWORK: Mapping[str, str] = {"mobilenet_v3_large": "mobilenet_v3"}

Loaded = tuple[nn.Module, CheckpointMeta, tuple[str, ...]]
"""What an adapter makes: the model (on the CPU), its metadata, and notes on what was done."""

Adapter = Callable[[Path, dict[str, Tensor], WeightsLayout, ModelConfig | None, LabelSet | None, bool], Loaded]
"""``adapter(path, state, layout, config, labels, replace_heads)``; raises :class:`CheckpointProblem`."""


def load_weights_file(
    path: str | Path,
    *,
    config: ModelConfig | None = None,
    labels: LabelSet | None = None,
    replace_heads: bool = False,
    device: str | torch.device = "cpu",
) -> LoadedModel:
    """A model with the weights of a local file: a segstudio checkpoint or a foreign weights file.

    ``config`` names the model wanted; without it, whole-model files build what they hold. Encoder-only
    (ImageNet) weights need ``config``. ``labels`` sets the class names and count (it must agree with
    ``config.num_classes`` when both are given). A file with another class count is refused unless
    ``replace_heads`` is true: then everything but the class-sized layers loads and those start afresh.

    Returns the model (on ``device``, in eval mode) with metadata for it (labels: the ones given, else VOC's
    for torchvision's FCN, COCO's for its Mask R-CNN, else numbered; normalisation: the architecture's
    default) and ``notes`` on what was done. Raises :class:`CheckpointProblem` (``kind`` says which problem).
    """
    path = Path(path)
    target_device = _device(device)
    if config is not None and labels is not None and config.num_classes != labels.num_classes:
        raise ValueError(f"config has {config.num_classes} classes but the label set has {labels.num_classes}")
    fmt = _sniff(path)
    if fmt is _Format.SAFETENSORS:
        document = _safetensors_metadata(path).get(METADATA_KEY)
        if document is not None:
            return _load_own_checkpoint(path, document, config, labels, replace_heads, target_device)
        state = _read_safetensors(path)
    else:
        state = _read_torch(path)
    layout = identify_state_dict(state)
    model, meta, notes = ADAPTERS[layout.family](path, state, layout, config, labels, replace_heads)
    return LoadedModel(model.to(target_device).eval(), meta, notes)



def _load_own_checkpoint(
    path: Path,
    document: str,
    config: ModelConfig | None,
    labels: LabelSet | None,
    replace_heads: bool,
    device: torch.device,
) -> LoadedModel:
    meta = _parse_meta(path, document)
    if config is not None:
        _check_expectations(path, meta.config, config.architecture, None)
        if config.encoder is not None and config.encoder != meta.config.encoder:
            raise CheckpointProblem(
                path,
                ProblemKind.WRONG_ARCHITECTURE,
                f"was saved with encoder {meta.config.encoder!r} but encoder {config.encoder!r} was asked",
            )
        if config.in_channels != meta.config.in_channels:
            raise CheckpointProblem(
                path,
                ProblemKind.INCOMPATIBLE,
                f"takes {meta.config.in_channels}-channel images; a {config.in_channels}-channel model was asked",
            )
    wanted = labels.num_classes if labels is not None else (config.num_classes if config else meta.config.num_classes)
    if wanted == meta.config.num_classes:
        loaded = load_checkpoint(path, device=device)
        if labels is not None and labels != loaded.meta.labels:
            return LoadedModel(loaded.model, replace(loaded.meta, labels=labels), ("label set replaced",))
        return loaded
    layout = WeightsLayout(
        WeightsFamily.SEGSTUDIO, f"a segstudio checkpoint of {_describe_config(meta.config)}", config=meta.config
    )
    state = _read_safetensors(path)
    model, new_meta, notes = ADAPTERS[layout.family](path, state, layout, config, labels, replace_heads)
    new_meta = replace(new_meta, normalisation=meta.normalisation, training={"fine_tuned_from": meta.to_mapping()})
    return LoadedModel(model.to(device).eval(), new_meta, notes)



def _load_whole_model(
    path: Path,
    state: dict[str, Tensor],
    layout: WeightsLayout,
    config: ModelConfig | None,
    labels: LabelSet | None,
    replace_heads: bool,
) -> Loaded:
    notes: list[str] = []
    source = _buildable_source(path, layout)
    if source is not None:
        target = _target_like_file(path, layout, source, config, labels)
    elif config is None:
        raise CheckpointProblem(
            path,
            ProblemKind.UNRECOGNISED,
            f"holds {layout.description} (first tensors: {', '.join(list(state)[:3]) or 'none'}); "
            "name the model it is for to load it",
        )
    else:  # a plain state dict of a registered model: read its class count from the shapes
        target = _complete(config)
        source = replace(target, num_classes=_infer_num_classes(path, state, target))
    target = _with_aux_like_file(target, layout)
    heads: set[str] = set()
    if _heads_differ(path, source, target, labels, replace_heads):
        heads = _class_sized_keys(path, target, source.num_classes)
        state = {k: v for k, v in state.items() if k not in heads}
        notes.append(
            f"class-sized layers ({len(heads)} tensors) start afresh for {target.num_classes} classes "
            f"(the file has {source.num_classes})"
        )
    if source.in_channels != target.in_channels and target.architecture == "fcn_resnet50":
        state = adapt_torchvision_fcn_state_dict(state, target.in_channels)
        notes.append(f"first convolution adapted from {source.in_channels} to {target.in_channels} channels")
    model = _build(path, target)
    state, dropped = _drop_aux_if_unused(model, state)
    if dropped:
        notes.append(f"the file's auxiliary head ({dropped} tensors) is not used by this model and was left out")
    _load_strict(path, model, state, what=_describe_config(target), allow_missing=heads)
    return model, _foreign_meta(path, layout, target, labels, bool(heads)), tuple(notes)


def _load_encoder_weights(
    path: Path,
    state: dict[str, Tensor],
    layout: WeightsLayout,
    config: ModelConfig | None,
    labels: LabelSet | None,
    replace_heads: bool,  # unused: encoder weights have no heads (every adapter takes the same arguments)
) -> Loaded:
    network = layout.network or "?"
    if config is None:
        raise CheckpointProblem(
            path,
            ProblemKind.ENCODER_ONLY,
            f"holds {layout.description}: an encoder only, not a segmentation model; "
            "choose the model (architecture and encoder) to start from these weights",
        )
    target = _complete(config, preferred_encoder=_ENCODER_FOR_NETWORK.get(network, network))
    model = _build(path, target)
    if isinstance(model, MaskRCNN):
        expected = mask_rcnn.TORCHVISION_BACKBONES[mask_rcnn.backbone_encoder(model)]
        loader = lambda weights: mask_rcnn.load_torchvision_backbone_state_dict(model, weights)  # noqa: E731
    else:
        encoder = _find_torchvision_encoder(model)
        if encoder is None:
            raise CheckpointProblem(
                path,
                ProblemKind.WRONG_ARCHITECTURE,
                f"holds {layout.description}, but {_describe_config(target)} has no encoder that takes "
                "torchvision ImageNet weights",
            )
        expected = str(getattr(encoder, "torchvision_name", "") or network)
        loader = encoder.load_torchvision_state_dict
    if expected != network:
        raise CheckpointProblem(
            path,
            ProblemKind.WRONG_ARCHITECTURE,
            f"holds ImageNet weights for {network!r}, but the {target.architecture} asked for has encoder "
            f"{target.encoder!r}, which takes {expected!r} weights",
        )
    try:
        loader(state)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointProblem(
            path, ProblemKind.INCOMPATIBLE, f"holds {layout.description}, which do not fit the encoder: {exc}"
        ) from exc
    meta = _foreign_meta(path, layout, target, labels, heads_replaced=False)
    return model, meta, (f"encoder initialised from {network} ImageNet weights; the rest is random",)


def _load_smp(
    path: Path,
    state: dict[str, Tensor],
    layout: WeightsLayout,
    config: ModelConfig | None,
    labels: LabelSet | None,
    replace_heads: bool,
) -> Loaded:
    source = _buildable_source(path, layout)
    assert source is not None  # an smp layout is never UNKNOWN, so _buildable_source refused one without a model
    encoders = get_architecture(source.architecture).encoders
    if source.encoder not in encoders:
        raise CheckpointProblem(
            path,
            ProblemKind.UNRECOGNISED,
            f"holds {layout.description}; segstudio's {source.architecture} has no {source.encoder} encoder "
            f"(it has {', '.join(encoders)})",
        )
    notes: list[str] = []
    target = _target_like_file(path, layout, source, config, labels)
    heads_replaced = _heads_differ(path, source, target, labels, replace_heads)
    if heads_replaced:
        state = _fresh_smp_head(state, target.num_classes)
        notes.append(
            f"segmentation head starts afresh for {target.num_classes} classes (the file has {source.num_classes})"
        )
    model = _build(path, target)
    try:
        load_smp_state_dict(model, state)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointProblem(
            path,
            ProblemKind.INCOMPATIBLE,
            f"holds {layout.description}, which does not fit {_describe_config(target)}: {exc}",
        ) from exc
    return model, _foreign_meta(path, layout, target, labels, heads_replaced), tuple(notes)


ADAPTERS: Mapping[WeightsFamily, Adapter] = MappingProxyType(
    {
        WeightsFamily.SEGSTUDIO: _load_whole_model,  # our checkpoint loaded for another class count
        WeightsFamily.TORCHVISION_DETECTION: _load_whole_model,
        WeightsFamily.TORCHVISION_SEGMENTATION: _load_whole_model,
        WeightsFamily.TORCHVISION_CLASSIFICATION: _load_encoder_weights,
        WeightsFamily.SMP: _load_smp,
        WeightsFamily.UNKNOWN: _load_whole_model,  # a plain state dict of the model the caller names
    }
)
"""The adapter for each family of weights file; every family has one."""


# -- what the adapters share ------------------------------------------------------------------------------


def _buildable_source(path: Path, layout: WeightsLayout) -> ModelConfig | None:
    """The model a recognised file holds, registered here; ``None`` for an unrecognised plain state dict
    (family UNKNOWN: the caller must name the model). A recognised file segstudio cannot build is refused."""
    source = layout.config
    if source is None and layout.family is not WeightsFamily.UNKNOWN:
        raise CheckpointProblem(
            path, ProblemKind.UNRECOGNISED, f"holds {layout.description}, which segstudio cannot build"
        )
    if source is not None:
        _check_registered(path, source, layout)
    return source


def _target_like_file(
    path: Path, layout: WeightsLayout, source: ModelConfig, config: ModelConfig | None, labels: LabelSet | None
) -> ModelConfig:
    """The model to build for a file holding ``source``: that one (with the label set's class count) when no
    ``config`` is asked, else ``config`` completed, which must be the same model."""
    if config is None:
        return source if labels is None else replace(source, num_classes=labels.num_classes)
    target = _complete(config, preferred_encoder=source.encoder)
    _check_same_model(path, layout, source, target)
    return target


def _heads_differ(
    path: Path, source: ModelConfig, target: ModelConfig, labels: LabelSet | None, replace_heads: bool
) -> bool:
    """Whether the class-sized layers start afresh: the class counts differ and ``replace_heads`` allows it
    (:data:`ProblemKind.CLASS_MISMATCH` when it does not)."""
    if target.num_classes == source.num_classes:
        return False
    if not replace_heads:
        raise _class_mismatch(path, source.num_classes, target.num_classes, labels)
    return True


def _foreign_meta(
    path: Path, layout: WeightsLayout, target: ModelConfig, labels: LabelSet | None, heads_replaced: bool
) -> CheckpointMeta:
    """Metadata for a model made from a foreign file: the label set given, else :func:`_default_labels`."""
    return CheckpointMeta(
        target,
        labels if labels is not None else _default_labels(layout, target),
        training={"source": _source_summary(path, layout, heads_replaced)},
    )




def _class_mismatch(path: Path, found: int, wanted: int, labels: LabelSet | None) -> CheckpointProblem:
    asked = "the label set has" if labels is not None else "the model asked for has"
    return CheckpointProblem(
        path,
        ProblemKind.CLASS_MISMATCH,
        f"has {found} classes; {asked} {wanted} (to fine-tune, load it with new heads: replace_heads=True)",
    )


def _fresh_smp_head(state: dict[str, Tensor], num_classes: int) -> dict[str, Tensor]:
    """smp's ``segmentation_head.0`` conv re-made for ``num_classes`` outputs, freshly initialised."""
    weight = state["segmentation_head.0.weight"]
    conv = nn.Conv2d(weight.shape[1], num_classes, kernel_size=tuple(weight.shape[2:]))
    result = {k: v for k, v in state.items() if not k.startswith("segmentation_head.")}
    result["segmentation_head.0.weight"] = conv.weight.detach().to(weight.dtype)
    if "segmentation_head.0.bias" in state:
        result["segmentation_head.0.bias"] = conv.bias.detach().to(weight.dtype)  # type: ignore[union-attr]
    return result


def _find_torchvision_encoder(model: nn.Module) -> Any:
    for module in model.modules():
        if callable(getattr(module, "load_torchvision_state_dict", None)):
            return module
    return None


def _default_labels(layout: WeightsLayout, config: ModelConfig) -> LabelSet:
    if layout.network == "fcn_resnet50" and config.num_classes == 21:
        return LabelSet.voc()
    if layout.network == "maskrcnn_resnet50_fpn" and config.num_classes == 91:
        from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

        names = list(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])
        # COCO's ids skip numbers: torchvision names the gaps "N/A", and class names must be unique here.
        names = [
            "background" if n == "__background__" else (f"unused {i}" if n == "N/A" else n)
            for i, n in enumerate(names)
        ]
        return LabelSet.from_names(names)
    return LabelSet.with_count(config.num_classes)


def _source_summary(path: Path, layout: WeightsLayout, heads_replaced: bool) -> dict[str, Any]:
    return {
        "file": path.name,
        "kind": str(layout.family),
        "network": layout.network,
        "description": layout.description,
        "heads_replaced": heads_replaced,
    }

