"""Benchmark: layer compositing into a caller-owned RGBA buffer, by rectangle, at steps 1 and 8.

    python bench/bench_compositing.py            # 8192x8192 against 1024x1024
    python bench/bench_compositing.py --quick    # 4096x4096, fewer repeats: a smoke run

All five layers are on (image, ground truth, prediction, working mask, error map; the prediction as outlines, the
error map hatched as the canvas draws it), the worst case the canvas meets. Timed:
  (a) one brush dab's 64x64 rectangle at step 1, on the big image and on a 1024x1024 one: the ratio should be
      ~1 (cost follows the rectangle, not the image);
  (b) a 1920x1080 image region (what a full-HD viewport shows at 100 %) at step 1, and the same region at
      step 8 (240x135 buffer pixels);
  (c) the whole big image at step 8 (a 1024x1024 buffer: "fit to window" on a 1080p screen), with the image
      area-averaged and nearest-sampled.
Times are medians over dabs at random places (each dab touches memory the last one did not, as painting does).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from segstudio.core.compositing import ImageSampling, composite, out_shape
from segstudio.core.error_map import error_map
from segstudio.core.geometry import Rect
from segstudio.core.image_display import ImageDisplay
from segstudio.core.labels import LabelSet
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes

DAB = 64


def scene(size: int, seed: int) -> tuple[np.ndarray, list[tuple[LayerKind, np.ndarray, LayerStyle]]]:
    """A smooth RGB image and blobby 12-class masks (nearest-upscaled noise), like real data in run length."""
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8), (size, size),
                       interpolation=cv2.INTER_LINEAR)

    def blobs() -> np.ndarray:
        small = rng.integers(0, 12, (size // 64, size // 64), dtype=np.uint8)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST)

    truth, prediction = blobs(), blobs()
    working = prediction.copy()
    errors = error_map(truth, working, ignore_index=11)
    layers = [
        (LayerKind.GROUND_TRUTH, truth, LayerStyle(opacity=0.4)),
        (LayerKind.PREDICTION, prediction, LayerStyle(opacity=0.4, outline_only=True)),
        (LayerKind.WORKING, working, LayerStyle(opacity=0.6)),
        (LayerKind.ERROR_MAP, errors, LayerStyle(opacity=0.5, hatched=True)),  # as the canvas draws it
    ]
    return image, layers


def median_time(function: Callable[[int], object], count: int) -> float:
    times = []
    for index in range(count):
        start = time.perf_counter()
        function(index)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4096x4096 and fewer repeats")
    args = parser.parse_args()
    big_size, small_size = (4096, 1024) if args.quick else (8192, 1024)
    dabs = 100 if args.quick else 300
    labels = LabelSet.camvid()
    palettes = Palettes.for_labels(labels)
    display = ImageDisplay.full_range(np.uint8)
    print(f"segstudio compositing benchmark  python {platform.python_version()}  numpy {np.__version__}  "
          f"opencv {cv2.__version__}  {platform.machine()}")

    big_image, big_layers = scene(big_size, 1)
    small_image, small_layers = scene(small_size, 2)
    big_out = np.zeros(out_shape(big_image.shape, 1), dtype=np.uint8)
    small_out = np.zeros(out_shape(small_image.shape, 1), dtype=np.uint8)
    composite(big_out, Rect.full(big_image.shape), image=big_image, layers=big_layers, palettes=palettes)
    composite(small_out, Rect.full(small_image.shape), image=small_image, layers=small_layers, palettes=palettes)

    rng = np.random.default_rng(7)

    def dab_rects(size: int) -> list[Rect]:
        corners = rng.integers(0, size - DAB, (dabs, 2))
        return [Rect(int(y), int(x), int(y) + DAB, int(x) + DAB) for y, x in corners]

    big_rects, small_rects = dab_rects(big_size), dab_rects(small_size)

    def big_dab(i: int) -> None:
        composite(big_out, big_rects[i], image=big_image, layers=big_layers, palettes=palettes, display=display)

    def small_dab(i: int) -> None:
        composite(small_out, small_rects[i], image=small_image, layers=small_layers, palettes=palettes, display=display)

    # Alternate the two so machine load hits both alike.
    big_times, small_times = [], []
    for i in range(dabs):
        for function, record in ((big_dab, big_times), (small_dab, small_times)):
            start = time.perf_counter()
            function(i)
            record.append(time.perf_counter() - start)
    big_dab_time, small_dab_time = statistics.median(big_times), statistics.median(small_times)

    step8_out = np.zeros(out_shape(big_image.shape, 8), dtype=np.uint8)

    def big_dab_step8(i: int) -> None:
        composite(step8_out, big_rects[i], image=big_image, layers=big_layers, palettes=palettes, step=8,
                  display=display)

    step8_dab = median_time(big_dab_step8, dabs)

    region = Rect(1000, 1000, 1000 + 1080, 1000 + 1920)
    repeats = 5 if args.quick else 11

    def viewport_step1(_: int) -> None:
        composite(big_out, region, image=big_image, layers=big_layers, palettes=palettes, display=display)

    def viewport_step8(_: int) -> None:
        composite(step8_out, region, image=big_image, layers=big_layers, palettes=palettes, step=8, display=display)

    def whole_step8(sampling: ImageSampling) -> Callable[[int], None]:
        def run(_: int) -> None:
            composite(step8_out, Rect.full(big_image.shape), image=big_image, layers=big_layers, palettes=palettes,
                      step=8, display=display, sampling=sampling)
        return run

    port1 = median_time(viewport_step1, repeats)
    port8 = median_time(viewport_step8, repeats)
    whole_area = median_time(whole_step8(ImageSampling.AREA), repeats)
    whole_nearest = median_time(whole_step8(ImageSampling.NEAREST), repeats)

    ms = 1e3
    print(f"image {big_size}x{big_size} vs {small_size}x{small_size}, 4 mask layers + image, medians")
    print(f"  (a) 64x64 dab rect, step 1, {big_size}^2:        {big_dab_time * ms:8.3f} ms")
    print(f"      64x64 dab rect, step 1, {small_size}^2:        {small_dab_time * ms:8.3f} ms")
    print(f"      ratio {big_size}^2 / {small_size}^2:                {big_dab_time / small_dab_time:8.2f}x   (target ~1)")
    print(f"      64x64 dab rect, step 8, {big_size}^2:        {step8_dab * ms:8.3f} ms")
    print(f"  (b) 1920x1080 region, step 1 (1920x1080 out):  {port1 * ms:8.2f} ms")
    print(f"      1920x1080 region, step 8 (240x135 out):    {port8 * ms:8.2f} ms")
    print(f"  (c) whole {big_size}^2, step 8 ({big_size // 8}^2 out), area:    {whole_area * ms:8.2f} ms")
    print(f"      whole {big_size}^2, step 8 ({big_size // 8}^2 out), nearest: {whole_nearest * ms:8.2f} ms")


if __name__ == "__main__":
    main()
