"""Fitting a state dict to a model: completing a config, checking it is the same model, building it, and
loading strictly with a message that says what does not fit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from segstudio.models.checkpoints.layouts import Shapes, WeightsFamily, WeightsLayout, _shapes
from segstudio.models.checkpoints.problems import CheckpointProblem, ProblemKind
from segstudio.models.registry import ModelConfig, build_model, get_architecture

_ADAPTS_CHANNELS = ("mask_rcnn", "fcn_resnet50")  # models whose RGB weight files also serve other channel counts


def _complete(config: ModelConfig, preferred_encoder: str | None = None) -> ModelConfig:
    """``config`` with its encoder filled in: the file's (``preferred_encoder``) when the architecture has it,
    else the architecture's default. ``ValueError`` for an unknown architecture."""
    architecture = get_architecture(config.architecture)
    encoder = config.encoder
    if encoder is None and preferred_encoder in architecture.encoders:
        encoder = preferred_encoder
    if encoder is None and architecture.encoders:
        encoder = architecture.encoders[0]
    return replace(config, architecture=architecture.name, encoder=encoder)


def _check_registered(path: Path, source: ModelConfig, layout: WeightsLayout) -> None:
    try:
        get_architecture(source.architecture)
    except ValueError:
        raise CheckpointProblem(
            path,
            ProblemKind.UNKNOWN_ARCHITECTURE,
            f"holds {layout.description}, for architecture {source.architecture!r}, which this segstudio "
            "does not have",
        ) from None


def _check_same_model(path: Path, layout: WeightsLayout, source: ModelConfig, target: ModelConfig) -> None:
    source = _complete(source)
    if source.architecture != target.architecture:
        raise CheckpointProblem(
            path,
            ProblemKind.WRONG_ARCHITECTURE,
            f"holds {layout.description}, i.e. {source.architecture!r}, but {target.architecture!r} was asked",
        )
    if source.encoder != target.encoder:
        raise CheckpointProblem(
            path,
            ProblemKind.WRONG_ARCHITECTURE,
            f"holds {layout.description} with encoder {source.encoder!r}, but encoder {target.encoder!r} was asked",
        )
    # Mask R-CNN repeats grey to RGB inside, so its weights serve both; FCN-ResNet50's first conv is adapted.
    if source.in_channels != target.in_channels and target.architecture not in _ADAPTS_CHANNELS:
        raise CheckpointProblem(
            path,
            ProblemKind.INCOMPATIBLE,
            f"holds {layout.description} for {source.in_channels}-channel images; the model asked for takes "
            f"{target.in_channels}",
        )


def _aux_option(architecture: str) -> str | None:
    options = get_architecture(architecture).options
    return next((name for name in options if "aux" in name.lower()), None)


def _with_aux_like_file(target: ModelConfig, layout: WeightsLayout) -> ModelConfig:
    """``target`` with an auxiliary head exactly when the file has one, unless the caller said."""
    option = _aux_option(target.architecture)
    if option is None or option in target.options:
        return target
    if layout.family is WeightsFamily.TORCHVISION_SEGMENTATION:
        value: Any = layout.has_aux
    elif layout.config is not None and option in layout.config.options:
        value = layout.config.options[option]
    else:
        return target
    return replace(target, options={**target.options, option: value})


def _drop_aux_if_unused(model: nn.Module, state: dict[str, Tensor]) -> tuple[dict[str, Tensor], int]:
    own = model.state_dict()
    aux = [k for k in state if k.startswith("aux_classifier.") and k not in own]
    if not aux or any(k.startswith("aux_classifier.") for k in own):
        return state, 0
    return {k: v for k, v in state.items() if k not in aux}, len(aux)


def _build_on_meta(config: ModelConfig) -> nn.Module:
    with torch.device("meta"):
        return build_model(config)


def _build(path: Path, config: ModelConfig) -> nn.Module:
    try:
        return build_model(config)
    except ValueError as exc:
        raise CheckpointProblem(
            path, ProblemKind.INCOMPATIBLE, f"asks for a model this segstudio cannot build: {exc}"
        ) from exc


def _class_sized_keys(path: Path, target: ModelConfig, other_classes: int) -> set[str]:
    """The tensors whose shapes depend on the class count (the predictors/heads)."""
    mine = _shapes(_build_on_meta(target).state_dict())
    theirs = _shapes(_build_on_meta(replace(target, num_classes=other_classes)).state_dict())
    return {k for k in mine if mine[k] != theirs.get(k)}


def _infer_num_classes(path: Path, state: Mapping[str, Tensor], target: ModelConfig) -> int:
    """The class count of a plain state dict for ``target``'s architecture, from a class-sized tensor's shape."""
    base = max(target.num_classes, 2)
    one = _shapes(_build_on_meta(replace(target, num_classes=base)).state_dict())
    two = _shapes(_build_on_meta(replace(target, num_classes=base + 1)).state_dict())
    for key, shape in one.items():
        other = two.get(key)
        if other is None or other == shape or key not in state or len(shape) != len(other):
            continue
        dim = next(i for i, (a, b) in enumerate(zip(shape, other, strict=True)) if a != b)
        per_class = other[dim] - shape[dim]
        offset = shape[dim] - per_class * base
        found = tuple(state[key].shape)
        if len(found) == len(shape) and per_class > 0 and (found[dim] - offset) % per_class == 0:
            return (found[dim] - offset) // per_class
    raise CheckpointProblem(
        path,
        ProblemKind.WRONG_ARCHITECTURE,
        f"is not a set of weights for {_describe_config(target)}: "
        + (_describe_mismatch(one, _shapes(state)) or "its tensors do not match"),
    )


def _describe_mismatch(expected: Shapes, found: Shapes, allow_missing: set[str] | frozenset[str] = frozenset()) -> str:
    missing = [k for k in expected if k not in found and k not in allow_missing and not _is_bn_counter(k)]
    unexpected = [k for k in found if k not in expected and not _is_bn_counter(k)]
    wrong = [f"{k} {found[k]} (model: {expected[k]})" for k in expected if k in found and found[k] != expected[k]]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} tensors the model does not have (e.g. {', '.join(unexpected[:3])})")
    if wrong:
        parts.append(f"{len(wrong)} of other shapes (e.g. {'; '.join(wrong[:3])})")
    return "; ".join(parts)


def _is_bn_counter(key: str) -> bool:
    # BatchNorm's step counter: absent from files of frozen-batch-norm models, unused at inference.
    return key.endswith("num_batches_tracked")


def _load_strict(
    path: Path,
    model: nn.Module,
    state: Mapping[str, Tensor],
    *,
    what: str,
    allow_missing: set[str] | frozenset[str] = frozenset(),
) -> None:
    own = model.state_dict()
    mismatch = _describe_mismatch(_shapes(own), _shapes(state), allow_missing)
    if mismatch:
        architecture_differs = _looks_like_other_architecture(own, state)
        kind = ProblemKind.WRONG_ARCHITECTURE if architecture_differs else ProblemKind.INCOMPATIBLE
        raise CheckpointProblem(path, kind, f"does not fit {what}: {mismatch}")
    merged = dict(own)
    merged.update((k, v) for k, v in state.items() if k in own)
    try:
        model.load_state_dict(merged, strict=True)
    except RuntimeError as exc:
        raise CheckpointProblem(path, ProblemKind.INCOMPATIBLE, f"does not fit {what}: {exc}") from exc


def _looks_like_other_architecture(own: Mapping[str, Tensor], state: Mapping[str, Tensor]) -> bool:
    shared = len(set(own) & set(state))
    return shared < 0.5 * min(len(own), len(state))


def _describe_config(config: ModelConfig) -> str:
    encoder = f" ({config.encoder})" if config.encoder else ""
    return f"{config.architecture}{encoder} with {config.num_classes} classes"

