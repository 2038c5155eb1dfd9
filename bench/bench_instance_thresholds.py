"""How long re-thresholding an instance model's kept detections takes: InstanceCandidates.resolve() (and the class
mask the window hands the session) for 100 candidates on a 1024x1024 image, as a ratio against one np.copy of
the image-size id array, measured in the same process.

    python bench/bench_instance_thresholds.py [--candidates 100] [--size 1024] [--repeats 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from segstudio.core.instance_candidates import InstanceCandidates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_metrics import best_of  # noqa: E402  (one timing rule for every bench)


def soft_masks(rng: np.random.Generator, count: int, size: int) -> InstanceCandidates:
    """``count`` soft discs of 20..200 px radius (Mask R-CNN's pasted masks are zero outside their box)."""
    boxes, crops = [], []
    for _ in range(count):
        radius = int(rng.integers(20, 200))
        cy, cx = (int(v) for v in rng.integers(0, size, 2))
        y0, y1, x0, x1 = max(cy - radius, 0), min(cy + radius, size), max(cx - radius, 0), min(cx + radius, size)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        probability = np.clip(1.0 - np.hypot(yy - cy, xx - cx) / radius, 0, 1)
        boxes.append((y0, x0, y1, x1))
        crops.append(np.round(probability * 255).astype(np.uint8))
    return InstanceCandidates((size, size), rng.integers(1, 5, count), rng.uniform(0, 1, count).astype(np.float32),
                              np.array(boxes), tuple(crops))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    candidates = soft_masks(np.random.default_rng(0), args.candidates, args.size)
    ids = np.zeros((args.size, args.size), dtype=np.uint16)
    baseline = best_of(lambda: np.copy(ids), args.repeats * 5)
    resolve = best_of(lambda: candidates.resolve(0.5, 0.5), args.repeats)
    with_classes = best_of(lambda: candidates.resolve(0.3, 0.4).to_class_mask(np.uint8), args.repeats)
    kept = candidates.resolve(0.5, 0.5).num_instances
    print(f"{args.candidates} candidates ({candidates.nbytes / 1e6:.1f} MB kept) on {args.size}x{args.size}; "
          f"{kept} kept at 0.5/0.5")
    print(f"baseline np.copy of the uint16 id array: {baseline * 1e3:.3f} ms")
    print(f"resolve():                  {resolve * 1e3:.2f} ms = {resolve / baseline:.1f}x baseline")
    print(f"resolve() + class mask:     {with_classes * 1e3:.2f} ms = {with_classes / baseline:.1f}x baseline")


if __name__ == "__main__":
    main()
