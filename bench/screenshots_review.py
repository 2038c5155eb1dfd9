"""Screenshots of the review workflow at 1600x1000 (issue 11): CamVid with a made-up model, a few images accepted
after a correction, one rejected with a comment, the Review panel in front; then the list filtered to what is left
to do; then CamVid's val images with a made-up prediction folder, listed by Pedestrian IoU below 0.5. PNGs go to
``bench/out/screenshots/`` (gitignored).

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_review.py

Reads ``../shared/data`` and writes nothing into it: project file, statuses and corrections go to a temporary user
data folder (CamVid's folder is read-only there).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import DATA, OUT, made_up_prediction, new_window, paint, settle, wait_for  # noqa: E402


def main() -> int:
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    from PySide6.QtWidgets import QApplication

    from segstudio.app.loaded_model import PredictedImage
    from segstudio.core.review import ReviewStatus
    from segstudio.ui.actions import Command
    from segstudio.ui.docks import Panel
    from segstudio.ui.file_list import StatusFilter

    app = QApplication.instance() or QApplication(sys.argv)
    OUT.mkdir(parents=True, exist_ok=True)
    window = new_window(app)
    window.open_folder(DATA / "camvid")
    wait_for(app, window.sample_loaded)
    window.file_list.view.sortByColumn(5, window.file_list.view.horizontalHeader().sortIndicatorOrder())
    for step in range(4):
        session = window.canvas.session
        prediction = made_up_prediction(session.ground_truth, session.labels.ignore_index)
        window.predictions.apply(PredictedImage(window.current_key, prediction, "made-up model"))
        wait_for(app, window.prediction_applied)
        window.commands.action(Command.RESET_TO_GROUND_TRUTH).trigger()  # the labeler's fix stands in: the truth
        if step == 2:
            window.review.set_comment(window.current_key, "motion blur: cars unreadable, leave out")
            window.commands.action(Command.REJECT_AND_NEXT).trigger()
        else:
            window.commands.action(Command.ACCEPT_AND_NEXT).trigger()
        wait_for(app, window.sample_loaded)
    paint(window, [(100.0, 250.0), (180.0, 270.0)], 3)  # work in progress on the next one
    settle(app)
    window.docks.bring_forward(Panel.REVIEW)
    settle(app, 500)
    window.grab().save(str(OUT / "review_statuses.png"))
    window.file_list.set_status_filter(StatusFilter.OPEN)
    settle(app)
    window.grab().save(str(OUT / "review_filtered_open.png"))
    window.file_list.set_status_filter(StatusFilter.ALL)
    window.review.flush()
    print(f"{OUT}/review_statuses.png, review_filtered_open.png;",
          sum(window.review.status_of(k) is ReviewStatus.ACCEPTED for k in window.file_list.model.keys_in_order()), "accepted")
    window.close()
    class_filter(app)
    return 0


def class_filter(app) -> None:  # noqa: ANN001
    """CamVid val linked into a temporary folder with a made-up prediction folder (borders shifted; pedestrians
    called cars on every third image, pavement on others), listed by Pedestrian IoU below 0.5."""
    import json

    import cv2
    import numpy as np
    from PIL import Image

    from segstudio.core.labels import LabelSet

    root = Path(tempfile.mkdtemp(prefix="segstudio-camvid-val-"))
    for folder in ("images", "masks", "predictions"):
        (root / folder).mkdir()
    for index, mask in enumerate(sorted((DATA / "camvid" / "valannot").glob("*.png"))):
        (root / "images" / mask.name).symlink_to(DATA / "camvid" / "val" / mask.name)
        (root / "masks" / mask.name).symlink_to(mask)
        truth = np.asarray(Image.open(mask))
        prediction = np.where(truth == 11, 0, cv2.dilate(truth, np.ones((7, 7), np.uint8)))
        prediction[truth == 9] = 8 if index % 3 == 0 else 4 if index % 5 == 1 else prediction[truth == 9]
        Image.fromarray(prediction.astype(np.uint8)).save(root / "predictions" / mask.name)
    (root / "labels.json").write_text(json.dumps(LabelSet.camvid().to_mapping()))
    window = new_window(app)
    window.open_folder(root)
    wait_for(app, window.dataset_scored, 120000)
    window.file_list.set_class_filter(9, below=0.5)
    settle(app, 500)
    window.grab().save(str(OUT / "review_class_filter.png"))
    print(f"{OUT}/review_class_filter.png: {window.file_list.proxy.rowCount()} images with Pedestrian IoU < 0.5")
    from segstudio.ui.docks import Panel

    window.docks.bring_forward(Panel.DATASET)
    window.dataset_view.choose_cell(9, 8)  # pedestrians predicted as cars
    settle(app, 500)
    window.grab().save(str(OUT / "review_dataset_panel.png"))
    dock = window.docks.dock(Panel.DATASET)
    dock.setFloating(True)
    dock.resize(1100, 900)
    settle(app, 500)
    dock.grab().save(str(OUT / "review_dataset_panel_floating.png"))
    print(f"{OUT}/review_dataset_panel.png, review_dataset_panel_floating.png")
    window.close()


if __name__ == "__main__":
    sys.exit(main())
