"""Our one checkpoint format: :class:`CheckpointMeta`, :func:`save_checkpoint`, :func:`read_checkpoint_meta`
and :func:`load_checkpoint` (the format itself is described in :mod:`segstudio.models.checkpoints`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import safetensors.torch
import torch
from torch import Tensor, nn

import segstudio
from segstudio.core.labels import LabelSet
from segstudio.core.atomic import write_bytes_atomic
from segstudio.models.checkpoints.files import (
    _check_finite,
    _Format,
    _read_safetensors,
    _safetensors_metadata,
    _sniff,
)
from segstudio.models.checkpoints.fitting import (
    _build,
    _build_on_meta,
    _describe_config,
    _describe_mismatch,
    _load_strict,
)
from segstudio.models.checkpoints.layouts import _shapes
from segstudio.models.checkpoints.problems import CheckpointProblem, ProblemKind
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.registry import ModelConfig, Task, get_architecture

FORMAT_NAME = "segstudio-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "segstudio"
SUFFIX = ".safetensors"


# -- metadata ---------------------------------------------------------------------------------------------


def default_normalisation(config: ModelConfig) -> InputNormalisation:
    """What a model of ``config`` expects when nothing else is known.

    Instance models (Mask R-CNN) normalise inside: only the scale to ``[0, 1]``. Semantic models: ImageNet
    statistics (their encoders' pretrained weights); for one channel their average, matching the encoders'
    summed RGB kernels; for other channel counts only the scale.
    """
    if get_architecture(config.architecture).task == Task.INSTANCE:
        return InputNormalisation.unit(config.in_channels)
    if config.in_channels == 3:
        return InputNormalisation.imagenet()
    if config.in_channels == 1:
        return InputNormalisation(1, (0.449,), (0.226,))
    return InputNormalisation.unit(config.in_channels)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _created_by() -> str:
    return f"segstudio {segstudio.__version__}"


def _frozen_json(value: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        copy = json.loads(json.dumps(dict(value)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must hold only JSON values (str, numbers, bools, None, lists, dicts): {exc}") from exc
    return MappingProxyType(copy)


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything a checkpoint says besides its weights.

    ``normalisation`` defaults to :func:`default_normalisation` and ``task`` to the architecture's (both are
    stored, so a checkpoint keeps them even if the defaults change). ``training``/``metrics``: free-form JSON
    (stored as given; tuples come back as lists, and non-finite floats are written as ``NaN``/``Infinity``).
    """

    config: ModelConfig
    labels: LabelSet
    normalisation: InputNormalisation | None = None
    task: Task | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    created_by: str = field(default_factory=_created_by)
    created_at: str = field(default_factory=_now)  # ISO 8601, UTC
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(self.config).__name__}")
        if not isinstance(self.labels, LabelSet):
            raise ValueError(f"labels must be a LabelSet, got {type(self.labels).__name__}")
        if self.labels.num_classes != self.config.num_classes:
            raise ValueError(
                f"the label set has {self.labels.num_classes} classes but the model has {self.config.num_classes}"
            )
        task = get_architecture(self.config.architecture).task if self.task is None else Task(self.task)
        object.__setattr__(self, "task", task)
        normalisation = self.normalisation if self.normalisation is not None else default_normalisation(self.config)
        if not isinstance(normalisation, InputNormalisation):
            raise ValueError(f"normalisation must be an InputNormalisation, got {type(normalisation).__name__}")
        if normalisation.channels != self.config.in_channels:
            raise ValueError(
                f"the input normalisation is for {normalisation.channels} channels but the model takes "
                f"{self.config.in_channels}"
            )
        object.__setattr__(self, "normalisation", normalisation)
        object.__setattr__(self, "training", _frozen_json(self.training, "training"))
        object.__setattr__(self, "metrics", _frozen_json(self.metrics, "metrics"))

    @property
    def normalization(self) -> InputNormalisation:
        """Alias of :attr:`normalisation`."""
        return self.normalisation  # type: ignore[return-value]

    def to_mapping(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "format_version": self.format_version,
            "model": self.config.to_mapping(),
            "task": str(self.task),
            "labels": self.labels.to_mapping(),
            "normalisation": self.normalisation.to_mapping(),  # type: ignore[union-attr]
            "training": dict(self.training),
            "metrics": dict(self.metrics),
            "created_by": self.created_by,
            "created_at": self.created_at,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CheckpointMeta:
        """``ValueError`` naming what is wrong (the architecture need not be registered)."""
        try:
            return cls(
                config=ModelConfig.from_mapping(data["model"]),
                labels=LabelSet.from_mapping(data["labels"]),
                normalisation=InputNormalisation.from_mapping(data["normalisation"]),
                task=Task(data["task"]),
                training=data.get("training", {}),
                metrics=data.get("metrics", {}),
                created_by=str(data.get("created_by", "")),
                created_at=str(data.get("created_at", "")),
                format_version=int(data.get("format_version", FORMAT_VERSION)),
            )
        except KeyError as exc:
            raise ValueError(f"the metadata has no {exc.args[0]!r} entry") from None
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"the metadata is malformed: {exc}") from exc


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model with its weights loaded (on the asked device, in eval mode) and what is known about it.

    ``notes`` says in words what was done on the way (heads replaced, an auxiliary head dropped...).
    """

    model: nn.Module
    meta: CheckpointMeta
    notes: tuple[str, ...] = ()


# -- saving -----------------------------------------------------------------------------------------------


def save_checkpoint(path: str | Path, model: nn.Module, meta: CheckpointMeta) -> None:
    """Write ``model``'s weights and ``meta`` as a segstudio checkpoint, atomically.

    ``ValueError`` when ``model`` is not a model of ``meta.config`` (its tensors would not load back), and
    :class:`CheckpointProblem` (NON_FINITE) when a weight is NaN or infinite; nothing is written then.
    """
    path = Path(path)
    architecture = get_architecture(meta.config.architecture)
    if architecture.task != meta.task:
        raise ValueError(f"meta.task is {meta.task!r} but {architecture.name} is a {architecture.task} model")
    state = model.state_dict()
    reference = _shapes(_build_on_meta(meta.config).state_dict())
    mismatch = _describe_mismatch(reference, _shapes(state))
    if mismatch:
        raise ValueError(f"the model is not a {_describe_config(meta.config)} model as meta.config says: {mismatch}")
    tensors: dict[str, Tensor] = {}
    seen: set[tuple[int, int]] = set()
    for key, value in state.items():
        tensor = value.detach().to("cpu").contiguous()
        storage = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
        if tensor.numel() and storage in seen:  # safetensors refuses tensors that share memory
            tensor = tensor.clone()
        seen.add((tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes()))
        tensors[key] = tensor
    # A checkpoint that could never be loaded back must not be written (nor replace a good one).
    _check_finite(path, tensors, action="it was not saved")
    document = json.dumps(meta.to_mapping(), ensure_ascii=False)
    data = safetensors.torch.save(tensors, metadata={METADATA_KEY: document})
    write_bytes_atomic(path, data)


# -- loading our checkpoints ------------------------------------------------------------------------------


def read_checkpoint_meta(path: str | Path) -> CheckpointMeta:
    """Only the metadata of a segstudio checkpoint (cheap: the tensors are not read)."""
    path = Path(path)
    fmt = _sniff(path)
    if fmt is not _Format.SAFETENSORS:
        raise CheckpointProblem(
            path,
            ProblemKind.NOT_A_CHECKPOINT,
            "is a PyTorch weights file, not a segstudio checkpoint (.safetensors with segstudio metadata); "
            "import it as foreign weights instead",
        )
    document = _safetensors_metadata(path).get(METADATA_KEY)
    if document is None:
        raise CheckpointProblem(
            path,
            ProblemKind.NOT_A_CHECKPOINT,
            "is a plain safetensors weights file without segstudio metadata; import it as foreign weights instead",
        )
    return _parse_meta(path, document)


def load_checkpoint(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    architecture: str | None = None,
    labels: LabelSet | None = None,
) -> LoadedModel:
    """Build the model a segstudio checkpoint describes and load its weights strictly.

    ``architecture``: refuse a checkpoint saved for another architecture. ``labels``: refuse one whose class
    count differs from the label set's. The model comes back on ``device``, in eval mode.
    """
    path = Path(path)
    target_device = _device(device)
    meta = read_checkpoint_meta(path)
    _check_expectations(path, meta.config, architecture, labels)
    state = _read_safetensors(path)
    model = _build(path, meta.config)
    _load_strict(path, model, state, what=_describe_config(meta.config))
    return LoadedModel(model.to(target_device).eval(), meta)


def _parse_meta(path: Path, document: str) -> CheckpointMeta:
    try:
        data = json.loads(document)
    except ValueError as exc:
        raise CheckpointProblem(
            path, ProblemKind.BAD_METADATA, f"its segstudio metadata is not valid JSON: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointProblem(path, ProblemKind.BAD_METADATA, "its segstudio metadata is not a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise CheckpointProblem(
            path, ProblemKind.BAD_METADATA, f"its metadata is for format {data.get('format')!r}, not {FORMAT_NAME!r}"
        )
    version = data.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointProblem(path, ProblemKind.BAD_METADATA, f"its format version {version!r} is not valid")
    if version > FORMAT_VERSION:
        raise CheckpointProblem(
            path,
            ProblemKind.NEWER_FORMAT,
            f"was written in checkpoint format version {version} by {data.get('created_by') or 'a newer segstudio'}; "
            f"this segstudio ({segstudio.__version__}) reads up to version {FORMAT_VERSION}: update segstudio",
        )
    try:
        meta = CheckpointMeta.from_mapping(data)
    except ValueError as exc:
        raise CheckpointProblem(path, ProblemKind.BAD_METADATA, f"its segstudio metadata is invalid: {exc}") from exc
    try:
        known = get_architecture(meta.config.architecture)
    except ValueError as exc:
        raise CheckpointProblem(
            path,
            ProblemKind.UNKNOWN_ARCHITECTURE,
            f"was saved for architecture {meta.config.architecture!r}, which this segstudio does not know ({exc})",
        ) from None
    if known.task != meta.task:
        raise CheckpointProblem(
            path, ProblemKind.BAD_METADATA, f"says task {meta.task!r} but {known.name} is a {known.task} model"
        )
    return meta


def _check_expectations(path: Path, config: ModelConfig, architecture: str | None, labels: LabelSet | None) -> None:
    if architecture is not None and config.architecture.lower() != architecture.lower():
        raise CheckpointProblem(
            path,
            ProblemKind.WRONG_ARCHITECTURE,
            f"was saved for {config.architecture!r} but {architecture!r} was asked",
        )
    if labels is not None and labels.num_classes != config.num_classes:
        raise CheckpointProblem(
            path,
            ProblemKind.CLASS_MISMATCH,
            f"has {config.num_classes} classes; the label set has {labels.num_classes}",
        )



def _device(device: str | torch.device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"not a device: {device!r} ({exc})") from None
