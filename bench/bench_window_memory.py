"""The window's memory over a long day: visiting and painting many images keeps it flat (issue 14, item 2).

    QT_QPA_PLATFORM=offscreen python bench/bench_window_memory.py [--images 500] [--no-paint]
    QT_QPA_PLATFORM=offscreen python bench/bench_window_memory.py --images 250 --diagnose 50,200

The folder: CamVid val (101 RGB 480x360 images and their ground truth, from ``../shared/data`` or
``$SEGSTUDIO_SHARED_DATA``) symlinked under ``--images`` distinct names (``0000_<frame>.png``...) into a temporary
``images/`` + ``masks/`` with CamVid's label set; nothing is copied and nothing is written into the shared data.
Autosaves, settings and the project file go to temporary folders.

Two loops, in one process:

* **baseline**: the same images read with :func:`segstudio.app.sample_loader.load_sample` one after another, the
  session dropped before the next (what reading and decoding alone costs, no window);
* **window**: a real ``MainWindow`` (offscreen) opens the folder and visits every image in the list's order
  (``window.load(key)``, waiting for ``sample_loaded``); on each it paints a short stroke (unless ``--no-paint``),
  then moves on, leaving the stroke unsaved (so the window keeps it, and autosaves it, as a user's work).

After each visit: ``gc.collect()``, then the resident set size (``VmRSS``). Reported per loop: the RSS at the
10th, 50th and last image, the peak, and the slope in MiB per image from a least-squares line over the second
half of the visits (the first half includes the allocator's and Qt's warm-up). The window's slope is compared with
the baseline's; flat means a slope near the baseline's (about 0 MiB/image).

``--diagnose A,B`` also takes a ``tracemalloc`` snapshot and counts gc-tracked objects by type and the window's
QObject children by class at visits A and B, and prints what grew between them (slow: tracemalloc doubles the
time per visit; use it to find a leak, not to measure the slope).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["SEGSTUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="segstudio-bench-memory-data-")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def slope(values: list[float]) -> float:
    """MiB per image: least-squares line over the second half of ``values``."""
    half = values[len(values) // 2:]
    n = len(half)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2.0, sum(half) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(half))
    variance = sum((x - mean_x) ** 2 for x in range(n))
    return covariance / variance


def linked_folder(root: Path, count: int) -> Path:
    """``count`` images (CamVid val, cycled) linked under distinct names into ``root``/images + masks."""
    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import write_label_set

    source = DATA / "camvid"
    frames = sorted(path.stem for path in (source / "val").glob("*.png"))
    if not frames:
        raise SystemExit(f"CamVid val not found under {source}")
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    write_label_set(root / "labels.toml", LabelSet.camvid())
    for index in range(count):
        frame = frames[index % len(frames)]
        name = f"{index:04d}_{frame}.png"
        os.symlink(source / "val" / f"{frame}.png", root / "images" / name)
        os.symlink(source / "valannot" / f"{frame}.png", root / "masks" / name)
    return root


def wait_for(signal, timeout_ms: int = 30000) -> None:  # noqa: ANN001
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def settle(ms: int = 20) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def stroke(window, index: int) -> None:  # noqa: ANN001
    """A short drag with the brush across the middle of the image (a different class each time)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    canvas = window.canvas
    window.class_panel.select(1 + index % 9)
    points = [(180.0 + 10 * step, 170.0 + 3 * step) for step in range(6)]
    no = Qt.KeyboardModifier.NoModifier
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, no, canvas.image_to_widget(*points[0]).toPoint())
    for point in points[1:]:
        QTest.mouseMove(canvas, canvas.image_to_widget(*point).toPoint())
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, no, canvas.image_to_widget(*points[-1]).toPoint())


class Diagnosis:
    """What grew between two visits: Python allocations by line, gc objects by type, QObjects by class."""

    def __init__(self, window) -> None:  # noqa: ANN001
        self.window = window
        self.first: tuple[object, Counter[str], Counter[str]] | None = None

    def take(self) -> tuple[object, Counter[str], Counter[str]]:
        import tracemalloc

        from PySide6.QtCore import QObject

        gc.collect()
        objects = Counter(type(item).__qualname__ for item in gc.get_objects())
        qobjects = Counter(type(child).__name__ for child in self.window.findChildren(QObject))
        return tracemalloc.take_snapshot(), objects, qobjects

    def mark(self) -> None:
        self.first = self.take()

    def report(self, between: str, visits: int) -> None:
        assert self.first is not None
        snapshot, objects, qobjects = self.take()
        old_snapshot, old_objects, old_qobjects = self.first
        print(f"\n--- what grew {between} ({visits} visits) ---")
        print("tracemalloc, top 15 by size growth (lines):")
        for stat in snapshot.compare_to(old_snapshot, "lineno")[:15]:  # type: ignore[attr-defined]
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback}")
        print("gc-tracked objects, top 15 by count growth:")
        for name, grown in (objects - old_objects).most_common(15):
            print(f"  {grown:+7d} ({grown / visits:+6.2f}/image)  {name}")
        grown_q = qobjects - old_qobjects
        print(f"window.findChildren(QObject): {sum(old_qobjects.values())} -> {sum(qobjects.values())}")
        for name, grown in grown_q.most_common(10):
            print(f"  {grown:+7d} ({grown / visits:+6.2f}/image)  {name}")


def baseline_loop(folder: Path, count: int) -> list[float]:
    from segstudio.app.project import open_project
    from segstudio.app.sample_loader import load_sample

    dataset = open_project(folder).dataset
    samples = list(dataset.samples)[:count]
    rss: list[float] = []
    for sample in samples:
        loaded = load_sample(dataset, sample)
        del loaded
        gc.collect()
        rss.append(rss_mib())
    return rss


def window_loop(folder: Path, count: int, *, paint: bool, diagnose: tuple[int, int] | None) -> tuple[list[float], dict[str, int]]:
    from PySide6.QtCore import QObject, QSettings

    from segstudio.ui.main_window import MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(interactive=False, settings=settings)
    window.resize(1200, 800)
    window.show()
    window.open_folder(folder)
    wait_for(window.sample_loaded)
    keys = window.file_list.model.keys_in_order()[:count]
    diagnosis = Diagnosis(window) if diagnose else None
    if diagnose:
        import tracemalloc

        tracemalloc.start(8)
    rss: list[float] = []
    counts: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key != window.current_key:
            window.load(key)
            wait_for(window.sample_loaded)
        if paint:
            stroke(window, index)
        settle()
        gc.collect()
        rss.append(rss_mib())
        visits = index + 1
        if diagnosis is not None and diagnose is not None:
            if visits == diagnose[0]:
                diagnosis.mark()
            elif visits == diagnose[1]:
                diagnosis.report(f"from image {diagnose[0]} to image {diagnose[1]}", diagnose[1] - diagnose[0])
        if visits % 50 == 0:
            print(f"  window: image {visits}: {rss[-1]:.0f} MiB, QObjects {len(window.findChildren(QObject))}, "
                  f"unsaved {len(window.saving.unsaved.keys())}", flush=True)
    counts["qobjects"] = len(window.findChildren(QObject))
    counts["unsaved"] = len(window.saving.unsaved.keys())
    window.saving.discard_unsaved()  # the strokes were a test's; nothing is asked on close
    window.close()
    return rss, counts


def describe(name: str, rss: list[float]) -> str:
    at = {n: rss[n - 1] for n in (10, 50) if len(rss) >= n}
    points = ", ".join(f"image {n}: {value:.0f}" for n, value in at.items())
    return (f"{name:<9} {len(rss)} images: {points}, last: {rss[-1]:.0f} MiB; peak {max(rss):.0f} MiB; "
            f"slope {slope(rss):+.3f} MiB/image (second half)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--no-paint", action="store_true", help="visit only, no stroke")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--diagnose", help="A,B: what grew between visit A and visit B (tracemalloc, gc, QObjects)")
    args = parser.parse_args()
    diagnose = tuple(int(part) for part in args.diagnose.split(",")) if args.diagnose else None

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    del app
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-memory-") as temporary:
        folder = linked_folder(Path(temporary) / "camvid-long-day", args.images)
        print(f"{args.images} CamVid val images (symlinked, 480x360), {'a stroke on each' if not args.no_paint else 'no strokes'}; "
              f"RSS after gc.collect() after each visit; start {rss_mib():.0f} MiB")
        base = [] if args.no_baseline else baseline_loop(folder, args.images)
        if base:
            print(describe("baseline", base), flush=True)
        rss, counts = window_loop(folder, args.images, paint=not args.no_paint, diagnose=diagnose)  # type: ignore[arg-type]
    print(describe("window", rss))
    if base:
        print(f"window slope - baseline slope: {slope(rss) - slope(base):+.3f} MiB/image; "
              f"window rise over the second half: {rss[-1] - rss[len(rss) // 2]:+.0f} MiB "
              f"(baseline {base[-1] - base[len(base) // 2]:+.0f} MiB)")
    print(f"at the end: {counts['qobjects']} QObjects under the window, {counts['unsaved']} images with unsaved work; "
          f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
