"""Benchmark: our Mask R-CNN prediction path against calling torchvision's model directly, same run, same weights.

    python bench/bench_mask_rcnn.py            # ResNet-50 and MobileNet-V3, 512 px, best of 3 each
    python bench/bench_mask_rcnn.py --quick    # MobileNet-V3 only, best of 2: a smoke run

Target: our path is no more than 5% slower than torchvision's model call.

- "ours" is what the app runs for one image: ``predict_instances(model, image)``: uint8 numpy image -> float
  tensor, our model (torchvision's MaskRCNN with our channel-checking transform), then the conversion of the
  detections into an :class:`InstanceMask` (ids by score, overlaps resolved).
- "torchvision" is ``torchvision.models.detection.maskrcnn_resnet50_fpn(...)`` (or the MobileNet-V3 build) called on
  a float tensor prepared once, outside the timing, with the same state dict: the bare model call.

So "ours" does strictly more work (the numpy conversion in and the instance-mask conversion out); the ratio is
the price of that work plus any overhead of our wrapper. Random weights give random detections; to make the
output conversion do real work, both models keep every detection (``box_score_thresh=0``, up to 100 masks
pasted at full image size) and ``predict_instances`` keeps them all (``score_threshold=0``).
The model-call line times our model and torchvision's on the same tensor (no conversions at all).
Runs are interleaved (ours, theirs, ours, ...) and the best of N is kept, on the CPU, in eval and inference mode.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from segstudio.models.architectures.mask_rcnn import image_to_tensor, instances_from_prediction, predict_instances
from segstudio.models.registry import ModelConfig, build_model

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
IMAGE = DATA / "pennfudan" / "PNGImages" / "FudanPed00039.png"  # 493 x 487
SIZE = 512
TARGET = 1.05


def interleaved_best(functions: list[Callable[[], object]], repeats: int) -> list[float]:
    """Best time of each function over ``repeats`` rounds, the functions alternating within every round."""
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(repeats):
        for function, record in zip(functions, times, strict=True):
            start = time.perf_counter()
            function()
            record.append(time.perf_counter() - start)
    return [min(record) for record in times]


def torchvision_model(encoder: str, num_classes: int, **options: object) -> torch.nn.Module:
    if encoder == "resnet50":
        return torchvision.models.detection.maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=num_classes, **options
        )
    # torchvision has no MobileNet Mask R-CNN builder: its fast detector's backbone and anchors + a mask head,
    # exactly what our builder assembles (the state dicts match key for key).
    faster = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=num_classes
    )
    return torchvision.models.detection.MaskRCNN(
        faster.backbone,
        num_classes=num_classes,
        rpn_anchor_generator=faster.rpn.anchor_generator,
        rpn_score_thresh=0.05,
        **options,
    )


def run(encoder: str, image: np.ndarray, repeats: int) -> tuple[float, float]:
    torch.manual_seed(0)
    options = {"min_size": SIZE, "max_size": 1333, "box_score_thresh": 0.0}
    ours = build_model(ModelConfig("mask_rcnn", 2, encoder=encoder, options=options)).eval()
    theirs = torchvision_model(encoder, 2, **options).eval()
    theirs.load_state_dict(ours.state_dict())
    tensor = image_to_tensor(image).contiguous()

    def our_path() -> object:
        return predict_instances(ours, image, score_threshold=0.0)

    def our_call() -> object:
        with torch.inference_mode():
            return ours([tensor])

    def their_call() -> object:
        with torch.inference_mode():
            return theirs([tensor])

    # Warm-up (allocator, kernels), which also checks that both models give the same detections.
    reference, mine, detections = their_call()[0], our_call()[0], our_path()  # type: ignore[index]
    same = all(torch.equal(mine[key], reference[key]) for key in reference)
    best_path, best_theirs, best_call = interleaved_best([our_path, their_call, our_call], repeats)
    path_ratio, call_ratio = best_path / best_theirs, best_call / best_theirs

    # The work our path adds around the model, timed alone (cheap, so many repeats: robust to machine noise).
    def conversions() -> object:
        image_to_tensor(image)
        return instances_from_prediction(reference, score_threshold=0.0)

    (added,) = interleaved_best([conversions], 20)
    print(f"\n{encoder}: {image.shape[1]}x{image.shape[0]} image, model resizes to {SIZE} px, "
          f"{len(reference['scores'])} detections, {detections.num_instances} visible instances; "
          f"same outputs as torchvision: {same}")
    print(f"  torchvision model call           {best_theirs * 1000:9.1f} ms  (best of {repeats})")
    print(f"  our model call, same tensor      {best_call * 1000:9.1f} ms  ratio {call_ratio:.3f}")
    print(f"  ours: numpy -> InstanceMask      {best_path * 1000:9.1f} ms  ratio {path_ratio:.3f}  "
          f"target <= {TARGET:.2f}: {'PASS' if path_ratio <= TARGET else 'FAIL'}")
    print(f"  conversions alone (in + out)     {added * 1000:9.1f} ms  = {added / best_theirs:.1%} of the model call "
          f"(the model-call ratio above shows this machine's timing noise)")
    return path_ratio, call_ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="MobileNet-V3 only, best of 2")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per backbone (default 3)")
    args = parser.parse_args()
    if not IMAGE.is_file():
        print(f"Penn-Fudan image not found at {IMAGE} (set SEGSTUDIO_SHARED_DATA)")
        return 2
    image = np.asarray(Image.open(IMAGE).convert("RGB"))
    repeats = {"mobilenet_v3": 2} if args.quick else {"resnet50": 3, "mobilenet_v3": 3}
    if args.repeats:
        repeats = dict.fromkeys(repeats, args.repeats)
    print(f"Mask R-CNN prediction benchmark: torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, CPU")
    started = time.perf_counter()
    results = {encoder: run(encoder, image, rounds) for encoder, rounds in repeats.items()}
    passed = all(path <= TARGET for path, _ in results.values())
    print(f"\noverall (ours / torchvision, <= {TARGET:.2f}): {'PASS' if passed else 'FAIL'}  "
          f"[{time.perf_counter() - started:.0f} s]")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
