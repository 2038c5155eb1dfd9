"""Benchmark: images per second at 512 x 512 on a CUDA GPU, our models against the libraries called directly.

    python bench/bench_gpu.py                      # on CUDA: UNet-ResNet50 vs smp, Mask R-CNN vs torchvision
    python bench/bench_gpu.py --device cpu --quick # a smoke run of the same code on the CPU

In one run, interleaved rounds (ours, theirs, ours, ...), the best round of each counting:

- **UNet-ResNet50**: our ``unet`` (encoder ``resnet50``, smp's decoder widths, nearest upsampling) through our
  :class:`~segstudio.models.predictor.Predictor` (uint8 image in, class mask out: normalisation, channels-last,
  autocast, argmax, copy back) against ``smp.Unet("resnet50", encoder_weights=None)`` called on a tensor already on
  the GPU, with the same settings: eval, inference mode, channels-last, autocast to bfloat16 (float16 where the GPU
  has no bfloat16), batch 1 (how the app predicts) and a batched line (``--batch``) of the bare model calls.
- **Mask R-CNN ResNet-50 FPN**: our Predictor (numpy in, an instance mask out, autocast) against torchvision's
  ``maskrcnn_resnet50_fpn(weights=None)`` called on a tensor on the GPU, same state dict, same resize (512), every
  detection kept (``box_score_thresh=0``) so the output conversion does real work.

Both are randomly initialised (nothing downloads); speed does not depend on the weights. Ours does strictly
more work per image (numpy conversion in, the mask out, the copy back to the host), so the ratio is that price.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.models.normalisation import InputNormalisation  # noqa: E402
from segstudio.models.predictor import Predictor, semantic_logits  # noqa: E402
from segstudio.models.registry import ModelConfig, build_model  # noqa: E402

SIZE = 512


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(run: Callable[[], object], images: int, device: torch.device, repeats: int) -> float:
    """The best of ``repeats`` rounds of ``run`` (which handles ``images`` images), as images per second."""
    best = float("inf")
    for _ in range(repeats):
        _synchronise(device)
        start = time.perf_counter()
        run()
        _synchronise(device)
        best = min(best, time.perf_counter() - start)
    return images / best


def interleaved(runs: dict[str, tuple[Callable[[], object], int]], device: torch.device, rounds: int, repeats: int) -> dict[str, float]:
    best: dict[str, float] = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):
        for name, (run, images) in runs.items():
            best[name] = max(best[name], images_per_second(run, images, device, repeats))
    return best


def amp_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


def unet_figures(device: torch.device, args: argparse.Namespace) -> dict[str, float]:
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    ours = build_model(ModelConfig("unet", 2, encoder="resnet50", options={"upsampling": "nearest"}))
    theirs = smp.Unet("resnet50", encoder_weights=None, classes=2).eval().to(device).to(memory_format=torch.channels_last)
    predictor = Predictor(ours, normalisation=InputNormalisation.imagenet(), num_classes=2, device=device, amp=True)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    one = torch.randn(1, 3, SIZE, SIZE, device=device).contiguous(memory_format=torch.channels_last)
    batch = torch.randn(args.batch, 3, SIZE, SIZE, device=device).contiguous(memory_format=torch.channels_last)
    dtype = amp_dtype(device)
    count = args.images

    def ours_app() -> None:
        for _ in range(count):
            predictor.predict(image)

    def theirs_call(x: torch.Tensor, times: int) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode(), torch.autocast(device.type, dtype=dtype):
                for _ in range(times):
                    theirs(x).argmax(1)
        return run

    def ours_call(x: torch.Tensor, times: int) -> Callable[[], None]:
        model = predictor.model

        def run() -> None:
            with torch.inference_mode(), torch.autocast(device.type, dtype=dtype):
                for _ in range(times):
                    semantic_logits(model(x)).argmax(1)
        return run

    ours_app()  # warm-up (cuDNN autotuning, allocator)
    theirs_call(one, 2)()
    figures = interleaved(
        {
            "unet ours, app path (uint8 in, mask out), batch 1": (ours_app, count),
            "unet smp, model call, batch 1": (theirs_call(one, count), count),
            f"unet ours, model call, batch {args.batch}": (ours_call(batch, max(1, count // args.batch)), args.batch * max(1, count // args.batch)),
            f"unet smp, model call, batch {args.batch}": (theirs_call(batch, max(1, count // args.batch)), args.batch * max(1, count // args.batch)),
        },
        device, args.rounds, args.repeats,
    )  # fmt: skip
    return figures


def mask_rcnn_figures(device: torch.device, args: argparse.Namespace) -> dict[str, float]:
    import torchvision

    settings = {"min_size": SIZE, "max_size": SIZE, "box_score_thresh": 0.0}
    torch.manual_seed(0)
    ours = build_model(ModelConfig("mask_rcnn", 2, 3, "resnet50", settings)).eval().to(device)
    theirs = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=2, **settings
    ).eval().to(device)
    theirs.load_state_dict(ours.state_dict())
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    tensor = torch.from_numpy(image).permute(2, 0, 1).float().div(255).to(device)
    dtype = amp_dtype(device)
    count = max(1, args.images // 4)

    predictor = Predictor(ours, task="instance", normalisation=InputNormalisation.unit(3), num_classes=2, device=device,
                          amp=True, score_threshold=0.0)

    def ours_app() -> None:
        for _ in range(count):
            predictor.predict(image)

    def theirs_call() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype):
            for _ in range(count):
                theirs([tensor])

    ours_app()
    theirs_call()
    return interleaved(
        {"mask r-cnn ours, app path (uint8 in, instances out)": (ours_app, count),
         "mask r-cnn torchvision, model call": (theirs_call, count)},
        device, args.rounds, args.repeats,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=64, help="images per timed round (UNet; Mask R-CNN a quarter)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--repeats", type=int, default=2, help="timings per model per round (best counts)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 images, batch 2, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.batch, args.rounds, args.repeats = 2, 2, 1, 1
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: run with --device cpu for a smoke run")
        return 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    print(f"{name}; torch {torch.__version__}; {SIZE}x{SIZE}; autocast {amp_dtype(device)}; channels-last")
    figures = {**unet_figures(device, args), **mask_rcnn_figures(device, args)}
    width = max(map(len, figures))
    for label, rate in figures.items():
        print(f"  {label:<{width}}  {rate:8.1f} images/s")
    pairs = [
        ("unet ours, app path (uint8 in, mask out), batch 1", "unet smp, model call, batch 1"),
        (f"unet ours, model call, batch {args.batch}", f"unet smp, model call, batch {args.batch}"),
        ("mask r-cnn ours, app path (uint8 in, instances out)", "mask r-cnn torchvision, model call"),
    ]
    for ours, theirs in pairs:
        print(f"ratio {ours} / {theirs}: {figures[ours] / figures[theirs]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
