"""Start-up: from process start to the main window's first painted frame, against a bare Qt window.

Run: ``python bench/bench_startup.py`` (add ``--bundle dist/segstudio/segstudio`` to time the PyInstaller build
too). Needs a display or runs offscreen (``QT_QPA_PLATFORM=offscreen`` by default here). Each command runs
``--repeats`` times in a fresh process with a fresh user data folder per run kind ("first start": the demo data is
written; "warm": it exists); the process prints a line at its first painted frame (``SEGSTUDIO_STARTUP_PROBE``)
and exits there. Prints medians in seconds and the ratio to the baseline timed in the same run: a Python process
that imports PySide6 and paints one empty QMainWindow. Target (issue 8): the bundled window on screen in < 3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
class Probe(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print("segstudio: first frame", flush=True)
            QTimer.singleShot(0, app.quit)
        return False
probe = Probe()
window.installEventFilter(probe)
window.resize(1200, 800)
window.show()
app.exec()
"""


def first_frame_seconds(command: list[str], data_dir: Path, timeout: float = 120.0) -> float:
    environment = dict(os.environ, SEGSTUDIO_STARTUP_PROBE="exit", SEGSTUDIO_DATA_DIR=str(data_dir))
    environment.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("segstudio: first frame"):
            elapsed = time.perf_counter() - started
            process.wait(timeout)
            return elapsed
        if time.perf_counter() - started > timeout:
            break
    process.kill()
    raise RuntimeError(f"{' '.join(command)} never painted a frame")


def timed(command: list[str], repeats: int, *, warm: bool) -> float:
    times = []
    for _ in range(repeats):
        data_dir = Path(tempfile.mkdtemp(prefix="segstudio-startup-"))
        try:
            if warm:
                first_frame_seconds(command, data_dir)  # writes the demo data and settings once
            times.append(first_frame_seconds(command, data_dir))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="the bundled executable, e.g. dist/segstudio/segstudio")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cases = {"bare PySide6 window (baseline)": [sys.executable, "-c", BASELINE],
             "segstudio from source": [sys.executable, "-m", "segstudio"]}
    if args.bundle is not None:
        cases["segstudio bundle"] = [str(args.bundle.resolve())]
    print(f"{'case':<34} {'first start':>12} {'warm':>8} {'warm / baseline':>16}")
    baseline = None
    for name, command in cases.items():
        first = timed(command, args.repeats, warm=False)
        warm = timed(command, args.repeats, warm=True)
        baseline = warm if baseline is None else baseline
        print(f"{name:<34} {first:>10.2f} s {warm:>6.2f} s {warm / baseline:>16.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
