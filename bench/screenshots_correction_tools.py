"""Screenshots of the correction tools at 1600x1000 (issue 13) on CamVid: the outline tool editing a car's outline
(vertices as handles, the status line saying what writing it changes), and the edge lasso half drawn around it (the
path between clicks follows the image's edges, the live part follows the mouse). PNGs go to
``bench/out/screenshots/`` (gitignored).

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_correction_tools.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import OUT, camvid_frames, open_window, settle  # noqa: E402

FRAME = "0016E5_07959"


def main() -> int:
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    import cv2
    import numpy as np
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from segstudio.ui.actions import Command

    app = QApplication.instance() or QApplication(sys.argv)
    window = open_window(app, camvid_frames(Path(tempfile.mkdtemp(prefix="segstudio-camvid-")) / "camvid", [FRAME]))
    canvas, session = window.canvas, window.canvas.session
    car = session.mask == 8
    count, labels, stats, _ = cv2.connectedComponentsWithStats(car.astype(np.uint8), connectivity=8)
    biggest = max(range(1, count), key=lambda i: stats[i, cv2.CC_STAT_AREA])
    rows, cols = np.nonzero(labels == biggest)
    x, y = float(cols[len(cols) // 2]), float(rows[len(rows) // 2])

    def click(px: float, py: float, button=Qt.MouseButton.LeftButton) -> None:  # noqa: ANN001
        QTest.mouseClick(canvas, button, Qt.KeyboardModifier.NoModifier, canvas.image_to_widget(px, py).toPoint())

    canvas.tools.outlines.tolerance = 1.5
    window.commands.action(Command.OUTLINE).trigger()
    click(x, y)
    outline = canvas.tools.outlines.outline
    vx, vy = (float(v) for v in outline.exterior[len(outline.exterior) // 3])
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     canvas.image_to_widget(vx, vy).toPoint())
    QTest.mouseMove(canvas, canvas.image_to_widget(vx - 15, vy - 10).toPoint())
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       canvas.image_to_widget(vx - 15, vy - 10).toPoint())
    settle(app, 400)
    window.grab().save(str(OUT / "tools_outline.png"))
    print("outline:", window.statusBar().currentMessage())
    QTest.keyClick(canvas, Qt.Key.Key_Escape)

    contours, _ = cv2.findContours((labels == biggest).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    ring = max(contours, key=len).reshape(-1, 2)
    window.commands.action(Command.LASSO).trigger()
    for index in np.linspace(0, len(ring) * 0.6, 6).astype(int):
        click(float(ring[index][0]), float(ring[index][1]))
    mouse = ring[int(len(ring) * 0.8)]
    QTest.mouseMove(canvas, canvas.image_to_widget(float(mouse[0]), float(mouse[1])).toPoint())
    settle(app, 400)
    window.grab().save(str(OUT / "tools_lasso.png"))
    print(f"{OUT}/tools_outline.png, tools_lasso.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
