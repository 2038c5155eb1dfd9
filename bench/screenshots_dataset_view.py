"""Screenshots of the dataset view (issue 11): CamVid val scored against a made-up model (the truth with its borders
dilated and cars called pedestrians), at two panel sizes, counts and row-normalised, with the Car -> Pedestrian cell
clicked; and the report ``segstudio evaluate --report`` writes for the same numbers. PNGs go to
``bench/out/screenshots/`` (gitignored).

    QT_QPA_PLATFORM=offscreen python bench/screenshots_dataset_view.py [--images N]

Reads ``../shared/data`` (or ``$SEGSTUDIO_SHARED_DATA``) and writes nothing into it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import DATA, OUT, made_up_prediction  # noqa: E402

PANEL_SIZES = ((1000, 760), (560, 1000))  # a wide panel under or beside the canvas; a tall dock beside it


def camvid_result(limit: int | None = None):  # noqa: ANN201
    """The window's "dataset metrics" result for CamVid val against the made-up model (ImageScores as
    :func:`segstudio.app.scoring.score_image` makes them: the session's ignore rule)."""
    import numpy as np
    from PIL import Image

    from segstudio.app.scoring import ImageScore, dataset_scores
    from segstudio.core.labels import LabelSet
    from segstudio.core.mask_comparison import compare_masks
    from segstudio.core.scores import Scores
    from segstudio.io.datasets import open_dataset

    labels = LabelSet.camvid()
    truths = sorted((DATA / "camvid" / "valannot").glob("*.png"))[:limit]
    per_image = {}
    for path in truths:
        truth = np.array(Image.open(path))
        confusion = compare_masks(truth, made_up_prediction(truth, labels.ignore_index), labels)
        scores = Scores.from_confusion(confusion, labels.names)
        per_image[path.stem] = ImageScore(path.stem, confusion, scores.mean_iou, scores.mean_dice)
    dataset = open_dataset(DATA / "camvid")
    known = {s.key: per_image[Path(s.key).name] for s in dataset.samples if Path(s.key).name in per_image}
    return dataset_scores(dataset, known), dataset.spec.labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=None, help="score only the first N val images")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    from PySide6.QtWidgets import QApplication

    from segstudio.ui.dataset_view import DatasetView
    from segstudio.ui.figure_data import FigureData
    from segstudio.ui.report_files import render_report

    app = QApplication.instance() or QApplication(sys.argv)
    OUT.mkdir(parents=True, exist_ok=True)
    result, labels = camvid_result(args.images)
    print(f"{sum(s.confusion is not None for s in result.per_image.values())} of {result.total} images scored")
    car, pedestrian = labels.id_of("Car"), labels.id_of("Pedestrian")
    written = []
    for width, height in PANEL_SIZES:
        view = DatasetView()
        view.resize(width, height)
        view.show()
        started = time.perf_counter()
        view.show_result(result, labels, title="made-up model vs CamVid val ground truth")
        app.processEvents()
        shown = time.perf_counter() - started
        for normalised in (False, True):
            view.set_row_normalised(normalised)
            view.choose_cell(car, pedestrian)
            app.processEvents()
            path = OUT / f"dataset_view_{width}x{height}_{'rows' if normalised else 'counts'}.png"
            view.grab().save(str(path))
            written.append(path.name)
        print(f"{width}x{height}: shown in {shown * 1000:.0f} ms")
        view.close()
    report = OUT / "dataset_report.png"
    render_report(FigureData.from_result(result, labels), report, "made-up model vs CamVid val ground truth")
    render_report(FigureData.from_result(result, labels), report.with_suffix(".svg"), "made-up model vs CamVid val ground truth")
    written += [report.name, report.with_suffix(".svg").name]
    print(f"{OUT}: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
