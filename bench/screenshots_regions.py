"""Screenshots of region fixes at 1600x1000 (issue 13): CamVid with a "model" whose prediction of each frame is the
next frame's ground truth (real shapes, moved), the error map on; "." chooses the largest error region (white);
then, after T took the ground truth in the three largest, the same view. PNGs go to ``bench/out/screenshots/``.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_regions.py

Reads ``../shared/data`` read-only; the folder it opens is linked into a temporary one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import OUT, camvid_frames, open_window, settle  # noqa: E402

FRAMES = ("0016E5_07959", "0016E5_07961", "0016E5_07963", "0016E5_07965")


def main() -> int:
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    from PySide6.QtWidgets import QApplication

    from segstudio.core.layers import LayerKind, LayerStyle
    from segstudio.ui.actions import Command

    app = QApplication.instance() or QApplication(sys.argv)
    root = camvid_frames(Path(tempfile.mkdtemp(prefix="segstudio-camvid-")) / "camvid", FRAMES, predicted_by_next=True)
    window = open_window(app, root)
    window.layers.set_style(LayerKind.ERROR_MAP, LayerStyle(True, 0.85, hatched=True))
    window.layers.set_style(LayerKind.WORKING, LayerStyle(True, 0.35))
    settle(app, 500)
    session = window.canvas.session
    before = len(session.error_regions(min_area=16))
    window.commands.action(Command.NEXT_ERROR_REGION).trigger()
    settle(app, 500)
    window.grab().save(str(OUT / "regions_chosen.png"))
    print("chosen:", window.statusBar().currentMessage())
    for _ in range(3):
        window.commands.action(Command.TAKE_TRUTH_IN_REGION).trigger()
        window.commands.action(Command.NEXT_ERROR_REGION).trigger()
    settle(app, 500)
    window.grab().save(str(OUT / "regions_after_three_fixes.png"))
    print(f"regions of 16+ px: {before} before, {len(session.error_regions(min_area=16))} after three fixes;",
          window.metrics_panel.summary_truth.text())
    print(f"{OUT}/regions_chosen.png, regions_after_three_fixes.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
