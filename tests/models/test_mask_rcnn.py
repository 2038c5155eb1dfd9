"""Mask R-CNN: the builder against torchvision's own, forward passes on real Penn-Fudan data, conversions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from segstudio.core.instances import InstanceMask
from segstudio.models.architectures.mask_rcnn import (
    ChannelAdaptingTransform,
    build_mask_rcnn,
    image_to_tensor,
    instances_from_prediction,
    load_torchvision_backbone_state_dict,
    predict_instances,
    targets_from_instances,
)
from segstudio.models.registry import ModelConfig, Task, build_model, get_architecture

STEM = "FudanPed00003"  # one pedestrian, 479 x 445
# Small and quick: 100 proposals and 10 detections instead of 1000 and 100.
SMALL = {"min_size": 128, "max_size": 160, "rpn_post_nms_top_n_test": 100, "box_detections_per_img": 10}


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def pennfudan(shared_data: Path) -> tuple[np.ndarray, np.ndarray, Path]:
    """Penn-Fudan's FudanPed00003 (image, instance ids) at full size, and its PASCAL annotation file."""
    folder = shared_data / "pennfudan"
    image = np.asarray(Image.open(folder / "PNGImages" / f"{STEM}.png").convert("RGB"))
    ids = np.asarray(Image.open(folder / "PedMasks" / f"{STEM}_mask.png"))
    return image, ids, folder / "Annotation" / f"{STEM}.txt"


@pytest.fixture(scope="module")
def small_pennfudan(pennfudan: tuple[np.ndarray, np.ndarray, Path]) -> tuple[np.ndarray, InstanceMask]:
    """The same image and mask shrunk to 160 px wide (nearest for the mask, so ids stay ids)."""
    image, ids, _ = pennfudan
    height, width = ids.shape
    size = (160, round(160 * height / width))
    small_image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    small_ids = np.asarray(Image.fromarray(ids).resize(size, Image.NEAREST))
    return small_image, InstanceMask.from_ids(small_ids, default_class=1)


# -- the builder --------------------------------------------------------------------------------------------


def test_registered_as_an_instance_architecture() -> None:
    architecture = get_architecture("mask_rcnn")
    assert architecture.task is Task.INSTANCE
    assert architecture.encoders == ("resnet50", "mobilenet_v3")
    assert {"min_size", "max_size", "box_score_thresh"} <= set(architecture.options)


def test_resnet50_is_torchvisions_maskrcnn_resnet50_fpn() -> None:
    ours = build_model(ModelConfig("mask_rcnn", num_classes=3))
    theirs = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3)
    assert list(_shapes(ours)) == list(_shapes(theirs))
    assert _shapes(ours) == _shapes(theirs)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert ours.roi_heads.box_predictor.cls_score.out_features == 3
    assert ours.roi_heads.box_predictor.bbox_pred.out_features == 12
    assert ours.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 3


def test_mobilenet_v3_is_torchvisions_fast_detector_plus_a_mask_head() -> None:
    ours = _shapes(build_mask_rcnn(num_classes=3, encoder="mobilenet_v3"))
    theirs = _shapes(
        torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
            weights=None, weights_backbone=None, num_classes=3
        )
    )
    assert {k: v for k, v in ours.items() if not k.startswith("roi_heads.mask_")} == theirs
    assert ours["roi_heads.mask_predictor.mask_fcn_logits.weight"] == (3, 256, 1, 1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_classes": 1}, "at least 2"),
        ({"num_classes": 3, "encoder": "vgg16"}, "no encoder"),
        ({"num_classes": 3, "in_channels": 4}, "in_channels=4"),
        ({"num_classes": 3, "min_size": 0}, "min_size"),
        ({"num_classes": 3, "min_size": 500, "max_size": 400}, "max_size"),
        ({"num_classes": 3, "box_score_thresh": 1.5}, "box_score_thresh"),
        ({"num_classes": 3, "trainable_backbone_layers": 9}, "trainable_backbone_layers"),
    ],
)
def test_bad_options_are_clear_value_errors(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_mask_rcnn(**options)


def test_unknown_option_is_refused_by_the_registry() -> None:
    with pytest.raises(ValueError, match="no option"):
        build_model(ModelConfig("mask_rcnn", 2, options={"anchor_zoom": 3}))


def test_frozen_batchnorm_option_keeps_the_keys_but_freezes_statistics() -> None:
    frozen = build_mask_rcnn(num_classes=2, frozen_batchnorm=True, encoder="mobilenet_v3")
    plain = build_mask_rcnn(num_classes=2, encoder="mobilenet_v3")
    assert {k for k in _shapes(plain) if not k.endswith("num_batches_tracked")} == set(_shapes(frozen))
    assert any(isinstance(m, torchvision.ops.misc.FrozenBatchNorm2d) for m in frozen.modules())


# -- forward passes on real data ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoder", ["resnet50", "mobilenet_v3"])
def test_forward_eval_and_train_on_pennfudan(
    encoder: str, small_pennfudan: tuple[np.ndarray, InstanceMask]
) -> None:
    torch.manual_seed(0)
    image, instances = small_pennfudan
    model = build_model(ModelConfig("mask_rcnn", 2, encoder=encoder, options={**SMALL, "box_score_thresh": 0.0}))
    tensor = image_to_tensor(image)
    height, width = image.shape[:2]

    model.eval()
    with torch.inference_mode():
        (prediction,) = model([tensor])
    assert set(prediction) == {"boxes", "labels", "scores", "masks"}
    count = len(prediction["scores"])
    assert prediction["masks"].shape == (count, 1, height, width)
    converted = instances_from_prediction(prediction, score_threshold=0.0)
    assert converted.shape == (height, width)

    model.train()
    target = targets_from_instances(instances)
    assert len(target["labels"]) == instances.num_instances >= 1
    losses = model([tensor], [target])
    assert {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"} <= set(losses)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.roi_heads.mask_predictor.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_grey_model_sees_a_grey_image_as_the_rgb_model_sees_it_repeated(
    small_pennfudan: tuple[np.ndarray, InstanceMask],
) -> None:
    torch.manual_seed(0)
    image, _ = small_pennfudan
    grey = image.mean(axis=2).astype(np.uint8)
    rgb_model = build_mask_rcnn(num_classes=2, encoder="mobilenet_v3", box_score_thresh=0.0, **SMALL).eval()
    grey_model = build_mask_rcnn(
        num_classes=2, encoder="mobilenet_v3", in_channels=1, box_score_thresh=0.0, **SMALL
    ).eval()
    grey_model.load_state_dict(rgb_model.state_dict())  # same keys: grey is handled in the transform
    assert isinstance(grey_model.transform, ChannelAdaptingTransform)
    with torch.inference_mode():
        (from_grey,) = grey_model([image_to_tensor(grey, 1)])
        (from_rgb,) = rgb_model([image_to_tensor(np.repeat(grey[:, :, None], 3, axis=2), 3)])
        with pytest.raises(ValueError, match="1-channel images, got 3"):
            grey_model([image_to_tensor(image, 3)])
    assert len(from_grey["scores"]) > 0
    for key in ("boxes", "scores", "masks"):
        torch.testing.assert_close(from_grey[key], from_rgb[key])


def test_predict_instances_gives_an_instance_mask_of_the_image_size(
    small_pennfudan: tuple[np.ndarray, InstanceMask],
) -> None:
    torch.manual_seed(0)
    image, _ = small_pennfudan
    model = build_mask_rcnn(num_classes=2, encoder="mobilenet_v3", box_score_thresh=0.0, **SMALL)
    result = predict_instances(model, image, score_threshold=0.0)
    assert isinstance(result, InstanceMask)
    assert result.shape == image.shape[:2]
    assert not model.training
    if result.num_instances:
        scores = [result.scores[i] for i in result.instance_ids]  # type: ignore[index]
        assert scores == sorted(scores, reverse=True)
        assert set(result.classes.values()) <= {1}


# -- targets ------------------------------------------------------------------------------------------------


def test_targets_from_a_real_pennfudan_mask_match_its_annotation(
    pennfudan: tuple[np.ndarray, np.ndarray, Path],
) -> None:
    _, ids, annotation = pennfudan
    target = targets_from_instances(InstanceMask.from_ids(ids, default_class=1))
    text = annotation.read_text()
    boxes = [
        [int(v) for v in found]
        for found in re.findall(r"\(Xmin, Ymin\) - \(Xmax, Ymax\) : \((\d+), (\d+)\) - \((\d+), (\d+)\)", text)
    ]
    assert len(boxes) == int(ids.max()) == len(target["boxes"])
    # PASCAL boxes are 1-based and inclusive; ours are pixel edges: (xmin - 1, ymin - 1, xmax, ymax).
    expected = torch.tensor([[x0 - 1, y0 - 1, x1, y1] for x0, y0, x1, y1 in boxes], dtype=torch.float32)
    torch.testing.assert_close(target["boxes"], expected, atol=2.0, rtol=0.0)
    assert target["labels"].tolist() == [1] * len(boxes)
    assert target["masks"].dtype == torch.uint8
    assert target["masks"].shape == (len(boxes), *ids.shape)
    assert np.array_equal(target["masks"][0].numpy(), (ids == 1).astype(np.uint8))


def test_targets_match_torchvision_masks_to_boxes_and_skip_empty_and_background() -> None:
    ids = np.zeros((20, 30), dtype=np.uint8)
    ids[2:5, 3:9] = 1
    ids[10, 20] = 4  # a one-pixel instance still gets a positive-size box
    ids[12:15, 0:2] = 7  # class 0: not an object
    instances = InstanceMask(ids, {1: 2, 3: 1, 4: 5, 7: 0})  # id 3 has no pixels
    target = targets_from_instances(instances)
    assert target["labels"].tolist() == [2, 5]
    reference = torchvision.ops.masks_to_boxes(target["masks"].bool()) + torch.tensor([0.0, 0.0, 1.0, 1.0])
    torch.testing.assert_close(target["boxes"], reference)
    assert target["boxes"].tolist() == [[3.0, 2.0, 9.0, 5.0], [20.0, 10.0, 21.0, 11.0]]

    empty = targets_from_instances(InstanceMask(np.zeros((4, 5), dtype=np.uint8), {}))
    assert empty["boxes"].shape == (0, 4) and empty["labels"].shape == (0,) and empty["masks"].shape == (0, 4, 5)


# -- predictions -> instances -------------------------------------------------------------------------------


def _prediction(masks: list[np.ndarray], scores: list[float], labels: list[int]) -> dict[str, torch.Tensor]:
    return {
        "boxes": torch.zeros((len(scores), 4)),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "scores": torch.tensor(scores, dtype=torch.float32),
        "masks": torch.from_numpy(np.stack(masks)[:, None].astype(np.float32)),
    }


def test_instances_ordered_by_score_and_lower_scores_never_overwrite() -> None:
    a = np.zeros((6, 8), dtype=np.float32)
    a[0:4, 0:4] = 0.9  # score 0.6
    b = np.zeros((6, 8), dtype=np.float32)
    b[2:6, 2:6] = 0.8  # score 0.9: overlaps a at rows 2-3, cols 2-3
    c = np.zeros((6, 8), dtype=np.float32)
    c[:, 6:8] = 0.9  # score 0.3: below the threshold
    d = np.zeros((6, 8), dtype=np.float32)
    d[3:5, 3:5] = 0.9  # score 0.7 but wholly inside b: no pixel of its own, dropped
    e = np.zeros((6, 8), dtype=np.float32)
    e[0, 5] = 0.45  # score 0.95 but its probabilities stay under the mask threshold
    prediction = _prediction([a, b, c, d, e], [0.6, 0.9, 0.3, 0.7, 0.95], [1, 3, 2, 2, 1])

    result = instances_from_prediction(prediction, score_threshold=0.5, mask_threshold=0.5)

    expected = np.zeros((6, 8), dtype=np.uint16)
    expected[0:4, 0:4] = 2
    expected[2:6, 2:6] = 1  # the 0.9 detection wins the overlap
    assert np.array_equal(result.ids, expected)
    assert dict(result.classes) == {1: 3, 2: 1}
    assert result.scores is not None and dict(result.scores) == pytest.approx({1: 0.9, 2: 0.6})
    class_mask = result.to_class_mask()
    assert class_mask[3, 3] == 3 and class_mask[0, 0] == 1 and class_mask[0, 7] == 0

    lower = instances_from_prediction(prediction, score_threshold=0.2, mask_threshold=0.4)
    assert lower.num_instances == 4  # c (0.3) now counts; e's 0.45 pixel passes the 0.4 mask threshold
    assert lower.ids[0, 5] == 1 and lower.classes[1] == 1  # e scores highest
    assert lower.ids[0, 7] == 4 and lower.classes[4] == 2  # c scores lowest


def test_no_detections_give_an_empty_mask_of_the_right_size() -> None:
    prediction = {
        "boxes": torch.zeros((0, 4)),
        "labels": torch.zeros((0,), dtype=torch.int64),
        "scores": torch.zeros((0,)),
        "masks": torch.zeros((0, 1, 7, 9)),
    }
    result = instances_from_prediction(prediction)
    assert result.shape == (7, 9) and result.num_instances == 0
    assert not result.to_class_mask().any()


def test_bad_predictions_are_value_errors() -> None:
    mask = np.ones((4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="needs masks"):
        instances_from_prediction({"labels": torch.tensor([1]), "scores": torch.tensor([0.9])})
    bad = _prediction([mask], [0.9], [1])
    bad["scores"] = torch.tensor([0.9, 0.8])
    with pytest.raises(ValueError, match="must agree"):
        instances_from_prediction(bad)
    with pytest.raises(ValueError, match="score_threshold"):
        instances_from_prediction(_prediction([mask], [0.9], [1]), score_threshold=2.0)


def test_image_to_tensor_scales_by_dtype_and_matches_channels() -> None:
    rgb8 = np.full((2, 3, 3), 255, dtype=np.uint8)
    assert torch.equal(image_to_tensor(rgb8), torch.ones(3, 2, 3))
    grey16 = np.full((2, 3), 65535, dtype=np.uint16)
    assert torch.equal(image_to_tensor(grey16, 3), torch.ones(3, 2, 3))
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    assert image_to_tensor(rgba, 1).shape == (1, 2, 3)
    with pytest.raises(ValueError, match="uint8, uint16, bool or float"):
        image_to_tensor(np.zeros((2, 3), dtype=np.int32))


# -- ImageNet backbone weights ------------------------------------------------------------------------------


def test_imagenet_backbone_weights_load_into_the_backbone_only() -> None:
    classifier = torchvision.models.mobilenet_v3_large(weights=None)
    state = classifier.state_dict()
    model = build_mask_rcnn(num_classes=2, encoder="mobilenet_v3")
    head_before = model.roi_heads.box_predictor.cls_score.weight.clone()
    load_torchvision_backbone_state_dict(model, state)
    body = model.backbone.body.state_dict()
    for key, value in body.items():
        assert torch.equal(value, state[f"features.{key}"]), key
    assert torch.equal(model.roi_heads.box_predictor.cls_score.weight, head_before)

    with pytest.raises(ValueError, match="not resnet50 ImageNet weights"):
        load_torchvision_backbone_state_dict(build_mask_rcnn(num_classes=2), state)


def test_missing_torchvision_operators_are_named_before_the_model_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle without torchvision's library died mid-prediction with "operator torchvision::nms does not exist"."""
    from torchvision import extension

    from segstudio.models.registry import ModelConfig, build_model
    from segstudio.models.torchvision_ops import MissingTorchvisionOps

    monkeypatch.setattr(extension, "_has_ops", lambda: False)
    with pytest.raises(MissingTorchvisionOps, match="no compiled operators \\(nms, roi_align\\).*_C"):
        build_model(ModelConfig("mask_rcnn", 2, 3, "mobilenet_v3"))
