"""Screenshots of instance correction at 1600x1000 (issue 12): a Penn-Fudan image whose working mask starts from
Mask R-CNN-style output (instance ids, classes and scores, overlaps resolved by score), the Instances panel listing
each detection with its IoU against the matched person and the people missed; then the same image corrected object
by object with the window's own commands (the false detection deleted, a merged detection cut in two with the Cut
tool, the missed person painted as a new instance). PNGs go to ``bench/out/screenshots/`` (gitignored).

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_instances.py

The detections are *simulated* from the ground truth (one person grown by 6 px, two people merged into one
detection, one person missed, one false detection of low score), written in the format the app's Mask R-CNN
predictions take: no Mask R-CNN trained here detects Penn-Fudan people well enough to show a correction (see the
issue 12 notes). Reads ``../shared/data`` read-only; everything is written to a temporary folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import DATA, OUT, open_window, settle, wait_for  # noqa: E402


def simulated_detections(truth):  # noqa: ANN001, ANN201
    """Mask R-CNN-like output from ``truth`` (an InstanceMask with 3+ people), see the module notes."""
    import cv2
    import numpy as np

    from segstudio.core.instances import InstanceMask

    ids = np.asarray(truth.ids)
    people = truth.instance_ids
    out = np.zeros(ids.shape, dtype=np.uint8)
    grown = cv2.dilate((ids == people[0]).astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    out[grown & (ids == 0)] = 1
    out[ids == people[0]] = 1
    out[(ids == people[1]) | (ids == people[2])] = 2  # two people in one detection
    scores = {1: 0.97, 2: 0.81, 3: 0.34}
    height, width = ids.shape
    cv2.ellipse(out, (width - 60, 40), (28, 18), 0, 0, 360, 3, -1)  # a false detection in the background
    out[(ids > 0) & (out == 3)] = 0
    return InstanceMask(out, {1: 1, 2: 1, 3: 1}, scores), people


def main() -> int:
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from segstudio.io.mask_files import read_instance_mask, write_instance_mask
    from segstudio.ui.actions import Command
    from segstudio.ui.docks import Panel

    source = DATA / "pennfudan"
    masks = sorted((source / "PedMasks").glob("*_mask.png"))
    chosen = [m for m in masks if read_instance_mask(m).num_instances >= 4][:3]
    root = Path(tempfile.mkdtemp(prefix="segstudio-pennfudan-")) / "pennfudan"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for mask in chosen:
        stem = mask.name.removesuffix("_mask.png")
        os.symlink(source / "PNGImages" / f"{stem}.png", root / "PNGImages" / f"{stem}.png")
        os.symlink(mask, root / "PedMasks" / mask.name)

    for mask in chosen:  # the detections as the app stores a model's: segstudio-predictions/<model>/<key>.png
        stem = mask.name.removesuffix("_mask.png")
        target = root / "segstudio-predictions" / "mask_rcnn-simulated" / "PNGImages" / f"{stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_instance_mask(target, simulated_detections(read_instance_mask(mask))[0])

    app = QApplication.instance() or QApplication(sys.argv)
    window = open_window(app, root)
    wait_for(app, window.scores.instances_scored)
    truth = read_instance_mask(chosen[0])
    people = truth.instance_ids
    settle(app, 600)
    window.instance_editing.refresh()
    settle(app)
    window.grab().save(str(OUT / "instances_prediction.png"))
    print("prediction:", window.instance_panel.summary.text())
    print("dataset:", window.metrics_panel.instance_line.text())
    window.docks.show_large(Panel.DATASET)
    settle(app, 600)
    window.docks.dock(Panel.DATASET).grab().save(str(OUT / "instances_dataset_ap.png"))
    window.docks.arrange_default()
    window.docks.show_instances(True)
    settle(app, 400)

    # The labeler's corrections, with the window's own commands.
    panel, layer = window.instance_panel, window.canvas.session.instances
    panel.select_ids([3])
    window.commands.action(Command.DELETE_INSTANCE).trigger()  # the false detection
    merged = layer.pixels_of(2)
    rows, cols = np.nonzero(merged)
    left = truth.ids == people[1]
    right = truth.ids == people[2]
    gap = int(round((np.nonzero(left)[1].mean() + np.nonzero(right)[1].mean()) / 2))
    panel.select_ids([2])
    window.commands.action(Command.CUT).trigger()
    cut = [(float(gap), float(rows.min() - 5)), (float(gap), float(rows.max() + 5))]
    drag(window, cut)
    settle(app)
    window.commands.action(Command.BRUSH).trigger()
    window.class_panel.select(1)
    window.commands.action(Command.NEW_INSTANCE).trigger()
    missed_rows, missed_cols = np.nonzero(truth.ids == people[3])
    window.canvas.tools.size = 9
    for row in range(int(missed_rows.min()) + 4, int(missed_rows.max()) - 3, 6):
        on_row = missed_cols[missed_rows == row]
        if on_row.size:
            drag(window, [(float(on_row.min() + 3), float(row)), (float(on_row.max() - 3), float(row))])
    settle(app, 600)
    window.instance_editing.refresh()
    panel.select_ids([1])
    settle(app, 400)
    window.grab().save(str(OUT / "instances_corrected.png"))
    print("corrected:", window.instance_panel.summary.text())
    print(f"{OUT}/instances_prediction.png, instances_dataset_ap.png, instances_corrected.png")
    window.saving.save(wait=True)
    window.close()
    return 0


def drag(window, points) -> None:  # noqa: ANN001
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    canvas = window.canvas
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     canvas.image_to_widget(*points[0]).toPoint())
    for point in points[1:]:
        QTest.mouseMove(canvas, canvas.image_to_widget(*point).toPoint())
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       canvas.image_to_widget(*points[-1]).toPoint())


if __name__ == "__main__":
    raise SystemExit(main())
