"""Export + self-check time per image in every exchange format, against plain palette PNG writes.

Runs on a handful of CamVid masks from ../shared/data (with their photos, which VOC, COCO, labelme and YOLO
copy). The baseline is ``write_class_mask`` alone, in the same process: the ratio says what each format's writing,
copying and reading back costs over that.

    python bench/bench_exchange.py [--images 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from segstudio.core.labels import LabelSet
from segstudio.io.exchange import AnnotatedImage, Annotations, ExchangeFormat, export_annotations
from segstudio.io.mask_files import read_class_mask, write_class_mask

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "camvid"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"CamVid not found at {DATA}")
    labels = LabelSet.camvid()
    stems = sorted(p.stem for p in (DATA / "trainannot").glob("*.png"))[: args.images]
    annotations = Annotations(labels, tuple(
        AnnotatedImage(s, read_class_mask(DATA / "trainannot" / f"{s}.png", labels), None, DATA / "train" / f"{s}.png")
        for s in stems
    ))  # fmt: skip
    count = len(annotations.images)
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)

        def plain(run: int) -> None:
            for image in annotations.images:
                write_class_mask(root / f"plain{run}-{image.name}.png", image.classes, labels)

        baseline = _best(plain, args.repeat) / count
        print(f"{count} CamVid masks ({annotations.images[0].size[1]}x{annotations.images[0].size[0]}), best of {args.repeat}")
        print(f"{'format':<18} {'ms/image':>9} {'x palette PNG':>14}  self-check")
        print(f"{'write_class_mask':<18} {baseline * 1e3:>9.2f} {1.0:>14.1f}")
        for fmt in ExchangeFormat:
            reports = []

            def export(run: int, fmt: ExchangeFormat = fmt) -> None:
                reports.append(export_annotations(annotations, fmt, root / f"{fmt.value}{run}"))

            seconds = _best(export, args.repeat) / count
            report = reports[-1]
            check = "exact" if report.exact else f"{report.differing_pixels} px differ"
            print(f"{fmt.value:<18} {seconds * 1e3:>9.2f} {seconds / baseline:>14.1f}  {check}")


def _best(work, repeat: int) -> float:  # noqa: ANN001
    times = []
    for run in range(repeat):
        start = time.perf_counter()
        work(run)
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    main()
