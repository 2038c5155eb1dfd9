"""Correction effort (issue 13): how many actions a labeler needs to bring a weak model's CamVid masks to the ground
truth, with region fixes against brush and fill alone.

    python bench/bench_correction_effort.py [--images 20] [--tolerance 0.01] [--weak-epochs 3] [--seed 0]

1. A weak model: a U-Net (classic encoder, 16 channels) trained from scratch on CamVid's *train* images for
   ``--weak-epochs`` epochs of one 256 px crop per image; it predicts the first ``--images`` *val* images.
2. Simulated labelers start each image from the prediction and stop once at most ``--tolerance`` (1 %) of the scored
   pixels differ from the ground truth. Each works on the largest error first and counts its actions (a key, a
   click or a stroke is one; choosing a class is one more whenever it changes):

   - **brush and fill** (the baseline): each error patch, a connected set of pixels the model gave class w where
     the truth is g, is one flood fill (click) when the patch is exactly the 4-connected region of w under the
     click, else brush strokes: one per 150 px of stroke, the brush as wide as the patch (its widest inscribed
     circle, 3 to 60 px), ``ceil(area / (width x 150))``. Generous to the brush: no stroke ever spills or misses.
   - **regions, set class** (S): "." to go to the next error region (largest first), then S with the region's
     class, when the truth is one class over the region; a region whose truth mixes classes is fixed with brush and
     fill as above. A labeler without the truth to copy works this way.
   - **regions, take the truth** (T): "." then T for every region: when a ground truth exists and the model is
     right elsewhere (a researcher fixing the model's errors against a reference).

Prints per image and totals, and the ratios brush / regions (the issue's target: >= 3x fewer actions).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
STROKE_LENGTH = 150
MAX_BRUSH = 60
MIN_BRUSH = 3


def _link(root: Path, images: str, masks: str, names: list[str] | None = None) -> Path:
    """CamVid's ``images`` and ``masks`` folders linked (not copied) as a project, with CamVid's label set (11
    classes, 11 = Unlabelled: left out of training and of the figures, as CamVid means it)."""
    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import write_label_set

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    write_label_set(root / "labels.toml", LabelSet.camvid())
    for path in sorted((SHARED / "camvid" / images).glob("*.png")):
        if names is None or path.stem in names:
            os.symlink(path, root / "images" / path.name)
            os.symlink(SHARED / "camvid" / masks / path.name, root / "masks" / path.name)
    return root


class Labeler:
    """Counts the actions of one way of working; ``current`` is the class selected."""

    def __init__(self) -> None:
        self.actions = 0
        self.current = -1

    def choose(self, class_id: int) -> None:
        if class_id != self.current:
            self.actions += 1
            self.current = class_id


def _patches(working: np.ndarray, truth: np.ndarray, wrong: np.ndarray) -> list[tuple[int, int, int, np.ndarray]]:
    """Connected error patches of one (working class, true class) pair: (area, w, g, mask), largest first."""
    found = []
    pairs = np.unique(np.stack([working[wrong], truth[wrong]], axis=1), axis=0) if wrong.any() else []
    for w, g in pairs:
        marked = (wrong & (working == w) & (truth == g)).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
        for label in range(1, count):
            found.append((int(stats[label, cv2.CC_STAT_AREA]), int(w), int(g), labels == label))
    found.sort(key=lambda entry: -entry[0])
    return found


def _brush_fix(labeler: Labeler, working: np.ndarray, patch: np.ndarray, w: int, g: int) -> None:
    """Fix one patch with a fill (when it is exactly the 4-connected region of ``w`` there) or brush strokes."""
    labeler.choose(g)
    seed = tuple(int(v) for v in np.argwhere(patch)[0])
    same = (working == w).astype(np.uint8)
    fill = np.zeros((working.shape[0] + 2, working.shape[1] + 2), np.uint8)
    cv2.floodFill(same, fill, (seed[1], seed[0]), 2, 0, 0, 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8))
    if np.array_equal(fill[1:-1, 1:-1].astype(bool), patch):
        labeler.actions += 1
    else:
        distance = cv2.distanceTransform(np.pad(patch, 1).astype(np.uint8), cv2.DIST_L2, 3)
        width = min(MAX_BRUSH, max(MIN_BRUSH, 2 * float(distance.max())))
        labeler.actions += max(1, math.ceil(int(patch.sum()) / (width * STROKE_LENGTH)))
    working[patch] = g


def brush_and_fill(prediction: np.ndarray, truth: np.ndarray, scored: np.ndarray, budget: int) -> int:
    """Patches largest first until at most ``budget`` scored pixels are wrong. Patches are disjoint and a fix only
    writes its own pixels, so one listing serves the whole image (whether a fill works is checked at the time)."""
    labeler, working = Labeler(), prediction.copy()
    wrong = scored & (working != truth)
    left = int(wrong.sum())
    for area, w, g, patch in _patches(working, truth, wrong):
        if left <= budget:
            break
        _brush_fix(labeler, working, patch, w, g)
        left -= area
    return labeler.actions


def regions(prediction: np.ndarray, truth: np.ndarray, scored: np.ndarray, budget: int, labels, *,  # noqa: ANN001
            take_truth: bool) -> int:
    """Error regions largest first (as "." goes), until at most ``budget`` scored pixels are wrong."""
    from segstudio.core.error_regions import error_regions
    from segstudio.core.geometry import Rect
    from segstudio.core.mask_comparison import fill_error_kinds

    labeler, working = Labeler(), prediction.copy()
    errors = np.empty(truth.shape, np.uint8)
    fill_error_kinds(errors, truth, working, Rect.full(truth.shape), labels.background, labels.ignore_index)
    left = int((scored & (working != truth)).sum())
    for region in error_regions(errors):
        if left <= budget:
            break
        inside = region.mask(truth.shape) & scored
        labeler.actions += 1  # "." to the next region
        classes = np.unique(truth[inside])
        if take_truth:
            labeler.actions += 1  # T
        elif len(classes) == 1:
            labeler.choose(int(classes[0]))
            labeler.actions += 1  # S
        else:  # mixed truth: brush and fill, patch by patch, inside the region
            for _area, w, g, patch in _patches(working, truth, inside & (working != truth)):
                _brush_fix(labeler, working, patch, w, g)
        left -= int((inside & (working != truth)).sum())
        working[inside] = truth[inside]
    return labeler.actions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--weak-epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weak", type=Path, help="use this weak model's checkpoint instead of training one")
    args = parser.parse_args()

    import torch

    from segstudio.app.loaded_model import load_model
    from segstudio.app.project_predictions import predict_all
    from segstudio.app.training import train
    from segstudio.io.datasets import open_dataset
    from segstudio.io.mask_files import read_class_mask
    from segstudio.models.training import TrainingConfig

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="segstudio-effort-"))
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", str(tmp / "user-data"))
    config = TrainingConfig(architecture="unet", encoder="classic", options={"base_channels": 16},
                            epochs=args.weak_epochs, crop_size=256, batch_size=4, seed=args.seed, device="cpu")
    started = time.monotonic()
    if args.weak is None:
        checkpoint = train(_link(tmp / "train", "train", "trainannot"), config, tmp / "weak.safetensors").checkpoint
        print(f"weak model: {args.weak_epochs} epochs on CamVid train in {time.monotonic() - started:.0f} s "
              f"({checkpoint})")
    else:
        checkpoint = args.weak
    names = sorted(p.stem for p in (SHARED / "camvid" / "val").glob("*.png"))[: args.images]
    dataset = open_dataset(_link(tmp / "val", "val", "valannot", names))
    labels = dataset.spec.labels
    written = predict_all(load_model(checkpoint, "cpu"), dataset).written

    totals = {"brush": 0, "set class": 0, "take truth": 0}
    print(f"{'image':<16}{'error %':>8}{'brush+fill':>11}{'regions S':>10}{'regions T':>10}")
    ious = []
    for sample in dataset.samples:
        source = dataset.ground_truth_source(sample)
        truth = read_class_mask(dataset.ground_truth(sample), labels, value_map=source.value_map if source else None)
        prediction = read_class_mask(written[sample.key], labels)
        scored = truth != labels.ignore_index if labels.ignore_index is not None else np.ones(truth.shape, bool)
        budget = int(args.tolerance * scored.sum())
        error = float((scored & (prediction != truth)).sum() / scored.sum())
        counts = (brush_and_fill(prediction, truth, scored, budget),
                  regions(prediction, truth, scored, budget, labels, take_truth=False),
                  regions(prediction, truth, scored, budget, labels, take_truth=True))
        for name, count in zip(totals, counts, strict=True):
            totals[name] += count
        ious.append(1 - error)
        print(f"{sample.name:<16}{100 * error:>8.1f}{counts[0]:>11}{counts[1]:>10}{counts[2]:>10}")
    brush, by_class, by_truth = totals.values()
    print(f"total over {len(dataset.samples)} images (weak model's pixel accuracy {np.mean(ious):.3f}): brush and fill "
          f"{brush} actions, regions with S {by_class} ({brush / by_class:.1f}x fewer), regions with T {by_truth} "
          f"({brush / by_truth:.1f}x fewer); tolerance {args.tolerance:.0%} of scored pixels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
