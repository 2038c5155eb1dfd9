"""What a foreign state dict is for, read from its tensor names and shapes (never from the file name).

:func:`identify_state_dict` recognises torchvision's detection, segmentation and classification networks and
segmentation_models_pytorch's Unet, and says so in a :class:`WeightsLayout`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from torch import Tensor

from segstudio.models.registry import ModelConfig


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

