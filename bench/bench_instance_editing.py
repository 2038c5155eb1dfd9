"""What correcting as instances costs against correcting as classes, on real Penn-Fudan images (issue 12).

    python bench/bench_instance_editing.py [--images 10] [--repeat 5]

For each Penn-Fudan image with 3+ people (the first ``--images`` in name order), in one process:

- a brush stroke of 40 dabs (radius 6) across the people, in a class session (the baseline) and in an instance
  session (keys, the derived class mask, per-key counts and the running overlaps with the ground-truth people all
  kept current): the ratio is the per-dab cost of instances;
- the Instances panel's figures (per-instance IoU and COCO matching) read from the running overlaps, against the
  full recount a panel without them would need (snapshot of the instances + ``match_instances`` against the truth);
- a whole-object edit (merge two people, then renumber), against one ``np.copy`` of the key array.

Prints medians and the ratios; timings vary with the machine's load, the ratios much less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data")) / "pennfudan"


def _median_ms(function, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from segstudio.core.instance_matching import match_instances
    from segstudio.core.instance_start import InstanceSources
    from segstudio.core.instances import InstanceMask
    from segstudio.core.labels import LabelSet
    from segstudio.core.session import ImageSession
    from segstudio.io.images import read_image
    from segstudio.io.mask_files import read_instance_mask

    labels = LabelSet.with_count(2)
    masks = [m for m in sorted((DATA / "PedMasks").glob("*_mask.png")) if read_instance_mask(m).num_instances >= 3]
    masks = masks[: args.images]
    rows = []
    for path in masks:
        truth = read_instance_mask(path)
        image = read_image(DATA / "PNGImages" / path.name.replace("_mask.png", ".png"))
        classes = truth.to_class_mask()
        height, width = classes.shape
        xs = np.linspace(width * 0.1, width * 0.9, 41)
        ys = np.linspace(height * 0.3, height * 0.7, 41)
        stroke = list(zip(xs.tolist(), ys.tolist(), strict=True))

        def paint(session: ImageSession) -> None:
            session.begin_stroke()
            for start, end in zip(stroke, stroke[1:]):
                session.paint(start, end, radius=6, value=1)
            session.end_stroke()
            session.undo()

        plain = ImageSession.start(image, labels, ground_truth=classes)
        objects = ImageSession.start(image, labels, ground_truth=classes, instances=InstanceSources(truth=truth))
        layer = objects.instances
        assert layer is not None
        class_ms = _median_ms(lambda: paint(plain), args.repeat)
        instance_ms = _median_ms(lambda: paint(objects), args.repeat)

        live_ms = _median_ms(lambda: objects.instance_figures(), args.repeat)

        def recount() -> None:
            snapshot = layer.snapshot()
            match_instances(truth, InstanceMask(snapshot.ids, dict(snapshot.classes),
                                                {i: 1.0 for i in snapshot.instance_ids}))

        recount_ms = _median_ms(recount, args.repeat)
        assert objects.instance_figures().matching.matches == match_instances(truth, truth).matches

        first, second = truth.instance_ids[:2]

        def merge_and_renumber() -> None:
            layer.merge(first, [second])
            layer.renumber()
            objects.undo()
            objects.undo()

        edit_ms = _median_ms(merge_and_renumber, args.repeat) / 4  # four whole-image steps: two edits, two undos
        copy_ms = _median_ms(lambda: np.copy(layer.keys), args.repeat * 4)
        rows.append((path.name, width * height, class_ms / 40, instance_ms / 40, live_ms, recount_ms, edit_ms, copy_ms))

    print(f"{'image':<24}{'pixels':>9}{'dab cls':>9}{'dab inst':>9}{'ratio':>7}{'live':>8}{'recount':>9}"
          f"{'ratio':>7}{'edit':>8}{'copy':>7}{'ratio':>7}   (ms)")
    for name, pixels, dab_c, dab_i, live, full, edit, copy in rows:
        print(f"{name:<24}{pixels:>9,}{dab_c:>9.3f}{dab_i:>9.3f}{dab_i / dab_c:>7.2f}{live:>8.3f}{full:>9.2f}"
              f"{full / live:>7.1f}{edit:>8.2f}{copy:>7.3f}{edit / copy:>7.1f}")
    med = [statistics.median(column) for column in zip(*[r[2:] for r in rows], strict=True)]
    print(f"median over {len(rows)} images: dab {med[1]:.3f} ms vs class {med[0]:.3f} ms "
          f"(x{med[1] / med[0]:.2f}); live figures {med[2]:.3f} ms vs recount {med[3]:.2f} ms "
          f"({med[3] / med[2]:.0f}x faster); a whole-object edit or undo {med[4]:.2f} ms = {med[4] / med[5]:.0f}x "
          f"one copy of the keys")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
