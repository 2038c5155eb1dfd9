"""Screenshots of the window at 1600x1000 for looking at the layers as a labeler would (issue 10): CamVid with a
prediction, the error map on and a stroke painted; the demo; Penn-Fudan's instances. PNGs go to
``bench/out/screenshots/`` (gitignored: the data sets' licences forbid redistributing their images).

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_layers.py [--tag before] [--only camvid]

The CamVid prediction is made up (the ground truth with its borders shifted and one class confused), so every
error kind shows; the demo and Penn-Fudan are shown as they open. Reads ``../shared/data`` (or
``$SEGSTUDIO_SHARED_DATA``) and writes nothing into it: the project files go to a temporary user data folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "screenshots"
DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def wait_for(app, signal, timeout_ms: int = 30000) -> None:  # noqa: ANN001
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def settle(app, ms: int = 300) -> None:  # noqa: ANN001
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def new_window(app):  # noqa: ANN001, ANN201
    from PySide6.QtCore import QSettings

    from segstudio.ui.main_window import MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(interactive=False, settings=settings)
    window.resize(1600, 1000)
    window.show()
    return window


def open_window(app, folder: Path):  # noqa: ANN001, ANN201
    """A 1600x1000 window with ``folder`` open and its first image on screen."""
    OUT.mkdir(parents=True, exist_ok=True)
    window = new_window(app)
    window.open_folder(folder)
    wait_for(app, window.sample_loaded)
    return window


def camvid_frames(root: Path, frames, *, predicted_by_next: bool = False) -> Path:  # noqa: ANN001
    """CamVid val ``frames`` linked (not copied) into ``root`` as images/ + masks/ with CamVid's label set;
    ``predicted_by_next``: each frame's "prediction" is the next frame's ground truth (real shapes, moved)."""
    source = DATA / "camvid"
    folders = ("images", "masks", "predictions") if predicted_by_next else ("images", "masks")
    for folder in folders:
        (root / folder).mkdir(parents=True)
    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import write_label_set

    write_label_set(root / "labels.toml", LabelSet.camvid())  # class names, colours, 11 = Unlabelled
    frames = list(frames)
    for frame, following in zip(frames, frames[1:] + frames[:1], strict=True):
        os.symlink(source / "val" / f"{frame}.png", root / "images" / f"{frame}.png")
        os.symlink(source / "valannot" / f"{frame}.png", root / "masks" / f"{frame}.png")
        if predicted_by_next:
            os.symlink(source / "valannot" / f"{following}.png", root / "predictions" / f"{frame}.png")
    return root


def made_up_prediction(truth, ignore: int | None):  # noqa: ANN001, ANN201
    import cv2
    import numpy as np

    prediction = truth.copy()
    grown = cv2.dilate(truth, np.ones((9, 9), np.uint8))  # borders shifted: the bigger class id wins
    prediction = np.where(truth == ignore, 0, grown) if ignore is not None else grown
    prediction[(truth == 8)] = 9  # cars called pedestrians: wrong class
    height, width = truth.shape
    prediction[height // 3 : height // 3 + 40, width // 2 : width // 2 + 60] = 0  # a hole: missed
    return prediction.astype(truth.dtype)


def canvas_shot(app, window, path: Path) -> None:  # noqa: ANN001
    """The canvas alone, with the Images and Metrics docks closed so it gets room whatever the dock layout."""
    from PySide6.QtWidgets import QDockWidget

    for dock in window.findChildren(QDockWidget):
        if dock.objectName() in ("dock-images", "dock-metrics"):
            dock.hide()
    settle(app)
    window.canvas.fit()
    settle(app)
    window.grab().save(str(path))


def hover(window, x: float, y: float) -> None:  # noqa: ANN001
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    QTest.mouseMove(window.canvas, window.canvas.image_to_widget(x, y).toPoint())
    del Qt


def paint(window, points, value: int) -> None:  # noqa: ANN001
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window.class_panel.select(value)
    canvas = window.canvas
    first = canvas.image_to_widget(*points[0]).toPoint()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
    for point in points[1:]:
        QTest.mouseMove(canvas, canvas.image_to_widget(*point).toPoint())
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       canvas.image_to_widget(*points[-1]).toPoint())


def camvid(app, tag: str) -> None:  # noqa: ANN001
    from segstudio.app.loaded_model import PredictedImage

    window = new_window(app)
    window.open_folder(DATA / "camvid", image="0016E5_07959")
    wait_for(app, window.sample_loaded)
    session = window.canvas.session
    prediction = made_up_prediction(session.ground_truth, session.labels.ignore_index)
    window.predictions.apply(PredictedImage(window.current_key, prediction, "made-up model"))
    wait_for(app, window.prediction_applied)
    settle(app)
    paint(window, [(60.0, 250.0), (140.0, 260.0), (200.0, 300.0)], 5)  # a Tree stroke over the road
    settle(app)
    hover(window, 140.0, 260.0)
    settle(app)
    window.grab().save(str(OUT / f"{tag}_camvid_error_map.png"))
    canvas_shot(app, window, OUT / f"{tag}_camvid_canvas.png")
    window.close()


def demo(app, tag: str) -> None:  # noqa: ANN001
    from segstudio.io.demo_dataset import write_demo_dataset

    window = new_window(app)
    window.open_folder(write_demo_dataset(Path(tempfile.mkdtemp()) / "demo", count=3))
    wait_for(app, window.sample_loaded)
    settle(app, 800)
    paint(window, [(40.0, 150.0), (90.0, 170.0), (130.0, 150.0)], 2)  # a stroke in the green class (bar)
    settle(app)
    hover(window, 90.0, 170.0)
    settle(app)
    window.grab().save(str(OUT / f"{tag}_demo.png"))
    canvas_shot(app, window, OUT / f"{tag}_demo_canvas.png")
    window.close()


def pennfudan(app, tag: str) -> None:  # noqa: ANN001
    window = new_window(app)
    window.open_folder(DATA / "pennfudan", image="FudanPed00016")
    wait_for(app, window.sample_loaded)
    settle(app, 800)
    window.grab().save(str(OUT / f"{tag}_pennfudan.png"))
    canvas_shot(app, window, OUT / f"{tag}_pennfudan_canvas.png")
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="layers")
    parser.add_argument("--only", action="append", choices=("camvid", "demo", "pennfudan"))
    args = parser.parse_args()
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, shoot in (("camvid", camvid), ("demo", demo), ("pennfudan", pennfudan)):
        if args.only and name not in args.only:
            continue
        shoot(app, args.tag)
        print(f"{name}: {OUT}/{args.tag}_{name}*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
