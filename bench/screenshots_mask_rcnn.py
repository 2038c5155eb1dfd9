"""Screenshots of a trained Mask R-CNN's output corrected as instances at 1600x1000 (issue 12): the checkpoint that
``bench/train_mask_rcnn_pennfudan.py --keep DIR`` trained from scratch predicts a held-out Penn-Fudan image in the
window (Model panel, score threshold 0.5); then the labeler's corrections with the window's own commands (the
lowest-scoring unmatched detection deleted, a missed person boxed in as a new instance). PNGs go to
``bench/out/screenshots/``.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_mask_rcnn.py --model DIR/mask_rcnn.safetensors \\
        [--image FudanPed00025]

Reads ``../shared/data`` read-only; the held-out image is linked into a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_instances import drag  # noqa: E402
from screenshots_layers import DATA, OUT, open_window, settle, wait_for  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--image", default="FudanPed00025", help="a held-out image (see the training bench's split)")
    args = parser.parse_args()
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from segstudio.io.mask_files import read_instance_mask
    from segstudio.ui.actions import Command

    source = DATA / "pennfudan"
    root = Path(tempfile.mkdtemp(prefix="segstudio-pennfudan-")) / "pennfudan"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    os.symlink(source / "PNGImages" / f"{args.image}.png", root / "PNGImages" / f"{args.image}.png")
    os.symlink(source / "PedMasks" / f"{args.image}_mask.png", root / "PedMasks" / f"{args.image}_mask.png")

    app = QApplication.instance() or QApplication(sys.argv)
    window = open_window(app, root)
    window.load_model(args.model)
    wait_for(app, window.model_panel.model_loaded, 120000)
    window.predict_current()
    wait_for(app, window.prediction_applied, 300000)
    settle(app, 800)
    window.instance_editing.refresh()
    settle(app)
    window.grab().save(str(OUT / "mask_rcnn_output.png"))
    print("model output:", window.instance_panel.summary.text(), "|", window.model_panel.detections.text())

    session = window.canvas.session
    layer, figures = session.instances, session.instance_figures()
    unmatched = [f for f in figures.instances if f.truth_id is None]
    if unmatched:  # the least sure false detection goes
        worst = min(unmatched, key=lambda f: f.score if f.score is not None else 1.0)
        window.instance_panel.select_ids([worst.instance_id])
        window.commands.action(Command.DELETE_INSTANCE).trigger()
    truth = read_instance_mask(source / "PedMasks" / f"{args.image}_mask.png")
    for missed in session.instance_figures().missed[:1]:  # a missed person, boxed in
        rows, cols = np.nonzero(np.asarray(truth.ids) == missed.truth_id)
        window.commands.action(Command.BOX).trigger()
        window.class_panel.select(1)
        drag(window, [(cols.min() - 4.0, rows.min() - 4.0), (cols.max() + 4.0, rows.max() + 4.0)])
        wait_for(app, window.box_to_mask.written, 120000)
    settle(app, 800)
    window.instance_editing.refresh()
    window.commands.action(Command.BRUSH).trigger()
    settle(app, 400)
    window.grab().save(str(OUT / "mask_rcnn_corrected.png"))
    print("corrected:", window.instance_panel.summary.text())
    print(f"{OUT}/mask_rcnn_output.png, mask_rcnn_corrected.png; instances {layer.instance_ids()}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
