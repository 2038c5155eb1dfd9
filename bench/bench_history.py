"""Undo history under a realistic editing session: 1,000 strokes on a big mask within a byte budget.

Run: ``python bench/bench_history.py`` (``--size 4096`` for a smaller mask). Pushes brush strokes (several
radius 5..30 dabs along a random path, sampled as sparsely as a fast mouse), some eraser strokes and some
flood fills through MaskDocument, then undoes everything and redoes everything and checks both bit-exact.
Timings are compared with baselines measured in the same run: copying each stroke's changed box once
(the least any box-based undo must do) and snapshotting the whole mask (what snapshot undo does).
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter

import cv2
import numpy as np

from segstudio.core.document import MaskDocument
from segstudio.core.editing import brush_stamp, eraser_stamp, flood_fill_stamp
from segstudio.core.geometry import Rect

MIB = 1024 * 1024


def initial_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """Blocky regions of classes 0..5, like a coarse prediction: flood fills find bounded regions."""
    coarse = rng.choice(6, size=(size // 96, size // 96), p=[0.4, 0.12, 0.12, 0.12, 0.12, 0.12]).astype(np.uint8)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_NEAREST)


def stroke_path(size: int, rng: np.random.Generator, radius: float) -> list[tuple[float, float]]:
    """A wandering path of 5..40 mouse samples, 0.3..1.5 radii apart."""
    x, y = rng.uniform(0, size, 2)
    heading = rng.uniform(0, 2 * math.pi)
    points = [(float(x), float(y))]
    for _ in range(int(rng.integers(5, 41)) - 1):
        heading += rng.normal(0, 0.4)
        step = radius * rng.uniform(0.3, 1.5)
        x, y = x + step * math.cos(heading), y + step * math.sin(heading)
        points.append((float(x), float(y)))
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192, help="mask side in pixels (default 8192)")
    parser.add_argument("--strokes", type=int, default=1000, help="undo steps to push (default 1000)")
    parser.add_argument("--budget-mib", type=float, default=64, help="history byte budget in MiB (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    budget = int(args.budget_mib * MIB)
    original = initial_mask(args.size, rng)
    doc = MaskDocument(original, byte_budget=budget)
    notified = [0]

    def listener(rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        # Stands in for the live-metrics tracker: it reads both boxes once, as a confusion update would.
        notified[0] += int(np.count_nonzero(before != after))

    doc.add_listener(listener)

    kinds: Counter[str] = Counter()
    rects: list[Rect] = []
    dabs = 0
    stamp_time = doc_time = 0.0
    started = time.perf_counter()
    dab_rects: list[Rect] = []
    no_ops = 0
    # Count only actions that change pixels (an eraser stroke over background records nothing).
    while len(rects) < args.strokes:
        if len(rects) % 10 == 9:
            kinds["flood fill"] += 1
            seed = (int(rng.integers(0, args.size)), int(rng.integers(0, args.size)))
            others = [c for c in range(6) if c != doc.mask[seed[1], seed[0]]]
            t0 = time.perf_counter()
            stamp = flood_fill_stamp(doc.mask, seed, int(rng.choice(others)), connectivity=4)
            t1 = time.perf_counter()
            rect = doc.apply(stamp)
            stamp_time += t1 - t0
            doc_time += time.perf_counter() - t1
        else:
            radius = float(rng.uniform(5, 30))
            points = stroke_path(args.size, rng, radius)
            erase = rng.random() < 0.1
            kinds["eraser stroke" if erase else "brush stroke"] += 1
            value = int(rng.integers(1, 6))
            doc.begin_stroke()
            for start, end in zip(points, points[1:]):
                t0 = time.perf_counter()
                if erase:
                    stamp = eraser_stamp(doc.mask, start, end, radius)
                else:
                    stamp = brush_stamp(doc.mask, start, end, radius, value)
                t1 = time.perf_counter()
                doc.apply(stamp)
                stamp_time += t1 - t0
                dab_rects.append(stamp.rect)
                doc_time += time.perf_counter() - t1
                dabs += 1
            t0 = time.perf_counter()
            rect = doc.end_stroke()
            doc_time += time.perf_counter() - t0
        if rect.is_empty:
            no_ops += 1
        else:
            rects.append(rect)
    edit_wall = time.perf_counter() - started
    final = doc.mask.copy()
    history = doc.history
    steps = len(rects)

    # Baselines, same run, same machine: copy each step's changed box once; snapshot the whole mask.
    scratch = doc.mask
    t0 = time.perf_counter()
    for rect in rects:
        scratch[rect.slices].copy()
    bbox_copy = (time.perf_counter() - t0) / max(steps, 1)
    t0 = time.perf_counter()
    for rect in dab_rects:
        scratch[rect.slices].copy()
    dab_copy = (time.perf_counter() - t0) / max(steps, 1)
    t0 = time.perf_counter()
    for _ in range(5):
        scratch.copy()
    snapshot_copy = (time.perf_counter() - t0) / 5

    encodings: Counter[str] = Counter()
    # Undo all (checking against the original), then redo all (checking against the final mask).
    t0 = time.perf_counter()
    undone = 0
    while doc.undo() is not None:
        undone += 1
    undo_wall = time.perf_counter() - t0
    undo_exact = bool(np.array_equal(doc.mask, original))
    t0 = time.perf_counter()
    redone = 0
    while doc.redo() is not None:
        redone += 1
    redo_wall = time.perf_counter() - t0
    redo_exact = bool(np.array_equal(doc.mask, final))
    for _ in range(history.undo_count):  # tally encodings without touching the document
        encodings[history.undo().encoding.value] += 1
    for _ in range(history.redo_count):
        history.redo()

    mask_bytes = original.nbytes
    print(f"mask {args.size}x{args.size} {original.dtype} ({mask_bytes / MIB:.0f} MiB); budget {budget / MIB:.0f} MiB")
    print(f"actions: {dict(kinds)}; {dabs} brush/eraser segments; {steps} steps changed pixels, "
          f"{no_ops} changed nothing (not counted)")
    print(f"history: {history.nbytes / MIB:.2f} MiB held of {budget / MIB:.0f} MiB budget "
          f"({100 * history.nbytes / budget:.1f}%), over_budget={history.over_budget}")
    print(f"undoable: {history.undo_count} of {steps} steps (dropped {history.dropped}); "
          f"encodings {dict(encodings)}")
    per_step = history.nbytes / max(history.undo_count, 1)
    print(f"bytes per step: {per_step / 1024:.1f} KiB mean; a whole-mask snapshot is {mask_bytes / 1024:.0f} KiB "
          f"({mask_bytes / per_step:.0f}x more); snapshot undo would fit {budget // mask_bytes} steps in the budget")
    actions = steps + no_ops
    doc_step = doc_time / actions
    print(f"time per step: {1e3 * (stamp_time + doc_time) / actions:.3f} ms "
          f"(stamps {1e3 * stamp_time / actions:.3f} ms + document {1e3 * doc_step:.3f} ms, "
          f"incl. a listener); session wall {edit_wall:.2f} s")
    print(f"baseline copy of each step's changed box once: {1e3 * bbox_copy:.3f} ms/step -> document time "
          f"{doc_step / bbox_copy:.1f}x that")
    print(f"baseline copy of each dab's box once: {1e3 * dab_copy:.3f} ms/step -> document time "
          f"{doc_step / dab_copy:.1f}x that")
    print(f"baseline whole-mask snapshot: {1e3 * snapshot_copy:.3f} ms/step -> document time "
          f"{doc_step / snapshot_copy:.2f}x that")
    print(f"undo all: {undone} steps in {undo_wall:.2f} s, bit-exact={undo_exact}; "
          f"redo all: {redone} steps in {redo_wall:.2f} s, bit-exact={redo_exact}")
    print(f"listener saw {notified[0]} pixel changes")

    ok = (history.undo_count == steps and undone == steps and redone == steps and history.nbytes <= budget
          and undo_exact and redo_exact)
    print(f"{'PASS' if ok else 'FAIL'}: undo history for {args.strokes:,} strokes within its byte budget "
          f"({history.nbytes / MIB:.2f} MiB <= {budget / MIB:.0f} MiB, {history.undo_count}/{steps} undoable, "
          f"undo/redo bit-exact: {undo_exact and redo_exact})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
