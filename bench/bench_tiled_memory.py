"""Peak memory of tiled prediction: bounded by the tile size, not the image size.

    python bench/bench_tiled_memory.py [--classes 12] [--tile 512]

Each measurement runs in a fresh subprocess (peak RSS is a process-lifetime high-water mark). It loads a
UNet-ResNet50, makes the image, records the RSS, predicts, and reports how far the peak rose above that
point: the memory the prediction itself needed, the input image excluded and the output mask included.
Compared in one run: 1024x1024 and 4096x4096 images predicted in 512 px tiles (the target: about the same
peak, since only a tile's activations and an overlap band are ever held), and a 2048x2048 image predicted
whole (for scale: what untiled prediction costs, growing with the image).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
sys.path.insert(0, {repo!r})
from segstudio.models.registry import ModelConfig, build_model
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.predictor import Predictor

size, tile, classes = {size}, {tile}, {classes}
torch.manual_seed(0)
model = build_model(ModelConfig("unet", num_classes=classes, encoder="resnet50"))
predictor = Predictor(model, normalisation=InputNormalisation.imagenet(), num_classes=classes, device="cpu",
                      tile_size=tile)
image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
with torch.inference_mode():  # warm the allocator and oneDNN with one small window first
    predictor.model(torch.zeros(1, 3, 64, 64))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import gc; gc.collect()
started = time.perf_counter()
result = predictor.predict(image)
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"size": size, "tile": tile, "peak_rise_mib": (after - before) / 1024.0,
                  "seconds": seconds, "mask_mib": result.classes.nbytes / 2**20}}))
"""


def measure(size: int, tile: int | None, classes: int) -> dict[str, float]:
    code = _CHILD.format(repo=str(REPO), size=size, tile=tile, classes=classes)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--tile", type=int, default=512)
    args = parser.parse_args()
    started = time.perf_counter()
    small = measure(1024, args.tile, args.classes)
    large = measure(4096, args.tile, args.classes)
    whole = measure(2048, None, args.classes)
    print(f"UNet-ResNet50, {args.classes} classes, CPU; peak RSS rise during predict() (input image excluded)")
    for name, row in (("1024x1024, tiles", small), ("4096x4096, tiles", large), ("2048x2048, whole", whole)):
        tile = f"{args.tile} px" if row["tile"] not in (None, "None") else "none"
        print(f"  {name:<18} tile {tile:>7}: {row['peak_rise_mib']:8.1f} MiB  ({row['seconds']:.1f} s; output mask {row['mask_mib']:.1f} MiB)")
    pixels = (4096 / 1024) ** 2
    ratio = large["peak_rise_mib"] / max(small["peak_rise_mib"], 1.0)
    print(f"  4096^2 has {pixels:.0f}x the pixels of 1024^2; its tiled peak is {ratio:.2f}x ({large['peak_rise_mib'] - small['peak_rise_mib']:.1f} MiB more, "
          f"of which {large['mask_mib'] - small['mask_mib']:.1f} MiB is the bigger output mask)")
    print(f"  {'PASS' if ratio < 2.0 else 'FAIL'}: tiled peak memory follows the tile size, not the image size (4096^2 / 1024^2 < 2x)")
    print(f"total {time.perf_counter() - started:.0f} s; this process's own peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
