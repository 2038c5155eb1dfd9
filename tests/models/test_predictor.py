"""Predictor: numpy in, numpy out; tiled prediction equal to whole-image prediction; bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.non_finite import NonFiniteInput, NonFiniteOutput
from segstudio.models.prediction_tiles import Blend, blend_window, iter_windows, tile_axis
from segstudio.models.predictor import Prediction, Predictor
from segstudio.core.progress import CancelToken, Cancelled, Progress
from segstudio.models.registry import ModelConfig, Task, build_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ConvStandIn(nn.Module):
    """Two 3x3 convolutions: a receptive field of radius 2, so tiles with a dead zone of 4+ px are exact."""

    def __init__(self, in_channels: int = 3, num_classes: int = 4, kernel: int = 3) -> None:
        super().__init__()
        self.a = nn.Conv2d(in_channels, 8, kernel, padding=kernel // 2)
        self.b = nn.Conv2d(8, num_classes, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.b(torch.relu(self.a(x)))}


def _stand_in(in_channels: int = 3, num_classes: int = 4, kernel: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return ConvStandIn(in_channels, num_classes, kernel)


def _image(height: int, width: int, channels: int = 3, dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = 255 if dtype == np.uint8 else 65535
    shape = (height, width) if channels == 1 else (height, width, channels)
    image = rng.integers(0, top + 1, size=shape).astype(dtype)
    # some structure, so the classes are not noise only
    return cv2.GaussianBlur(image, (5, 5), 0)


def _unet(num_classes: int = 3, in_channels: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig("unet", num_classes, in_channels, "classic", {"base_channels": 4}))


# -- normalisation ---------------------------------------------------------------------------------------------


def test_grey_8_and_16_bit_copies_give_the_same_input() -> None:
    normalisation = InputNormalisation(1, (0.4,), (0.2,))
    image8 = _image(9, 11, channels=1)
    image16 = image8.astype(np.uint16) * 257
    np.testing.assert_allclose(normalisation.to_array(image8), normalisation.to_array(image16), atol=1e-6)
    assert normalisation.to_tensor(image8).shape == (1, 1, 9, 11)


def test_channels_are_matched_to_the_model() -> None:
    grey = _image(6, 7, channels=1)
    rgb = _image(6, 7, channels=3)
    three = InputNormalisation.unit(3).to_array(grey)
    assert three.shape == (3, 6, 7)
    np.testing.assert_array_equal(three[0], three[2])
    one = InputNormalisation.unit(1).to_array(rgb)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    np.testing.assert_allclose(one[0], luma, atol=1 / 255 + 1e-6)
    rgba = np.dstack([rgb, np.full((6, 7), 255, np.uint8)])
    np.testing.assert_array_equal(InputNormalisation.unit(3).to_array(rgba), InputNormalisation.unit(3).to_array(rgb))
    with pytest.raises(ValueError, match="channels"):
        InputNormalisation.unit(2).to_array(rgb)
    with pytest.raises(ValueError, match="int32"):
        InputNormalisation.unit(1).to_array(np.zeros((3, 3), np.int32))
    with pytest.raises(ValueError, match="shape"):
        InputNormalisation.unit(1).to_array(np.zeros((3, 3, 2), np.uint8))


def test_normalisation_round_trips_and_checks_its_values() -> None:
    normalisation = InputNormalisation.imagenet()
    assert InputNormalisation.from_mapping(normalisation.to_mapping()) == normalisation
    fixed = InputNormalisation(1, (0.5,), (0.25,), scale=1 / 4095)
    assert InputNormalisation.from_mapping(fixed.to_mapping()) == fixed
    for bad in ({"channels": 3, "mean": (0.0, 0.0)}, {"channels": 1, "std": (0.0,)}, {"channels": 0}, {"scale": -1.0}):
        with pytest.raises(ValueError):
            InputNormalisation(**bad)  # type: ignore[arg-type]


def test_statistics_from_images() -> None:
    images = [_image(20, 20, channels=1, seed=s) for s in range(3)]
    normalisation = InputNormalisation.from_images(images, 1)
    pixels = np.concatenate([i.ravel() for i in images]).astype(np.float64) / 255
    assert normalisation.mean[0] == pytest.approx(pixels.mean(), abs=1e-6)
    assert normalisation.std[0] == pytest.approx(pixels.std(), abs=1e-6)


# -- predict: types and inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "dtype"), [(1, np.uint8), (3, np.uint8), (1, np.uint16), (3, np.uint16)], ids=["grey", "rgb", "grey16", "rgb16"]
)
def test_prediction_is_numpy_for_grey_rgb_and_16_bit(channels: int, dtype: type) -> None:
    predictor = Predictor(_unet(), normalisation=InputNormalisation.imagenet(), num_classes=3, device="cpu")
    image = _image(37, 45, channels=channels, dtype=dtype)
    prediction = predictor.predict(image)
    assert isinstance(prediction, Prediction)
    assert isinstance(prediction.classes, np.ndarray) and prediction.classes.dtype == np.uint8
    assert prediction.classes.shape == (37, 45)
    assert prediction.probabilities is None and prediction.instances is None
    assert prediction.classes.max() < 3
    with_probabilities = predictor.predict(image, probabilities=True)
    probabilities = with_probabilities.probabilities
    assert isinstance(probabilities, np.ndarray)
    assert probabilities.shape == (3, 37, 45) and probabilities.dtype == np.float16
    np.testing.assert_allclose(probabilities.astype(np.float32).sum(axis=0), 1.0, atol=3e-3)
    np.testing.assert_array_equal(with_probabilities.classes, prediction.classes)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_predicts_what_the_cpu_predicts() -> None:
    """The same UNet (same seed) on "cuda" and on "cpu": the same classes, except where two classes near-tie
    (cuDNN sums in another order), and probabilities within float16 rounding."""
    kwargs = {"normalisation": InputNormalisation.imagenet(), "num_classes": 3}
    image = _image(70, 90)
    cpu = Predictor(_unet(), device="cpu", **kwargs).predict(image, probabilities=True)
    cuda = Predictor(_unet(), device="cuda", **kwargs).predict(image, probabilities=True)
    assert cuda.classes.shape == cpu.classes.shape == (70, 90) and cuda.classes.dtype == np.uint8
    assert (cuda.classes == cpu.classes).mean() > 0.999
    assert cuda.probabilities is not None and cpu.probabilities is not None
    np.testing.assert_allclose(cuda.probabilities.astype(np.float32), cpu.probabilities.astype(np.float32), atol=2e-3)


def test_grey_and_16_bit_copies_of_one_image_predict_the_same() -> None:
    predictor = Predictor(_stand_in(), normalisation=InputNormalisation.imagenet(), num_classes=4, device="cpu")
    grey = _image(30, 40, channels=1)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    base = predictor.predict(grey).classes
    np.testing.assert_array_equal(predictor.predict(rgb).classes, base)
    np.testing.assert_array_equal(predictor.predict(rgb.astype(np.uint16) * 257).classes, base)


def test_mixed_precision_path_runs_on_the_cpu() -> None:
    """``amp=True`` on the CPU autocasts to bfloat16 (the CUDA path, float16/bfloat16, needs a GPU to test)."""
    model = _stand_in()
    kwargs = {"normalisation": InputNormalisation.unit(), "num_classes": 4, "device": "cpu"}
    full = Predictor(model, **kwargs).predict(_image(40, 50), probabilities=True)
    mixed = Predictor(model, amp=True, tile_size=32, tile_overlap=8, **kwargs).predict(_image(40, 50), probabilities=True)
    assert mixed.probabilities is not None and full.probabilities is not None
    assert (mixed.classes == full.classes).mean() > 0.95
    np.testing.assert_allclose(mixed.probabilities.astype(np.float32), full.probabilities.astype(np.float32), atol=0.05)


def test_float_images_are_taken_as_zero_to_one() -> None:
    predictor = Predictor(_stand_in(), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu")
    image = _image(20, 30)
    np.testing.assert_array_equal(predictor.predict(image.astype(np.float32) / 255).classes, predictor.predict(image).classes)


def test_a_model_with_many_classes_gives_uint16_masks() -> None:
    predictor = Predictor(_stand_in(num_classes=300), normalisation=InputNormalisation.unit(), num_classes=300, device="cpu")
    classes = predictor.predict(_image(8, 9)).classes
    assert classes.dtype == np.uint16 and classes.max() < 300


def test_a_single_logit_model_is_read_as_binary() -> None:
    predictor = Predictor(_stand_in(num_classes=1), normalisation=InputNormalisation.unit(), num_classes=1, device="cpu")
    prediction = predictor.predict(_image(12, 13), probabilities=True)
    assert set(np.unique(prediction.classes)) <= {0, 1}
    assert prediction.probabilities is not None and prediction.probabilities.shape == (2, 12, 13)


def test_bad_arguments_and_outputs_are_refused_with_a_reason() -> None:
    model = _stand_in()
    unit = InputNormalisation.unit()
    with pytest.raises(ValueError, match="tile_overlap"):
        Predictor(model, normalisation=unit, num_classes=4, tile_size=32, tile_overlap=32)
    with pytest.raises(ValueError, match="num_classes"):
        Predictor(model, normalisation=unit, num_classes=0)
    with pytest.raises(ValueError, match="task"):
        Predictor(model, normalisation=unit, num_classes=4, task="panoptic")
    with pytest.raises(ValueError, match="semantic"):
        Predictor(model, normalisation=unit, num_classes=4, task=Task.INSTANCE, tile_size=128)
    wrong = Predictor(model, normalisation=unit, num_classes=5, device="cpu")
    with pytest.raises(ValueError, match="num_classes=5"):
        wrong.predict(_image(8, 8))
    with pytest.raises(ValueError, match="shape"):
        Predictor(model, normalisation=unit, num_classes=4, device="cpu").predict(np.zeros((4, 4, 2), np.uint8))


# -- tiling ------------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 600), tile=st.integers(2, 128), overlap_fraction=st.floats(0, 0.9))
def test_windows_cover_the_axis_with_the_overlap_asked_for(length: int, tile: int, overlap_fraction: float) -> None:
    overlap = min(tile - 1, int(tile * overlap_fraction))
    axis = tile_axis(length, tile, overlap)
    assert axis.tile == min(tile, length)
    assert axis.starts[0] == 0 and axis.starts[-1] + axis.tile == length
    assert all(b > a for a, b in zip(axis.starts, axis.starts[1:], strict=False))
    assert all(o >= overlap for o in axis.overlaps)
    assert axis.cuts[0] == 0 and axis.cuts[-1] == length
    assert all(c >= 1 for c in axis.cover)
    covered = np.zeros(length, int)
    for start in axis.starts:
        covered[start : start + axis.tile] += 1
    for k, count in enumerate(axis.cover):
        assert (covered[axis.cuts[k] : axis.cuts[k + 1]] == count).all()


def test_blend_windows_ramp_only_where_another_window_overlaps() -> None:
    inner = blend_window(64, 16, Blend.COSINE)
    assert inner[:4].max() <= 1e-6 and inner[16:48].min() == 1.0 and inner[-4:].max() <= 1e-6
    first = blend_window(64, 16, Blend.LINEAR, open_start=False)
    assert first[:48].min() == 1.0 and first[-1] < 0.01
    assert (blend_window(64, 16, Blend.UNIFORM) == 1).all()


@pytest.mark.parametrize("blend", list(Blend))
@pytest.mark.parametrize(("height", "width"), [(101, 77), (64, 200), (33, 31)])
def test_tiled_prediction_equals_whole_image_prediction(blend: Blend, height: int, width: int) -> None:
    model = _stand_in()
    image = _image(height, width)
    kwargs = {"normalisation": InputNormalisation.imagenet(), "num_classes": 4, "device": "cpu", "probability_dtype": np.float32}
    whole = Predictor(model, **kwargs).predict(image, probabilities=True)
    tiled = Predictor(model, tile_size=32, tile_overlap=16, tile_batch=3, blend=blend, **kwargs).predict(image, probabilities=True)
    assert whole.tiles == 1
    assert tiled.tiles == len(list(iter_windows(height, width, 32, 16))) > 1
    assert whole.probabilities is not None and tiled.probabilities is not None
    if blend is Blend.UNIFORM:  # a plain average mixes in the padding effects at window edges
        assert (tiled.classes == whole.classes).mean() > 0.9
        return
    np.testing.assert_array_equal(tiled.classes, whole.classes)
    np.testing.assert_allclose(tiled.probabilities, whole.probabilities, atol=1e-5)


def test_tiles_of_a_pointwise_model_are_exact_even_without_overlap() -> None:
    model = _stand_in(kernel=1)
    image = _image(70, 53)
    kwargs = {"normalisation": InputNormalisation.unit(), "num_classes": 4, "device": "cpu"}
    whole = Predictor(model, **kwargs).predict(image)
    tiled = Predictor(model, tile_size=16, tile_overlap=0, **kwargs).predict(image)
    np.testing.assert_array_equal(tiled.classes, whole.classes)


def test_tiled_unet_on_an_odd_sized_grey_image() -> None:
    predictor = Predictor(_unet(in_channels=1), normalisation=InputNormalisation.unit(1), num_classes=3, device="cpu", tile_size=48, tile_overlap=12)
    prediction = predictor.predict(_image(97, 61, channels=1), probabilities=True)
    assert prediction.classes.shape == (97, 61) and prediction.tiles == 6
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities.astype(np.float32).sum(axis=0), 1.0, atol=3e-3)


def test_tiled_prediction_never_holds_a_full_size_float_map() -> None:
    """Peak numpy memory of a tiled prediction is the output mask plus tile-sized buffers, not (K, H, W) floats."""
    classes = 8
    height, width = 1024, 768
    full_map = classes * height * width * 4  # what a (K, H, W) float32 accumulator would take: 25 MB
    model = _stand_in(num_classes=classes)
    image = _image(height, width)
    predictor = Predictor(model, normalisation=InputNormalisation.unit(), num_classes=classes, device="cpu", tile_size=128, tile_overlap=32)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        prediction = predictor.predict(image)
        _, tiled_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        predictor.predict(image, probabilities=True)  # asked for: the map itself (float16) is allocated
        _, probabilities_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert prediction.classes.shape == (height, width)
    assert tiled_peak < full_map / 6, f"tiled prediction peaked at {tiled_peak / 1e6:.1f} MB"
    assert probabilities_peak > full_map / 2  # the measurement does see big numpy arrays


# -- progress, cancel ----------------------------------------------------------------------------------------------


def test_progress_is_reported_per_batch_of_tiles() -> None:
    seen: list[Progress] = []
    predictor = Predictor(_stand_in(), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu", tile_size=32, tile_overlap=8, tile_batch=2)
    prediction = predictor.predict(_image(90, 70), progress=seen.append)
    assert [p.stage for p in seen] == ["predict"] * len(seen)
    assert seen[-1].done == seen[-1].total == prediction.tiles
    assert [p.done for p in seen] == sorted({min(k, prediction.tiles) for k in range(2, prediction.tiles + 2, 2)})


def test_cancel_between_tiles_raises_cancelled() -> None:
    token = CancelToken()
    calls: list[int] = []

    def cancel_after_first(progress: Progress) -> None:
        calls.append(progress.done)
        token.cancel()

    predictor = Predictor(_stand_in(), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu", tile_size=32, tile_overlap=8)
    with pytest.raises(Cancelled):
        predictor.predict(_image(90, 70), progress=cancel_after_first, cancel=token)
    assert calls == [1]
    with pytest.raises(Cancelled):
        predictor.predict(_image(20, 20), cancel=token)


# -- broken models and images ------------------------------------------------------------------------------------


class NaNWhereBright(nn.Module):
    """A working model whose output turns NaN (or inf) where its input is very bright: broken for one part of
    an image only, so only the windows covering that part fail."""

    def __init__(self, inner: nn.Module, value: float = float("nan")) -> None:
        super().__init__()
        self.inner = inner
        self.value = value

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.inner(x)["out"]
        bright = (x[:, :1] > 2.0).expand_as(out)
        return {"out": torch.where(bright, torch.full_like(out, self.value), out)}


def _nan_weights(model: nn.Module) -> nn.Module:
    """Weights gone NaN after loading (the load check never saw them)."""
    with torch.no_grad():
        model.b.bias[0] = float("nan")
    return model


@pytest.mark.parametrize("tile_size", [None, 32], ids=["whole", "tiled"])
def test_a_model_that_outputs_nan_raises_instead_of_predicting_background(tile_size: int | None) -> None:
    predictor = Predictor(_nan_weights(_stand_in()), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu", tile_size=tile_size, tile_overlap=8)
    with pytest.raises(NonFiniteOutput, match="NaN or infinite") as excinfo:
        predictor.predict(_image(50, 70))
    assert isinstance(excinfo.value, ValueError)
    assert "weights" in str(excinfo.value) and "mixed precision" not in str(excinfo.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_output_in_one_window_of_a_tiled_prediction_is_refused(value: float) -> None:
    image = np.zeros((64, 96), np.uint8)
    kwargs = {"normalisation": InputNormalisation(1, (0.1,), (0.2,)), "num_classes": 4, "device": "cpu"}
    model = NaNWhereBright(_stand_in(in_channels=1), value)
    tiled = Predictor(model, tile_size=32, tile_overlap=8, **kwargs)
    assert tiled.predict(image).classes.shape == (64, 96)  # finite everywhere: predicts as before
    image[60, 90] = 255  # the last window's corner
    with pytest.raises(NonFiniteOutput, match=r"window at y 32, x 64 \(32 x 32 pixels\)"):
        tiled.predict(image)
    with pytest.raises(NonFiniteOutput, match="for the image"):
        Predictor(model, **kwargs).predict(image, probabilities=True)


def test_mixed_precision_is_named_as_a_possible_cause() -> None:
    predictor = Predictor(_nan_weights(_stand_in()), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu", amp=True)
    with pytest.raises(NonFiniteOutput, match="bfloat16 mixed precision") as excinfo:
        predictor.predict(_image(20, 20))
    assert "amp=False" in str(excinfo.value)


@pytest.mark.parametrize("tile_size", [None, 16], ids=["whole", "tiled"])
def test_an_image_with_nan_or_inf_pixels_is_refused_before_the_model_runs(tile_size: int | None) -> None:
    calls: list[int] = []
    model = _stand_in()
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    predictor = Predictor(model, normalisation=InputNormalisation.imagenet(), num_classes=4, device="cpu", tile_size=tile_size, tile_overlap=4)
    image = _image(30, 40).astype(np.float32) / 255
    image[0, 0, 1] = np.inf
    image[1, 2, 0] = np.nan
    with pytest.raises(NonFiniteInput, match=r"2 NaN or infinite values") as excinfo:
        predictor.predict(image)
    assert isinstance(excinfo.value, ValueError) and not isinstance(excinfo.value, NonFiniteOutput)
    assert calls == []
    # A finite float image too large for float32 after normalisation overflows to inf: refused the same way.
    huge = np.full((30, 40), 3e38, np.float32)
    with pytest.raises(NonFiniteInput, match="overflow float32 once normalised"), np.errstate(over="ignore"):
        predictor.predict(huge)


class _DetectionStandIn(nn.Module):
    """torchvision's detection API with fixed outputs: one detection whose score (or box, or mask) is given."""

    def __init__(self, **broken: float) -> None:
        super().__init__()
        self.broken = broken
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        height, width = images[0].shape[-2:]
        boxes = torch.tensor([[2.0, 2.0, 10.0, 10.0]])
        masks = torch.zeros(1, 1, height, width)
        masks[..., 2:10, 2:10] = 1.0
        scores = torch.tensor([0.9])
        if "box" in self.broken:
            boxes[0, 2] = self.broken["box"]
        if "score" in self.broken:
            scores[0] = self.broken["score"]
        if "mask" in self.broken:
            masks[0, 0, 5, 5] = self.broken["mask"]
        return [{"boxes": boxes, "labels": torch.tensor([1]), "scores": scores, "masks": masks}]


def test_instance_models_with_non_finite_detections_are_refused() -> None:
    kwargs = {"task": Task.INSTANCE, "normalisation": InputNormalisation.unit(), "num_classes": 2, "device": "cpu"}
    working = Predictor(_DetectionStandIn(), **kwargs).predict(_image(20, 24))
    assert working.instances is not None and working.classes[5, 5] == 1
    for broken in ({"score": float("nan")}, {"box": float("inf")}, {"mask": float("nan")}):
        with pytest.raises(NonFiniteOutput, match=next(iter(broken))):
            Predictor(_DetectionStandIn(**broken), **kwargs).predict(_image(20, 24))


# -- checkpoints and instance models ---------------------------------------------------------------------------


def test_predictor_from_a_checkpoint_matches_the_model(tmp_path: Path) -> None:
    from segstudio.models.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint

    config = ModelConfig("unet", 3, 1, "classic", {"base_channels": 4})
    model = _unet(in_channels=1)
    normalisation = InputNormalisation(1, (0.3,), (0.2,))
    save_checkpoint(tmp_path / "m.safetensors", model, CheckpointMeta(config, LabelSet.with_count(3), normalisation))
    image = _image(33, 35, channels=1, dtype=np.uint16)
    direct = Predictor(model, normalisation=normalisation, num_classes=3, device="cpu").predict(image)
    loaded = Predictor.from_checkpoint(load_checkpoint(tmp_path / "m.safetensors"), device="cpu")
    assert loaded.normalisation == normalisation and loaded.task is Task.SEMANTIC
    np.testing.assert_array_equal(loaded.predict(image).classes, direct.classes)
    by_path = Predictor.from_checkpoint(tmp_path / "m.safetensors", tile_size=16, tile_overlap=4)
    assert by_path.predict(image).classes.shape == (33, 35)


def test_instance_prediction_gives_an_instance_mask() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig("mask_rcnn", 2, 3, "mobilenet_v3", {"min_size": 64, "max_size": 96}))
    predictor = Predictor(model, task=Task.INSTANCE, normalisation=InputNormalisation.unit(), num_classes=2, device="cpu", score_threshold=0.0)
    image = _image(50, 70)
    prediction = predictor.predict(image)
    assert isinstance(prediction.instances, InstanceMask)
    assert prediction.instances.shape == (50, 70)
    assert prediction.classes.shape == (50, 70) and prediction.classes.dtype == np.uint8
    np.testing.assert_array_equal(prediction.classes, prediction.instances.to_class_mask(np.uint8))
    assert set(prediction.instances.classes.values()) <= {1}
