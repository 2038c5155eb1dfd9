"""Predicting image files (segstudio.app.prediction): every image read, predicted and its class mask written
as a palette PNG; unreadable images and images a broken model fails on are skipped with the reason; colliding
names and mismatched label sets are refused up front; cancel stops between images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from segstudio.app.prediction import predict_folder
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, Cancelled, Progress
from segstudio.io.mask_files import read_class_mask
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.predictor import Predictor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ConvStandIn(nn.Module):
    """Two 3x3 convolutions: a small, deterministic semantic model."""

    def __init__(self, in_channels: int = 3, num_classes: int = 4) -> None:
        super().__init__()
        self.a = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.b = nn.Conv2d(8, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.b(torch.relu(self.a(x)))}


def _stand_in(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return ConvStandIn()


def _image(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return cv2.GaussianBlur(rng.integers(0, 256, size=shape).astype(np.uint8), (5, 5), 0)


def _nan_weights(model: nn.Module) -> nn.Module:
    """Weights gone NaN after loading (the load check never saw them)."""
    with torch.no_grad():
        model.b.bias[0] = float("nan")
    return model


def test_folder_prediction_writes_palette_masks_that_read_back(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    grey, rgb = _image(40, 50, channels=1), _image(31, 29)
    cv2.imwrite(str(images / "a.png"), grey)
    cv2.imwrite(str(images / "b.bmp"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (images / "broken.png").write_bytes(b"not an image")
    labels = LabelSet.with_count(4)
    predictor = Predictor(_stand_in(), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu", tile_size=24, tile_overlap=8)
    seen: list[Progress] = []
    result = predict_folder(predictor, sorted(images.iterdir()), tmp_path / "out", labels, progress=seen.append)
    assert [p.name for p in result.written.values()] == ["a.png", "b.png"]
    assert [s.path.name for s in result.skipped.values()] == ["broken.png"] and result.skipped["broken.png"].reason
    assert [p.done for p in seen] == [1, 2, 3] and seen[-1].stage == "predict folder"
    for path, image in zip(result.written.values(), (grey, rgb), strict=True):
        with __import__("PIL.Image").Image.open(path) as written:
            assert written.mode == "P"
        back = read_class_mask(path, labels)
        np.testing.assert_array_equal(back, predictor.predict(image).classes)


def test_folder_prediction_refuses_names_that_would_collide(tmp_path: Path) -> None:
    predictor = Predictor(_stand_in(), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu")
    with pytest.raises(ValueError, match="x.png"):
        predict_folder(predictor, [tmp_path / "a" / "x.png", tmp_path / "b" / "x.jpg"], tmp_path / "out", LabelSet.with_count(4))
    with pytest.raises(ValueError, match="label set"):
        predict_folder(predictor, [], tmp_path / "out", LabelSet.with_count(2))


def test_folder_prediction_can_be_cancelled(tmp_path: Path) -> None:
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), _image(20, 20, channels=1))
    token = CancelToken()
    token.cancel()
    predictor = Predictor(_stand_in(), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu")
    with pytest.raises(Cancelled):
        predict_folder(predictor, [tmp_path / "a.png", tmp_path / "b.png"], tmp_path / "out", LabelSet.with_count(4), cancel=token)
    assert not list((tmp_path / "out").glob("*.png"))


def test_folder_prediction_skips_images_a_broken_model_fails_on(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), _image(20, 20, channels=1))
    predictor = Predictor(_nan_weights(_stand_in()), normalisation=InputNormalisation.unit(), num_classes=4, device="cpu")
    result = predict_folder(predictor, [tmp_path / "a.png"], tmp_path / "out", LabelSet.with_count(4))
    assert not result.written and "NaN or infinite" in result.skipped["a.png"].reason
    assert not list((tmp_path / "out").glob("*.png"))
