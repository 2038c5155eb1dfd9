"""Opening a folder of 10,000 images shows the first image in under 1 s (issue 4).

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/bench_open_large_folder.py
    QT_QPA_PLATFORM=offscreen python bench/bench_open_large_folder.py
    python bench/bench_open_large_folder.py --profile       # cProfile of the 10,000-image open, top entries

The folders: ``images/`` of small real PNGs (256 x 256 RGB, smooth gradients + blobs, written with cv2) and
``masks/`` with a class mask for every 4th image (values 0..3), generated once and cached under
``$TMPDIR/segstudio-bench-open/`` (``--regenerate`` rebuilds them). A 10-image folder of the same kind is the
baseline measured in the same run.

What one figure includes: from the call to the real ``MainWindow.open_folder(folder)`` (listing, layout
detection or project-file read, the file list model's rows, the "load" job submitted to the worker, the
"dataset metrics" job submitted) to the window's ``sample_loaded`` signal (the first image read on the worker,
its session set on the canvas and the metrics panel) plus one forced synchronous repaint of the canvas
(``canvas.repaint()`` + ``processEvents``), i.e. the first image really on screen. Two cases per folder:

* ``first open``: no project file yet (it is deleted before the run), so the layout is detected and the project
  file written, as the very first time a user opens the folder;
* ``reopen``: the project file exists (the usual case afterwards).

Each case is repeated (``--repeats``, default 3; a fresh MainWindow each time) and the median is reported.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless; under xvfb-run the real X server (xcb)
_DATA_DIR = tempfile.mkdtemp(prefix="segstudio-bench-open-data-")
os.environ["SEGSTUDIO_DATA_DIR"] = _DATA_DIR  # autosave/settings stay out of the user's folders

import cv2
import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from segstudio.io.project_file import find_project_file
from segstudio.ui.main_window import MainWindow

TARGET_S = 1.0
SIDE = 256
CACHE = Path(tempfile.gettempdir()) / "segstudio-bench-open"


def write_folder(root: Path, count: int) -> Path:
    """``count`` PNG images (and masks for every 4th) under ``root``; reused when already complete."""
    marker = root / ".complete"
    if marker.is_file():
        return root
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    for index in range(count):
        a, b, c = rng.random(3)
        image = np.stack([(xx * 255 * a), (yy * 255 * b), ((xx + yy) * 127 * c)], axis=-1).astype(np.uint8)
        mask = np.zeros((SIDE, SIDE), dtype=np.uint8)
        for cls in (1, 2, 3):
            cx, cy, r = rng.integers(20, SIDE - 20, 2).tolist() + [int(rng.integers(8, 40))]
            cv2.circle(image, (cx, cy), r, (int(60 * cls), 200, 255 - 60 * cls), -1)
            cv2.circle(mask, (cx, cy), r, cls, -1)
        name = f"img_{index:05d}.png"
        cv2.imwrite(str(images / name), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if index % 4 == 0:
            cv2.imwrite(str(masks / name), mask, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    marker.write_text("ok")
    return root


def remove_project_file(root: Path) -> None:
    existing = find_project_file(root)
    while existing is not None:
        existing.unlink()
        existing = find_project_file(root)


def wait_for(signal, timeout_ms: int = 60000) -> bool:  # noqa: ANN001
    loop = QEventLoop()
    done = {"ok": False}

    def finish(*_args: object) -> None:
        done["ok"] = True
        loop.quit()

    signal.connect(finish)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(finish)
    return done["ok"]


def open_once(app: QApplication, folder: Path, *, fresh: bool, profile: cProfile.Profile | None = None) -> dict[str, float]:
    if fresh:
        remove_project_file(folder)
    settings = QSettings(str(Path(_DATA_DIR) / f"bench-{time.monotonic_ns()}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(interactive=False, settings=settings)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    loop = QEventLoop()
    shown: dict[str, float] = {}

    def on_loaded(_key: str) -> None:
        shown["loaded"] = time.perf_counter()
        loop.quit()

    window.sample_loaded.connect(on_loaded)
    window.load_failed.connect(lambda message: (print(f"load failed: {message}"), loop.quit()))
    QTimer.singleShot(60000, loop.quit)
    if profile is not None:
        profile.enable()
    t0 = time.perf_counter()
    window.open_folder(folder)
    returned = time.perf_counter()
    if "loaded" not in shown:
        loop.exec()
    window.canvas.repaint()  # the first image really drawn (synchronous paint event)
    app.processEvents()
    painted = time.perf_counter()
    if profile is not None:
        profile.disable()
    if "loaded" not in shown:
        raise RuntimeError(f"{folder}: no image shown within 60 s")
    rows = window.file_list.proxy.rowCount()
    window.pool.cancel_all(drop=True)
    window.pool.shutdown(10000)
    window.close()
    window.deleteLater()
    app.processEvents()
    return {"call": returned - t0, "loaded": shown["loaded"] - t0, "shown": painted - t0, "rows": rows}


def run_case(app: QApplication, folder: Path, *, fresh: bool, repeats: int) -> dict[str, float]:
    runs = [open_once(app, folder, fresh=fresh) for _ in range(repeats)]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one first open of the big folder")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    folders = {}
    for count in (10, args.count):
        root = CACHE / f"folder-{count}"
        if args.regenerate and root.exists():
            import shutil

            shutil.rmtree(root)
        t0 = time.perf_counter()
        already = (root / ".complete").is_file()
        folders[count] = write_folder(root, count)
        if not already:
            print(f"generated {count} images in {time.perf_counter() - t0:.1f} s under {root}")
    print(f"Qt platform {app.platformName()}, {os.cpu_count()} CPUs; figure = open_folder() call -> sample_loaded "
          f"+ canvas repaint (median of {args.repeats})")

    if args.profile:
        profile = cProfile.Profile()
        open_once(app, folders[args.count], fresh=True, profile=profile)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(35)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(20)
        print(out.getvalue())

    verdicts = []
    for fresh, label in ((True, "first open (detect + write project file)"), (False, "reopen (project file exists)")):
        small = run_case(app, folders[10], fresh=fresh, repeats=args.repeats)
        big = run_case(app, folders[args.count], fresh=fresh, repeats=args.repeats)
        print(f"{label}:")
        for count, result in ((10, small), (args.count, big)):
            print(f"  {count:>6} images: open_folder() returned after {result['call'] * 1e3:7.1f} ms, "
                  f"sample_loaded {result['loaded'] * 1e3:7.1f} ms, shown (repainted) {result['shown'] * 1e3:7.1f} ms, "
                  f"{int(result['rows'])} rows listed")
        ratio = big["shown"] / small["shown"]
        verdict = "PASS" if big["shown"] < TARGET_S else "FAIL"
        verdicts.append(verdict)
        print(f"  ratio {args.count}/10: {ratio:.2f}x")
        print(f"{verdict}: {label}: {args.count} images -> first image shown in {big['shown']:.3f} s "
              f"(target < {TARGET_S:.1f} s)")
    return 0 if all(v == "PASS" for v in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
