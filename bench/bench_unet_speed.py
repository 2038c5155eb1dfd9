"""Benchmark: our U-Net-ResNet50 against segmentation_models_pytorch's, timed in the same run.

    python bench/bench_unet_speed.py              # 512x512, best of 7 interleaved rounds
    python bench/bench_unet_speed.py --repeats 3  # a quicker smoke run

Target: forward time of ``unet`` (encoder ``resnet50``, nearest upsampling, smp's decoder widths) at 512x512,
batch 1, eval mode, ``torch.inference_mode()``, on the CPU, is no slower than
``smp.Unet("resnet50", encoder_weights=None)`` with the same thread count. Rounds alternate the two models
(ours, smp, ours, smp, ...) so drifting machine load hits both alike; each model's best round counts.
Both are randomly initialised (nothing downloads); the timing does not depend on the weights.

Where our speed comes from: the same layers and arithmetic as smp (its checkpoints load and give the same
outputs), run in channels-last memory layout, for which oneDNN has faster CPU convolutions. For transparency
the script also times smp converted to channels-last by hand: a reference line, not the target.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from collections.abc import Callable

import torch

from segstudio.models.registry import ModelConfig, build_model

NUM_CLASSES = 2
SIZE = 512


def time_once(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per model (best counts)")
    parser.add_argument("--size", type=int, default=SIZE, help="input height and width (default 512)")
    args = parser.parse_args(argv)
    try:
        import segmentation_models_pytorch as smp
    except ImportError:
        print("segmentation_models_pytorch is not installed: pip install segmentation-models-pytorch")
        return 2

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    ours = build_model(
        ModelConfig("unet", NUM_CLASSES, encoder="resnet50", options={"upsampling": "nearest"})
    ).eval()
    theirs = smp.Unet("resnet50", encoder_weights=None, classes=NUM_CLASSES).eval()
    theirs_nhwc = copy.deepcopy(theirs).to(memory_format=torch.channels_last)
    x = torch.randn(1, 3, args.size, args.size)
    x_nhwc = x.contiguous(memory_format=torch.channels_last)

    def run_ours() -> object:
        with torch.inference_mode():
            return ours(x)["out"]

    def run_theirs() -> object:
        with torch.inference_mode():
            return theirs(x)

    def run_theirs_nhwc() -> object:
        with torch.inference_mode():
            return theirs_nhwc(x_nhwc)

    print(f"python {platform.python_version()}, torch {torch.__version__}, smp {smp.__version__}, "
          f"{platform.machine()}, {threads} threads")
    print(f"input 1x3x{args.size}x{args.size}, eval, inference_mode, CPU; {args.repeats} interleaved rounds")
    run_ours(), run_theirs(), run_theirs_nhwc()  # warm-up: first-call allocations and kernel selection
    ours_times: list[float] = []
    theirs_times: list[float] = []
    nhwc_times: list[float] = []
    for _ in range(args.repeats):
        ours_times.append(time_once(run_ours))
        theirs_times.append(time_once(run_theirs))
        nhwc_times.append(time_once(run_theirs_nhwc))
    best_ours, best_theirs = min(ours_times), min(theirs_times)
    ratio = best_ours / best_theirs
    print(f"ours  unet resnet50: best {best_ours * 1000:8.1f} ms  (all: "
          + ", ".join(f"{t * 1000:.0f}" for t in ours_times) + ")")
    print(f"smp   Unet resnet50: best {best_theirs * 1000:8.1f} ms  (all: "
          + ", ".join(f"{t * 1000:.0f}" for t in theirs_times) + ")")
    print(f"reference, not the target: smp Unet converted to channels-last by hand: best "
          f"{min(nhwc_times) * 1000:.1f} ms (ours/that = {best_ours / min(nhwc_times):.3f})")
    verdict = "PASS" if ratio <= 1.0 else "FAIL"
    print(f"ratio ours/smp = {ratio:.3f}  (target <= 1.000: no slower)  {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
