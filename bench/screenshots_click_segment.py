"""Screenshots of click to segment at 1600x1000 (issue 13): the tool greyed with its reason before weights are
loaded (the Tools menu open, ``click_segment_unavailable.png``), then, with a tiny randomly initialised Segment
Anything network saved and loaded as a user's weights file would be, two clicks on a CamVid val image (one on the
object, one right-click left out), the proposal in yellow and the status line saying what Enter does
(``click_segment_proposal.png``). No SAM weights can be downloaded here, so the proposal's shape is a random
network's: the picture is of the tool, not of SAM's quality. PNGs go to ``bench/out/screenshots/``.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_click_segment.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import OUT, camvid_frames, open_window, settle, wait_for  # noqa: E402

FRAMES = ("0016E5_07959",)


def main() -> int:
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    import torch
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from segstudio.models.promptable import TINY_SAM
    from segstudio.ui.actions import Command, Menu

    tmp = Path(tempfile.mkdtemp(prefix="segstudio-click-"))
    app = QApplication.instance() or QApplication(sys.argv)
    window = open_window(app, camvid_frames(tmp / "camvid", FRAMES))
    action = window.commands.action(Command.CLICK)
    print("before weights: enabled", action.isEnabled(), "|", action.toolTip().replace("\n", " / "))
    menu = window.commands.menu(Menu.TOOLS)
    bar = window.menuBar()
    menu.popup(bar.mapToGlobal(bar.actionGeometry(menu.menuAction()).bottomLeft()))
    settle(app, 500)
    window.grab().save(str(OUT / "click_segment_unavailable.png"))  # the window; the menu is its own window
    menu.grab().save(str(OUT / "click_segment_unavailable_menu.png"))
    menu.hide()

    torch.manual_seed(0)
    weights = tmp / "tiny_sam.pth"
    torch.save(TINY_SAM.build().state_dict(), weights)
    click = window.correction_tools.click
    click.load(weights)
    wait_for(app, click.availability, 60000)
    action.trigger()
    window.class_panel.select(8)
    canvas = window.canvas
    height, width = canvas.session.shape

    def at(x: float, y: float) -> QPoint:
        point = canvas.image_to_widget(x, y)
        return QPoint(round(point.x()), round(point.y()))

    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(width * 0.45, height * 0.7))
    QTest.mouseClick(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, at(width * 0.7, height * 0.4))
    for _ in range(100):
        if click.proposed_for == canvas.tools.marks:
            break
        settle(app, 100)
    settle(app, 300)
    window.grab().save(str(OUT / "click_segment_proposal.png"))
    print("status:", window.status_line.message)
    print(f"{OUT}/click_segment_unavailable.png\n{OUT}/click_segment_proposal.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
