"""Mask R-CNN (He et al., ICCV 2017): a box, a class and a mask per object, from torchvision.

Two backbones, both with a feature pyramid (FPN):

- ``resnet50``: exactly torchvision's ``maskrcnn_resnet50_fpn`` (same modules, same state-dict keys), so
  torchvision's COCO weights file loads into it unchanged;
- ``mobilenet_v3``: the fast option, MobileNet-V3-Large + FPN built with torchvision's ``mobilenet_backbone``
  helper and the anchors of torchvision's ``fasterrcnn_mobilenet_v3_large_fpn``.

Both start from random weights (nothing downloads). ``num_classes`` counts the background: Penn-Fudan's
pedestrians need ``num_classes=2``.

Input: like every torchvision detector, the model takes a *list* of float ``(C, H, W)`` tensors in ``[0, 1]``
and normalises and resizes them itself (ImageNet mean/std, shorter side ``min_size``, longer side at most
``max_size``). Grey models (``in_channels=1``): the grey channel is repeated to three channels inside the
model's transform, before the ImageNet RGB mean/std are applied, so a grey image is seen exactly as an RGB
photo of the same grey scene would be. Backbone weights stay the RGB ones (COCO and ImageNet weights load
unchanged) and the state dict is the same as for ``in_channels=3``.

Output in eval mode: torchvision's list of dicts (``boxes``, ``labels``, ``scores``, ``masks`` as
``(N, 1, H, W)`` probabilities); :func:`instances_from_prediction` turns one into an :class:`InstanceMask`.
Train mode with targets (:func:`targets_from_instances`) returns torchvision's dict of losses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import mobilenet_backbone, resnet_fpn_backbone
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops.misc import FrozenBatchNorm2d

from segstudio.core.instances import InstanceMask
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.architecture import Architecture, Task
from segstudio.models.torchvision_ops import require_torchvision_ops

ENCODERS: tuple[str, ...] = ("resnet50", "mobilenet_v3")
# torchvision's name for the network each of our encoders is (its ImageNet weights file starts with it).
TORCHVISION_BACKBONES: Mapping[str, str] = {"resnet50": "resnet50", "mobilenet_v3": "mobilenet_v3_large"}
_TRAINABLE_STAGES = {"resnet50": 5, "mobilenet_v3": 6}  # torchvision's maximum for each backbone
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

OPTIONS: Mapping[str, str] = {
    "min_size": "shorter image side after the model's own resize (default 800; smaller is faster)",
    "max_size": "longer image side limit after the resize (default 1333)",
    "box_score_thresh": "detections scoring below this are dropped inside the model (default 0.05)",
    "box_nms_thresh": "IoU above which overlapping detections of one class are merged (default 0.5)",
    "box_detections_per_img": "at most this many detections per image (default 100)",
    "rpn_post_nms_top_n_test": "region proposals the heads examine per image when predicting (default 1000; "
    "fewer is faster)",
    "trainable_backbone_layers": "backbone stages that train, counted from the top (default: all)",
    "frozen_batchnorm": "freeze the backbone's batch-norm statistics, as torchvision does when fine-tuning "
    "pretrained weights with small batches (default false)",
}


class ChannelAdaptingTransform(GeneralizedRCNNTransform):
    """torchvision's resize/normalise step, checking the channel count and repeating grey to RGB.

    Holds no parameters or buffers, so the model's state dict is exactly torchvision's.
    """

    def __init__(self, *, in_channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_channels = in_channels

    def normalize(self, image: Tensor) -> Tensor:
        channels = image.shape[0]
        if channels != self.in_channels:
            raise ValueError(
                f"this Mask R-CNN takes {self.in_channels}-channel images, got {channels} channels "
                f"(image shape {tuple(image.shape)})"
            )
        if channels == 1:
            image = image.expand(3, -1, -1)
        return super().normalize(image)


def build_mask_rcnn(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str | None = "resnet50",
    min_size: int = 800,
    max_size: int = 1333,
    box_score_thresh: float = 0.05,
    box_nms_thresh: float = 0.5,
    box_detections_per_img: int = 100,
    rpn_post_nms_top_n_test: int = 1000,
    trainable_backbone_layers: int | None = None,
    frozen_batchnorm: bool = False,
) -> MaskRCNN:
    """A randomly initialised Mask R-CNN; box and mask predictors sized for ``num_classes`` (with background)."""
    require_torchvision_ops()  # its RPN and heads run torchvision::nms and roi_align
    encoder = encoder or ENCODERS[0]
    if encoder not in ENCODERS:
        raise ValueError(f"mask_rcnn has no encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"Mask R-CNN needs num_classes of at least 2 (background and one object class), got {num_classes!r}"
        )
    if in_channels not in (1, 3):
        raise ValueError(f"Mask R-CNN takes grey (1) or RGB (3) images, not in_channels={in_channels}")
    _check_int("min_size", min_size, 1)
    _check_int("max_size", max_size, 1)
    if max_size < min_size:
        raise ValueError(f"max_size ({max_size}) must not be smaller than min_size ({min_size})")
    _check_fraction("box_score_thresh", box_score_thresh)
    _check_fraction("box_nms_thresh", box_nms_thresh)
    _check_int("box_detections_per_img", box_detections_per_img, 1)
    _check_int("rpn_post_nms_top_n_test", rpn_post_nms_top_n_test, 1)
    stages = _TRAINABLE_STAGES[encoder]
    if trainable_backbone_layers is None:
        trainable_backbone_layers = stages
    _check_int("trainable_backbone_layers", trainable_backbone_layers, 0)
    if trainable_backbone_layers > stages:
        raise ValueError(f"trainable_backbone_layers for {encoder} runs 0..{stages}, got {trainable_backbone_layers}")
    if not isinstance(frozen_batchnorm, bool):
        raise ValueError(f"frozen_batchnorm must be true or false, got {frozen_batchnorm!r}")

    norm_layer: type[nn.Module] = FrozenBatchNorm2d if frozen_batchnorm else nn.BatchNorm2d
    extra: dict[str, Any] = {}
    if encoder == "resnet50":
        # What torchvision's maskrcnn_resnet50_fpn(weights=None, weights_backbone=None) builds.
        backbone = resnet_fpn_backbone(
            backbone_name="resnet50", weights=None, norm_layer=norm_layer, trainable_layers=trainable_backbone_layers
        )
    else:
        # What torchvision's fasterrcnn_mobilenet_v3_large_fpn builds, with a mask head added by MaskRCNN.
        backbone = mobilenet_backbone(
            backbone_name="mobilenet_v3_large",
            weights=None,
            fpn=True,
            norm_layer=norm_layer,
            trainable_layers=trainable_backbone_layers,
        )
        anchor_sizes = ((32, 64, 128, 256, 512),) * 3
        extra["rpn_anchor_generator"] = AnchorGenerator(anchor_sizes, ((0.5, 1.0, 2.0),) * len(anchor_sizes))
        extra["rpn_score_thresh"] = 0.05
    model = MaskRCNN(
        backbone,
        num_classes=num_classes,
        min_size=min_size,
        max_size=max_size,
        box_score_thresh=float(box_score_thresh),
        box_nms_thresh=float(box_nms_thresh),
        box_detections_per_img=box_detections_per_img,
        rpn_post_nms_top_n_test=rpn_post_nms_top_n_test,
        **extra,
    )
    model.transform = ChannelAdaptingTransform(
        in_channels=in_channels,
        min_size=min_size,
        max_size=max_size,
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
    )
    return model


def _check_int(name: str, value: object, lowest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ValueError(f"{name} must be an integer of at least {lowest}, got {value!r}")


def _check_fraction(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in 0..1, got {value!r}")


MASK_RCNN = Architecture(
    name="mask_rcnn",
    builder=build_mask_rcnn,
    task=Task.INSTANCE,
    encoders=ENCODERS,
    summary="Mask R-CNN (He et al. 2017): a box, class and mask per object; torchvision's, with an FPN",
    options=OPTIONS,
)

ARCHITECTURES = (MASK_RCNN,)


# -- ImageNet backbone weights ---------------------------------------------------------------------------


def backbone_encoder(model: MaskRCNN) -> str:
    """Which of :data:`ENCODERS` the model's backbone is."""
    body = model.backbone.body
    return "resnet50" if hasattr(body, "layer1") else "mobilenet_v3"


def load_torchvision_backbone_state_dict(model: MaskRCNN, state_dict: Mapping[str, Tensor]) -> None:
    """Load torchvision ImageNet classification weights (``resnet50-*.pth``, ``mobilenet_v3_large-*.pth``)
    into the backbone; the FPN and the heads keep their weights. The classifier in the file is ignored.

    ``ValueError`` (nothing loaded) when the weights do not fit the backbone.
    """
    encoder = backbone_encoder(model)
    prefix = "" if encoder == "resnet50" else "features."
    body = model.backbone.body
    picked: dict[str, Tensor] = {}
    missing: list[str] = []
    mismatched: list[str] = []
    for key, own in body.state_dict().items():
        source = state_dict.get(prefix + key)
        if source is None:
            if not key.endswith("num_batches_tracked"):  # absent from older files; keep ours
                missing.append(prefix + key)
        elif tuple(source.shape) != tuple(own.shape):
            mismatched.append(f"{prefix + key} {tuple(source.shape)} (backbone: {tuple(own.shape)})")
        else:
            picked[key] = source
    if missing or mismatched:
        problems = []
        if missing:
            problems.append(f"{len(missing)} backbone tensors are missing (e.g. {', '.join(missing[:3])})")
        if mismatched:
            problems.append(f"{len(mismatched)} have other shapes (e.g. {'; '.join(mismatched[:3])})")
        raise ValueError(
            f"these are not {TORCHVISION_BACKBONES[encoder]} ImageNet weights for the {encoder} backbone: "
            + "; ".join(problems)
        )
    body.load_state_dict(picked, strict=False)


# -- predictions -> instance masks ----------------------------------------------------------------------


def instances_from_prediction(
    prediction: Mapping[str, Tensor], *, score_threshold: float = 0.5, mask_threshold: float = 0.5
) -> InstanceMask:
    """One image's torchvision prediction as an :class:`InstanceMask`.

    Detections scoring at least ``score_threshold`` become instances ``1..K`` in order of descending score;
    a pixel goes to the highest-scoring detection whose mask probability there exceeds ``mask_threshold``
    (a lower-scoring detection never overwrites a higher one). Detections left with no pixel of their own
    are dropped, so the ids stay contiguous. ``classes`` are the predicted labels, ``scores`` the scores.
    ``InstanceMask.to_class_mask()`` then gives the class-index mask.
    """
    _check_fraction("score_threshold", score_threshold)
    _check_fraction("mask_threshold", mask_threshold)
    missing = [key for key in ("labels", "scores", "masks") if key not in prediction]
    if missing:
        raise ValueError(f"a Mask R-CNN prediction needs {', '.join(missing)}; got keys {', '.join(prediction)}")
    masks = prediction["masks"].detach()
    if masks.ndim == 4:
        if masks.shape[1] != 1:
            raise ValueError(f"prediction masks must be (N, 1, H, W) or (N, H, W), got {tuple(masks.shape)}")
        masks = masks[:, 0]
    if masks.ndim != 3:
        raise ValueError(f"prediction masks must be (N, 1, H, W) or (N, H, W), got {tuple(masks.shape)}")
    scores = prediction["scores"].detach().float().reshape(-1)
    labels = prediction["labels"].detach().reshape(-1)
    if not len(scores) == len(labels) == masks.shape[0]:
        raise ValueError(
            f"prediction has {len(scores)} scores, {len(labels)} labels and {masks.shape[0]} masks; they must agree"
        )
    height, width = int(masks.shape[1]), int(masks.shape[2])
    order = torch.argsort(scores, descending=True, stable=True)
    keep = order[scores[order] >= score_threshold].tolist()
    id_dtype = np.uint16 if len(keep) <= np.iinfo(np.uint16).max else np.int32
    ids = np.zeros((height, width), dtype=id_dtype)
    if keep:
        # Paint best-first, each detection only where no better one has painted, and only within the
        # rows/columns its mask covers (a detection's mask is small next to the image).
        binary = (masks > mask_threshold).cpu().numpy()
        rows, cols = binary.any(axis=2), binary.any(axis=1)
        for rank, index in enumerate(keep, start=1):
            covered_rows, covered_cols = np.flatnonzero(rows[index]), np.flatnonzero(cols[index])
            if covered_rows.size == 0:
                continue
            y0, y1 = covered_rows[0], covered_rows[-1] + 1
            x0, x1 = covered_cols[0], covered_cols[-1] + 1
            region = ids[y0:y1, x0:x1]
            region[binary[index, y0:y1, x0:x1] & (region == 0)] = rank
    counts = np.bincount(ids.ravel(), minlength=len(keep) + 1)
    visible = np.flatnonzero(counts[1:]) + 1  # the ranks that own pixels, best first
    if len(visible) < len(keep):  # renumber so the ids run 1..K without gaps
        renumber = np.zeros(len(keep) + 1, dtype=id_dtype)
        renumber[visible] = np.arange(1, len(visible) + 1)
        ids = renumber[ids]
    ids.flags.writeable = False  # ours alone: InstanceMask can keep it without a copy
    all_labels = labels.cpu().numpy()
    all_scores = scores.cpu().numpy()
    classes = {new: int(all_labels[keep[old - 1]]) for new, old in enumerate(visible.tolist(), start=1)}
    score_map = {new: float(all_scores[keep[old - 1]]) for new, old in enumerate(visible.tolist(), start=1)}
    return InstanceMask(ids, classes, score_map)


def targets_from_instances(instances: InstanceMask) -> dict[str, Tensor]:
    """The training target torchvision's Mask R-CNN wants for one image, from its instance mask.

    ``boxes``: ``(K, 4)`` float32 ``x0, y0, x1, y1`` in pixel-edge coordinates (a box covers its pixels:
    ``x1`` is one past the rightmost column, so a one-pixel object still has a positive width);
    ``labels``: ``(K,)`` int64 classes; ``masks``: ``(K, H, W)`` uint8. Instances in ascending id order;
    ids with no pixels, and instances of class 0 (background), are skipped.
    """
    ids = np.asarray(instances.ids)
    height, width = ids.shape
    present = [i for i in instances.instance_ids if instances.class_of(i) != 0]
    if not present:
        return {
            "boxes": torch.zeros((0, 4), dtype=torch.float32),
            "labels": torch.zeros((0,), dtype=torch.int64),
            "masks": torch.zeros((0, height, width), dtype=torch.uint8),
        }
    masks = ids[None, :, :] == np.asarray(present, dtype=ids.dtype)[:, None, None]
    rows = masks.any(axis=2)  # (K, H)
    cols = masks.any(axis=1)  # (K, W)
    y0 = rows.argmax(axis=1)
    y1 = height - rows[:, ::-1].argmax(axis=1)
    x0 = cols.argmax(axis=1)
    x1 = width - cols[:, ::-1].argmax(axis=1)
    boxes = np.stack([x0, y0, x1, y1], axis=1).astype(np.float32)
    labels = np.array([instances.class_of(i) for i in present], dtype=np.int64)
    return {
        "boxes": torch.from_numpy(boxes),
        "labels": torch.from_numpy(labels),
        "masks": torch.from_numpy(masks.astype(np.uint8)),
    }


# -- prediction on a numpy image -------------------------------------------------------------------------


def image_to_tensor(image: np.ndarray, in_channels: int = 3) -> Tensor:
    """A numpy image as the float ``(in_channels, H, W)`` tensor in ``[0, 1]`` a detector takes.

    :class:`~segstudio.models.normalisation.InputNormalisation` rules: ``uint8`` / 255, ``uint16`` / 65535, float
    as is; grey repeated to RGB, RGB to grey by BT.601 luma, alpha dropped.
    """
    return torch.from_numpy(InputNormalisation.unit(in_channels).to_array(image))


@torch.inference_mode()
def predict_instances(
    model: MaskRCNN,
    image: np.ndarray,
    *,
    score_threshold: float = 0.5,
    mask_threshold: float = 0.5,
) -> InstanceMask:
    """Run ``model`` (put in eval mode) on one numpy image; the instances at the image's own size."""
    model.eval()
    in_channels = getattr(model.transform, "in_channels", 3)
    device = next(model.parameters()).device
    tensor = image_to_tensor(image, in_channels).to(device)
    (prediction,) = model([tensor])
    return instances_from_prediction(prediction, score_threshold=score_threshold, mask_threshold=mask_threshold)
