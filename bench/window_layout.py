"""The window as a labeler sees it: renders it on data sets at window sizes, writes PNGs and prints the canvas's
share of the window, the Images panel's and the metrics table's clipped columns, if any.

Run under a display (``xvfb-run -a -s "-screen 0 1600x1000x24" python bench/window_layout.py``) or offscreen.
Each run starts from fresh settings (a first start's layout). Folders: ``demo`` (generated in a temporary user data
folder), or paths (default: the shared CamVid, ISBI 2012 and Penn-Fudan, when present). PNGs go to
bench/out/screenshots/ (ignored by git: the data sets' licences forbid redistributing their images).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "bench" / "out" / "screenshots"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help="'demo' or dataset folders")
    parser.add_argument("--size", action="append", default=[], help="WxH (repeatable; default 1400x900 and 1600x1000)")
    args = parser.parse_args()
    os.environ["SEGSTUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="segstudio-layout-")
    from PySide6.QtCore import QSettings, Qt

    from segstudio.ui.actions import Command
    from segstudio.ui.app import application, demo_folder, save_screenshot, wait_until_loaded
    from segstudio.ui.main_window import MainWindow

    folders = args.folders or ["demo"] + [str(SHARED / n) for n in ("camvid", "isbi2012", "pennfudan") if (SHARED / n).is_dir()]
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.size] or [(1400, 900), (1600, 1000)]
    app = application()
    print(f"{'folder':<12} {'size':>10} {'canvas':>10} {'share':>6}  clipped")
    for folder in folders:
        path = demo_folder() if folder == "demo" else Path(folder)
        for width, height in sizes:
            settings = QSettings(str(Path(tempfile.mkdtemp()) / "segstudio.ini"), QSettings.Format.IniFormat)
            window = MainWindow(interactive=False, settings=settings)
            window.resize(width, height)
            window.commands.action(Command.RESET_LAYOUT).trigger()
            window.show()
            window.open_folder(path)
            wait_until_loaded(window)
            for _ in range(5):
                app.processEvents()
            canvas = window.canvas
            share = canvas.width() * canvas.height() / (width * height)
            clipped = []
            view = window.file_list.view
            header = view.horizontalHeader()
            for section in range(header.count()):
                if view.model().headerData(section, Qt.Orientation.Horizontal) in ("IoU", "Dice"):
                    if header.sectionViewportPosition(section) + header.sectionSize(section) > view.viewport().width():
                        clipped.append(f"Images:{view.model().headerData(section, Qt.Orientation.Horizontal)}")
            table = window.metrics_panel.table
            last = max(c for c in range(table.columnCount()) if not table.isColumnHidden(c))
            if table.horizontalHeader().sectionViewportPosition(last) + table.columnWidth(last) > table.viewport().width():
                clipped.append("Metrics")
            name = path.name if folder != "demo" else "demo"
            save_screenshot(window, OUT / f"window_{name}_{width}x{height}.png")
            print(f"{name:<12} {width:>4}x{height:<5} {canvas.width():>4}x{canvas.height():<5} {share:6.3f}  "
                  f"{', '.join(clipped) or '-'}")
            window.close()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
