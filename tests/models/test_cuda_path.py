"""The CUDA path, on a machine with a GPU (``pytest -m gpu``; skipped without one): mixed precision and channels-last
training, tiled prediction, Mask R-CNN, and torchrun with NCCL when there are two GPUs. Real data where it matters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from segstudio.app.training import train
from segstudio.models.checkpoints import load_checkpoint
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.predictor import Predictor
from segstudio.models.registry import ModelConfig, build_model
from segstudio.models.training import TrainingConfig
from tests.real_data import pennfudan_copy

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

REPO = Path(__file__).resolve().parents[2]


def _camvid(shared_data: Path, root: Path, count: int = 6) -> Path:
    source = shared_data / "camvid"
    if not (source / "train").is_dir():
        pytest.skip("CamVid is not in the shared data")
    for split, truth, take in (("train", "trainannot", count), ("val", "valannot", 2)):
        for folder in (split, truth):
            (root / folder).mkdir(parents=True)
            for path in sorted((source / folder).iterdir())[:take]:
                (root / folder / path.name).write_bytes(path.read_bytes())
    return root


def test_mixed_precision_channels_last_training_on_cuda(shared_data: Path, tmp_path: Path) -> None:
    data = _camvid(shared_data, tmp_path / "camvid")
    config = TrainingConfig(architecture="unet", encoder="resnet50", epochs=2, batch_size=4, crop_size=128,
                            samples_per_epoch=8, device="cuda", seed=0)
    result = train(data, config, tmp_path / "unet.safetensors")
    assert all(np.isfinite(r.train_loss) for r in result.history)
    loaded = load_checkpoint(result.checkpoint)
    image = cv2.cvtColor(cv2.imread(str(next((data / "val").iterdir()))), cv2.COLOR_BGR2RGB)
    on_gpu = Predictor.from_checkpoint(loaded, device="cuda").predict(image, probabilities=True)
    on_cpu = Predictor.from_checkpoint(load_checkpoint(result.checkpoint), device="cpu").predict(image, probabilities=True)
    # autocast on the GPU, float32 on the CPU: the classes agree except at near-ties
    assert (on_gpu.classes == on_cpu.classes).mean() > 0.99


def test_a_resnet_unet_runs_channels_last_with_autocast_and_finite_gradients() -> None:
    model = build_model(ModelConfig("unet", 3, 3, "resnet50")).to("cuda").to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 128, 128, device="cuda").contiguous(memory_format=torch.channels_last)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    with torch.autocast("cuda", dtype=dtype):
        out = model(x)
    assert out.dtype == dtype and out.shape == (2, 3, 128, 128)
    out.float().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


def test_tiled_prediction_on_cuda_matches_whole_image(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig("unet", 3, 3, "classic", {"base_channels": 8}))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (700, 900, 3), dtype=np.uint8)
    kwargs = {"normalisation": InputNormalisation.imagenet(), "num_classes": 3, "device": "cuda", "amp": False}
    whole = Predictor(model, **kwargs).predict(image, probabilities=True)
    tiled = Predictor(model, tile_size=256, tile_overlap=64, **kwargs).predict(image, probabilities=True)
    assert tiled.classes.shape == (700, 900)
    # the receptive field is cut at tile borders: most pixels agree, all are plausible
    assert (tiled.classes == whole.classes).mean() > 0.9


def test_mask_rcnn_predicts_and_trains_on_cuda(shared_data: Path, tmp_path: Path) -> None:
    root = pennfudan_copy(shared_data, tmp_path / "pennfudan", count=6, shrink=1)
    config = TrainingConfig(architecture="mask_rcnn", encoder="resnet50", options={"min_size": 512, "max_size": 800},
                            epochs=1, batch_size=2, samples_per_epoch=4, device="cuda", seed=0)
    result = train(root, config, tmp_path / "people.safetensors")
    assert np.isfinite(result.history[0].train_loss)
    predictor = Predictor.from_checkpoint(load_checkpoint(result.checkpoint), device="cuda", score_threshold=0.0)
    image = cv2.cvtColor(cv2.imread(str(sorted((root / "PNGImages").iterdir())[0])), cv2.COLOR_BGR2RGB)
    prediction = predictor.predict(image)
    assert prediction.instances is not None and prediction.instances.shape == image.shape[:2]


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="torchrun with NCCL needs two GPUs")
def test_torchrun_trains_on_two_gpus_with_nccl(shared_data: Path, tmp_path: Path) -> None:
    data = _camvid(shared_data, tmp_path / "camvid")
    out = tmp_path / "two.safetensors"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "segstudio", "train",
         "--data", str(data), "--arch", "unet", "--encoder", "resnet50", "--epochs", "1", "--batch-size", "4",
         "--size", "128", "--samples-per-epoch", "8", "--device", "cuda", "--out", str(out)],
        capture_output=True, text=True, env=environment, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained by 2 processes") == 1 and out.is_file()
