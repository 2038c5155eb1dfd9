"""Our one checkpoint format, and safe loading of weight files from elsewhere.

**The segstudio checkpoint** is a ``.safetensors`` file: the model's state dict as tensors, plus one JSON
document in the safetensors string metadata under the key ``"segstudio"``::

    {"format": "segstudio-checkpoint", "format_version": 1,
     "model": {"architecture": "unet", "encoder": "resnet50", "num_classes": 12, "in_channels": 3, "options": {}},
     "task": "semantic",
     "labels": {"classes": [{"id": 0, "name": "Sky", "colour": "#808080"}, ...], "ignore_index": 11, ...},
     "normalisation": {"channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": null},
     "training": {...free-form: data set, epochs...}, "metrics": {...free-form: mIoU...},
     "created_by": "segstudio 0.1.0", "created_at": "2025-01-31T12:00:00+00:00"}

``labels`` is :meth:`LabelSet.to_mapping`; ``normalisation`` is
:meth:`~segstudio.models.normalisation.InputNormalisation.to_mapping`: ``x = (pixel * scale - mean) / std`` per
channel, ``scale`` ``null`` meaning "by the image's dtype" (1/255 for 8-bit, 1/65535 for 16-bit). Mask R-CNN
normalises inside the model, so its checkpoints store mean 0 and std 1.
A reader refuses a file whose ``format_version`` is newer than :data:`FORMAT_VERSION`.

**Foreign weight files** (:func:`load_weights_file`), from a local path only:

- torchvision's official files, recognised by their tensor names and shapes (not by the file name):
  Mask R-CNN ResNet-50 FPN (``maskrcnn_resnet50_fpn_coco-*.pth``, 91 COCO classes) -> ``mask_rcnn``;
  FCN ResNet-50 (``fcn_resnet50_coco-*.pth``, 21 VOC classes with the auxiliary head) -> ``fcn_resnet50``;
  ImageNet classification weights (``resnet50-*.pth``, ``vgg16-*.pth``, ``mobilenet_v2-*.pth``...) -> the
  encoder of a model you name (its ``load_torchvision_state_dict``), the rest of the model stays random;
- segmentation_models_pytorch ``Unet`` state dicts (``.pth``/``.pt``/``.bin``/``.safetensors``) -> ``unet``;
- a plain state dict of any registered architecture, when you name the model.

With ``replace_heads=True`` a whole-model file may have another class count than the one asked for: the
backbone/decoder weights load and the class-sized layers (the predictors) start afresh (fine-tuning).

**Safety**: nothing in a file is ever executed. PyTorch files are read with ``torch.load(...,
weights_only=True)`` (tensors and plain containers only; a pickle that asks for any other Python object is
refused before it runs), safetensors files with safetensors. Every failure is a :class:`CheckpointProblem`
(a :class:`FileProblem`, so a ``ValueError``) naming the file, with a :class:`ProblemKind` saying which
problem it is; nothing partially loaded is ever returned. Weights with NaN or infinite values (a diverged
training) are refused too (``ProblemKind.NON_FINITE``): such a model predicts all background as if it worked.
"""

from __future__ import annotations

import json
import pickle
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum, StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN

import segstudio
from segstudio.core.labels import LabelSet
from segstudio.io.atomic import write_bytes_atomic
from segstudio.io.errors import FileProblem
from segstudio.models.architectures import mask_rcnn
from segstudio.models.architectures.fcn import adapt_torchvision_fcn_state_dict
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.registry import ModelConfig, Task, build_model, get_architecture
from segstudio.models.smp_compat import load_smp_state_dict

FORMAT_NAME = "segstudio-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "segstudio"
SUFFIX = ".safetensors"

_SAFETENSORS_HEADER_LIMIT = 100_000_000  # safetensors' own limit on its JSON header
_ADAPTS_CHANNELS = ("mask_rcnn", "fcn_resnet50")  # models whose RGB weight files also serve other channel counts
# torchvision's network name -> our encoder name, where they differ.
_ENCODER_FOR_NETWORK: Mapping[str, str] = {"mobilenet_v3_large": "mobilenet_v3"}
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")  # training scripts' dicts


class ProblemKind(StrEnum):
    MISSING = "missing"  # no such file, a folder, unreadable
    EMPTY = "empty"
    TRUNCATED = "truncated or corrupt"
    NOT_WEIGHTS = "not a weights file"  # random bytes, another kind of file, a pickle of no tensors
    UNSAFE = "not plain weights"  # a pickle that would import or run code: refused unread
    NOT_A_CHECKPOINT = "no segstudio metadata"
    BAD_METADATA = "bad metadata"
    NEWER_FORMAT = "newer format"
    UNKNOWN_ARCHITECTURE = "unknown architecture"
    WRONG_ARCHITECTURE = "wrong architecture"
    CLASS_MISMATCH = "class count mismatch"
    ENCODER_ONLY = "encoder weights only"  # ImageNet weights: say which model they go into
    UNRECOGNISED = "unrecognised network"
    INCOMPATIBLE = "incompatible weights"  # names/shapes do not fit the model
    NON_FINITE = "non-finite weights"  # NaN or infinite values: the model would predict nothing meaningful


class CheckpointProblem(FileProblem):
    """A weights file that cannot be loaded as asked; ``kind`` says which problem, ``str()`` says it in words."""

    def __init__(self, path: str | Path, kind: ProblemKind, problem: str) -> None:
        super().__init__(path, problem)
        self.kind = kind


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


# -- foreign weight files ---------------------------------------------------------------------------------


class WeightsFamily(StrEnum):
    SEGSTUDIO = "segstudio checkpoint"
    TORCHVISION_DETECTION = "torchvision detection"
    TORCHVISION_SEGMENTATION = "torchvision segmentation"
    TORCHVISION_CLASSIFICATION = "torchvision classification"
    SMP = "segmentation_models_pytorch"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class WeightsLayout:
    """What a state dict is for, read from its tensor names and shapes.

    ``config`` is set when the file is a whole model segstudio can build (``architecture`` registered or not);
    ``network`` is torchvision's (or smp's) name for it, e.g. ``"maskrcnn_resnet50_fpn"``, ``"resnet50"``.
    """

    family: WeightsFamily
    description: str
    network: str | None = None
    config: ModelConfig | None = None
    has_aux: bool = False


def identify_state_dict(state: Mapping[str, Tensor]) -> WeightsLayout:
    """Recognise torchvision's detection, segmentation and classification networks and smp's Unet."""
    shapes = _shapes(state)
    if "roi_heads.box_predictor.cls_score.weight" in shapes:
        return _identify_detection(shapes)
    if "classifier.4.weight" in shapes and "backbone.layer4.0.conv1.weight" in shapes:
        return _identify_fcn(shapes)
    if "classifier.0.convs.0.0.weight" in shapes or "classifier.cbr.0.weight" in shapes:
        network = "deeplabv3" if "classifier.0.convs.0.0.weight" in shapes else "lraspp"
        return WeightsLayout(WeightsFamily.TORCHVISION_SEGMENTATION, f"torchvision {network} (not supported)", network)
    if "segmentation_head.0.weight" in shapes and any(k.startswith("encoder.") for k in shapes):
        return _identify_smp(shapes)
    network = _identify_classifier(shapes)
    if network is not None:
        return WeightsLayout(
            WeightsFamily.TORCHVISION_CLASSIFICATION, f"torchvision {network} ImageNet classification weights", network
        )
    return WeightsLayout(WeightsFamily.UNKNOWN, "weights of a network segstudio does not recognise")


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
    if layout.family is WeightsFamily.TORCHVISION_CLASSIFICATION:
        model, meta, notes = _load_encoder_weights(path, state, layout, config, labels)
    elif layout.family is WeightsFamily.SMP:
        model, meta, notes = _load_smp(path, state, layout, config, labels, replace_heads)
    else:
        model, meta, notes = _load_whole_model(path, state, layout, config, labels, replace_heads)
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
    model, new_meta, notes = _load_whole_model(path, state, layout, config, labels, replace_heads)
    new_meta = replace(new_meta, normalisation=meta.normalisation, training={"fine_tuned_from": meta.to_mapping()})
    return LoadedModel(model.to(device).eval(), new_meta, notes)


def _load_whole_model(
    path: Path,
    state: dict[str, Tensor],
    layout: WeightsLayout,
    config: ModelConfig | None,
    labels: LabelSet | None,
    replace_heads: bool,
) -> tuple[nn.Module, CheckpointMeta, tuple[str, ...]]:
    notes: list[str] = []
    source = layout.config
    if source is None and layout.family is not WeightsFamily.UNKNOWN:
        raise CheckpointProblem(
            path, ProblemKind.UNRECOGNISED, f"holds {layout.description}, which segstudio cannot build"
        )
    if source is not None:
        _check_registered(path, source, layout)
    if config is None:
        if source is None:
            raise CheckpointProblem(
                path,
                ProblemKind.UNRECOGNISED,
                f"holds {layout.description} (first tensors: {', '.join(list(state)[:3]) or 'none'}); "
                "name the model it is for to load it",
            )
        target = source if labels is None else replace(source, num_classes=labels.num_classes)
    else:
        target = _complete(config, preferred_encoder=source.encoder if source else None)
        if source is None:  # a plain state dict of a registered model: read its class count from the shapes
            source = replace(target, num_classes=_infer_num_classes(path, state, target))
        else:
            _check_same_model(path, layout, source, target)
    target = _with_aux_like_file(target, layout)
    if target.num_classes != source.num_classes:
        if not replace_heads:
            raise _class_mismatch(path, source.num_classes, target.num_classes, labels)
        heads = _class_sized_keys(path, target, source.num_classes)
        state = {k: v for k, v in state.items() if k not in heads}
        notes.append(
            f"class-sized layers ({len(heads)} tensors) start afresh for {target.num_classes} classes "
            f"(the file has {source.num_classes})"
        )
    else:
        heads = set()
    if source.in_channels != target.in_channels and target.architecture == "fcn_resnet50":
        state = adapt_torchvision_fcn_state_dict(state, target.in_channels)
        notes.append(f"first convolution adapted from {source.in_channels} to {target.in_channels} channels")
    model = _build(path, target)
    state, dropped = _drop_aux_if_unused(model, state)
    if dropped:
        notes.append(f"the file's auxiliary head ({dropped} tensors) is not used by this model and was left out")
    _load_strict(path, model, state, what=_describe_config(target), allow_missing=heads)
    meta = CheckpointMeta(
        target,
        labels if labels is not None else _default_labels(layout, target),
        training={"source": _source_summary(path, layout, bool(heads))},
    )
    return model, meta, tuple(notes)


def _load_encoder_weights(
    path: Path, state: dict[str, Tensor], layout: WeightsLayout, config: ModelConfig | None, labels: LabelSet | None
) -> tuple[nn.Module, CheckpointMeta, tuple[str, ...]]:
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
    meta = CheckpointMeta(
        target,
        labels if labels is not None else LabelSet.with_count(target.num_classes),
        training={"source": _source_summary(path, layout, heads_replaced=False)},
    )
    return model, meta, (f"encoder initialised from {network} ImageNet weights; the rest is random",)


def _load_smp(
    path: Path,
    state: dict[str, Tensor],
    layout: WeightsLayout,
    config: ModelConfig | None,
    labels: LabelSet | None,
    replace_heads: bool,
) -> tuple[nn.Module, CheckpointMeta, tuple[str, ...]]:
    source = layout.config
    if source is None:
        raise CheckpointProblem(
            path, ProblemKind.UNRECOGNISED, f"holds {layout.description}, which segstudio cannot build"
        )
    _check_registered(path, source, layout)
    encoders = get_architecture(source.architecture).encoders
    if source.encoder not in encoders:
        raise CheckpointProblem(
            path,
            ProblemKind.UNRECOGNISED,
            f"holds {layout.description}; segstudio's {source.architecture} has no {source.encoder} encoder "
            f"(it has {', '.join(encoders)})",
        )
    notes: list[str] = []
    if config is None:
        target = source if labels is None else replace(source, num_classes=labels.num_classes)
    else:
        target = _complete(config, preferred_encoder=source.encoder)
        _check_same_model(path, layout, source, target)
    if target.num_classes != source.num_classes:
        if not replace_heads:
            raise _class_mismatch(path, source.num_classes, target.num_classes, labels)
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
    meta = CheckpointMeta(
        target,
        labels if labels is not None else LabelSet.with_count(target.num_classes),
        training={"source": _source_summary(path, layout, target.num_classes != source.num_classes)},
    )
    return model, meta, tuple(notes)


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


# -- recognising state dicts ------------------------------------------------------------------------------


Shapes = dict[str, tuple[int, ...]]


def _shapes(state: Mapping[str, Tensor]) -> Shapes:
    return {key: tuple(value.shape) for key, value in state.items()}


def _resnet_name(shapes: Shapes, prefix: str = "") -> str | None:
    if f"{prefix}conv1.weight" not in shapes or f"{prefix}layer1.0.conv1.weight" not in shapes:
        return None
    blocks = []
    for layer in range(1, 5):
        pattern = re.compile(rf"^{re.escape(prefix)}layer{layer}\.(\d+)\.")
        indices = {int(m.group(1)) for key in shapes if (m := pattern.match(key))}
        blocks.append(len(indices))
    bottleneck = f"{prefix}layer1.0.conv3.weight" in shapes
    names = {
        (False, (2, 2, 2, 2)): "resnet18",
        (False, (3, 4, 6, 3)): "resnet34",
        (True, (3, 4, 6, 3)): "resnet50",
        (True, (3, 4, 23, 3)): "resnet101",
        (True, (3, 8, 36, 3)): "resnet152",
    }
    name = names.get((bottleneck, tuple(blocks)))  # type: ignore[call-overload]
    if name is None:
        return "resnet (another depth)"
    if bottleneck and shapes.get(f"{prefix}layer1.0.conv2.weight") != (64, 64, 3, 3):
        return "resnext or wide resnet"
    return name


def _identify_classifier(shapes: Shapes) -> str | None:
    resnet = _resnet_name(shapes)
    if resnet is not None:
        return resnet
    first = shapes.get("features.0.weight")
    if first is not None and len(first) == 4:
        convs = [k for k, s in shapes.items() if re.fullmatch(r"features\.\d+\.weight", k) and len(s) == 4]
        depth = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}.get(len(convs))
        if depth is None:
            return None
        batch_norm = any(re.fullmatch(r"features\.\d+\.running_mean", k) for k in shapes)
        return depth + ("_bn" if batch_norm else "")
    stem = shapes.get("features.0.0.weight")
    if stem is None or len(stem) != 4:
        return None
    if "features.1.conv.0.0.weight" in shapes and stem[0] == 32 and "features.18.0.weight" in shapes:
        return "mobilenet_v2"
    if stem[0] == 16 and shapes.get("features.16.0.weight", (0,))[0:2] == (960, 160):
        return "mobilenet_v3_large"
    if stem[0] == 16 and shapes.get("features.12.0.weight", (0,))[0:2] == (576, 96):
        return "mobilenet_v3_small"
    return None


def _first_conv_channels(shapes: Shapes, candidates: tuple[str, ...]) -> int:
    for key in candidates:
        if key in shapes and len(shapes[key]) == 4:
            return shapes[key][1]
    return 3


def _identify_detection(shapes: Shapes) -> WeightsLayout:
    classes = shapes["roi_heads.box_predictor.cls_score.weight"][0]
    if "roi_heads.mask_predictor.mask_fcn_logits.weight" not in shapes:
        return WeightsLayout(
            WeightsFamily.TORCHVISION_DETECTION,
            f"a torchvision box detector without a mask head (Faster R-CNN?, {classes} classes)",
            "fasterrcnn",
        )
    if "roi_heads.box_head.fc6.weight" not in shapes:
        return WeightsLayout(
            WeightsFamily.TORCHVISION_DETECTION,
            f"torchvision Mask R-CNN v2 weights ({classes} classes; only v1 is supported)",
            "maskrcnn_resnet50_fpn_v2",
        )
    if _resnet_name(shapes, "backbone.body.") == "resnet50":
        encoder, network = "resnet50", "maskrcnn_resnet50_fpn"
    elif shapes.get("backbone.body.0.0.weight", (0,))[0] == 16 and "backbone.body.16.0.weight" in shapes:
        encoder, network = "mobilenet_v3", "maskrcnn_mobilenet_v3_large_fpn"
    else:
        backbone = _resnet_name(shapes, "backbone.body.") or "an unknown backbone"
        return WeightsLayout(
            WeightsFamily.TORCHVISION_DETECTION,
            f"Mask R-CNN weights with {backbone} ({classes} classes; only resnet50 and mobilenet_v3 are supported)",
            "maskrcnn",
        )
    config = ModelConfig("mask_rcnn", classes, 3, encoder)
    description = f"torchvision Mask R-CNN ({encoder} FPN, {classes} classes)"
    return WeightsLayout(WeightsFamily.TORCHVISION_DETECTION, description, network, config)


def _identify_fcn(shapes: Shapes) -> WeightsLayout:
    classes = shapes["classifier.4.weight"][0]
    backbone = _resnet_name(shapes, "backbone.")
    has_aux = "aux_classifier.4.weight" in shapes
    if backbone != "resnet50":
        return WeightsLayout(
            WeightsFamily.TORCHVISION_SEGMENTATION,
            f"torchvision FCN with {backbone or 'an unknown backbone'} ({classes} classes; only resnet50 is supported)",
            "fcn",
        )
    description = f"torchvision FCN ResNet-50 ({classes} classes{', with auxiliary head' if has_aux else ''})"
    config = ModelConfig("fcn_resnet50", classes, _first_conv_channels(shapes, ("backbone.conv1.weight",)))
    return WeightsLayout(WeightsFamily.TORCHVISION_SEGMENTATION, description, "fcn_resnet50", config, has_aux)


def _identify_smp(shapes: Shapes) -> WeightsLayout:
    classes = shapes["segmentation_head.0.weight"][0]
    encoder_shapes = {k[len("encoder.") :]: v for k, v in shapes.items() if k.startswith("encoder.")}
    encoder = _identify_classifier(encoder_shapes)
    is_unet = "decoder.blocks.0.conv1.0.weight" in shapes
    if not is_unet or encoder is None:
        what = "Unet" if is_unet else "a decoder other than Unet"
        return WeightsLayout(
            WeightsFamily.SMP,
            f"a segmentation_models_pytorch model ({what}, encoder {encoder or 'unknown'}, {classes} classes; "
            "only Unet with a torchvision-style encoder is supported)",
            "smp",
        )
    in_channels = _first_conv_channels(encoder_shapes, ("conv1.weight", "features.0.weight", "features.0.0.weight"))
    config = ModelConfig("unet", classes, in_channels, encoder)
    description = f"a segmentation_models_pytorch Unet ({encoder} encoder, {classes} classes)"
    return WeightsLayout(WeightsFamily.SMP, description, "smp_unet", config)


# -- fitting a state dict to a model ----------------------------------------------------------------------


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


# -- reading files safely ---------------------------------------------------------------------------------


class _Format(Enum):
    SAFETENSORS = "safetensors"
    TORCH_ZIP = "torch zip"
    PICKLE = "pickle"


def _sniff(path: Path) -> _Format:
    """Which kind of weights file ``path`` is, from its first bytes; :class:`CheckpointProblem` when none.

    safetensors comes first: its file starts with the header's length (a little-endian u64), so its first byte
    is anything, 0x80 (a pickle's PROTO opcode) included for one header length in 256. A length within the
    limit has bytes 4..7 zero, where the pickles of ``pickle`` and ``torch.save`` have opcodes and arguments,
    so the two hardly ever look alike; when they do (0x80, then 2..5), the header's closing ``}`` decides.
    """
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise CheckpointProblem(path, ProblemKind.MISSING, "is a folder, not a weights file")
        with path.open("rb") as stream:
            head = stream.read(16)
            header_size = _safetensors_header_size(head)
            # Pickle protocols 2..5 start PROTO (0x80) then the protocol: PyTorch's legacy format, a plain pickle.
            looks_like_pickle = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
            if header_size is not None and looks_like_pickle:  # both at once: the header's end decides
                if header_size + 8 > size or not _header_closes(stream, header_size):
                    header_size = None
    except FileNotFoundError:
        raise CheckpointProblem(path, ProblemKind.MISSING, "does not exist") from None
    except OSError as exc:
        raise CheckpointProblem(path, ProblemKind.MISSING, f"cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise CheckpointProblem(path, ProblemKind.EMPTY, "is empty (0 bytes): not a weights file")
    if head.startswith(b"PK\x03\x04"):
        return _Format.TORCH_ZIP
    if header_size is not None:
        if header_size + 8 > size:
            raise CheckpointProblem(
                path, ProblemKind.TRUNCATED, f"is truncated or corrupt: a safetensors file cut short ({size} bytes)"
            )
        return _Format.SAFETENSORS
    if looks_like_pickle:
        return _Format.PICKLE
    raise CheckpointProblem(
        path,
        ProblemKind.NOT_WEIGHTS,
        f"is not a weights file: neither safetensors nor PyTorch (it starts with {head[:8]!r})",
    )


def _safetensors_header_size(head: bytes) -> int | None:
    """The JSON header length a safetensors file starting with ``head`` declares, or ``None`` when ``head`` is
    not the start of one: an 8-byte little-endian length within safetensors' limit, then ``{``."""
    if len(head) < 9 or head[8:9] != b"{":
        return None
    (header_size,) = struct.unpack("<Q", head[:8])
    return header_size if 2 <= header_size <= _SAFETENSORS_HEADER_LIMIT else None


def _header_closes(stream: BinaryIO, header_size: int) -> bool:
    """Whether the header's last byte before its space padding is the JSON object's closing ``}``: read
    backwards from the header's end, a block at a time, past the padding only."""
    end = 8 + header_size
    while end > 8:
        start = max(8, end - 4096)
        stream.seek(start)
        block = stream.read(end - start).rstrip(b" ")
        if block:
            return block.endswith(b"}")
        end = start
    return False


def _safetensors_metadata(path: Path) -> dict[str, str]:
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as handle:
            return dict(handle.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise CheckpointProblem(
            path, ProblemKind.TRUNCATED, f"is truncated or corrupt: not a readable safetensors file ({exc})"
        ) from None


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    try:
        state = safetensors.torch.load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointProblem(
            path, ProblemKind.TRUNCATED, f"is truncated or corrupt: its tensors cannot be read ({exc})"
        ) from None
    _check_finite(path, state)
    return state


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _read_torch(path: Path) -> dict[str, Tensor]:
    """A state dict from a PyTorch file, never running code from it (``weights_only=True``)."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" not in text:
            raise CheckpointProblem(path, ProblemKind.TRUNCATED, f"is truncated or corrupt: {text}") from None
        found = _GLOBAL.search(text)
        asks = f"it asks for {found.group(1)}" if found else "it holds pickle instructions beyond plain data"
        raise CheckpointProblem(
            path,
            ProblemKind.UNSAFE,
            f"is not a plain weights file: {asks}, and loading it could run code, so it was refused without "
            "running anything. Only tensors and plain containers are read; save weights with "
            "torch.save(model.state_dict(), ...) or as safetensors",
        ) from None
    except Exception as exc:  # zip/pickle damage surfaces as RuntimeError, EOFError, struct.error...
        raise CheckpointProblem(
            path, ProblemKind.TRUNCATED, f"is truncated or corrupt: it cannot be read as a PyTorch file ({exc})"
        ) from None
    return _state_dict_from(path, loaded)


def _state_dict_from(path: Path, loaded: object) -> dict[str, Tensor]:
    if isinstance(loaded, Mapping) and not _all_tensors(loaded):
        for key in _WRAPPER_KEYS:  # {"model": state_dict, "optimizer": ..., "epoch": ...}
            inner = loaded.get(key)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                loaded = inner
                break
    if not isinstance(loaded, Mapping) or not loaded or not _all_tensors(loaded):
        what = type(loaded).__name__ if not isinstance(loaded, Mapping) else "a dict that is not a state dict"
        raise CheckpointProblem(
            path, ProblemKind.NOT_WEIGHTS, f"is not a weights file: it holds {what}, not tensors by name"
        )
    state = {str(k): v for k, v in loaded.items()}
    if all(k.startswith("module.") for k in state):  # saved from DataParallel / DistributedDataParallel
        state = {k[len("module.") :]: v for k, v in state.items()}
    _check_finite(path, state)
    return state


def _check_finite(path: Path, state: Mapping[str, Tensor], *, action: str = "it was not loaded") -> None:
    """Refuse NaN or infinite values in any floating tensor (weights, BatchNorm statistics...).

    A diverged training saves such weights without complaint, and the model they make predicts all
    background (NaN logits argmax to class 0) as if it worked. One ``isfinite().all()`` per tensor: about
    0.1 s for ResNet-50's 25M values on one CPU thread, less than building the model takes; the values are
    counted only for a file that fails.
    """
    bad = [
        (key, tensor)
        for key, tensor in state.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if not bad:
        return
    floating = sum(1 for tensor in state.values() if tensor.is_floating_point())
    nan = sum(int(torch.isnan(tensor).sum()) for _, tensor in bad)
    infinite = sum(int(torch.isinf(tensor).sum()) for _, tensor in bad)
    names = ", ".join(key for key, _ in bad[:3]) + (", ..." if len(bad) > 3 else "")
    raise CheckpointProblem(
        path,
        ProblemKind.NON_FINITE,
        f"holds broken weights: {len(bad)} of its {floating} floating-point tensors have non-finite values "
        f"({nan} NaN, {infinite} infinite), in {names}. A model with them predicts nothing meaningful (did its "
        f"training diverge?), so {action}",
    )


def _all_tensors(mapping: Mapping[Any, Any]) -> bool:
    return all(isinstance(k, str) and isinstance(v, Tensor) for k, v in mapping.items())


def _device(device: str | torch.device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"not a device: {device!r} ({exc})") from None
