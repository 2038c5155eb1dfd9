"""The desktop app from the command line: ``segstudio`` (the window), ``segstudio open``, ``--self-test``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _check_window_platform() -> None:
    """Before Qt loads: say which system libraries the window lacks (Qt itself would name the wrong one and
    abort), or warn and go on when Qt may start another way."""
    from segstudio.cli.qt_libraries import check_window_platform

    warning = check_window_platform()
    if warning is not None:
        print(warning, file=sys.stderr)


def _run_self_test(_args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt loads: the test window never shows
    from segstudio.ui.self_test import run_self_test

    return run_self_test()


MIN_WINDOW_SIZE = (640, 400)
MAX_WINDOW_SIZE = 16384


def window_size(text: str) -> tuple[int, int]:
    """``"1600x1000"`` -> ``(1600, 1000)``; argparse reports the ValueError's words as a usage error."""
    width, sep, height = text.lower().partition("x")
    try:
        size = (int(width), int(height)) if sep else None
    except ValueError:
        size = None
    if size is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write width x height in pixels, e.g. 1600x1000")
    if not (MIN_WINDOW_SIZE[0] <= size[0] <= MAX_WINDOW_SIZE and MIN_WINDOW_SIZE[1] <= size[1] <= MAX_WINDOW_SIZE):
        raise argparse.ArgumentTypeError(
            f"{text} is outside {MIN_WINDOW_SIZE[0]}x{MIN_WINDOW_SIZE[1]} .. {MAX_WINDOW_SIZE}x{MAX_WINDOW_SIZE}")
    return size


def check_screenshot_path(path: Path) -> None:
    """A ``--screenshot`` name ending in .png, in a folder that exists and may be written: checked before the
    window opens, so a typo costs nothing, and no folder is ever created for it (the name may be a typo)."""
    from segstudio.core.errors import FileProblem

    if path.suffix.lower() != ".png":
        raise ValueError(f"--screenshot writes a PNG; give a file name ending in .png, not {path.name}")
    if path.is_dir():
        raise FileProblem(path, "cannot write the screenshot: a folder of that name exists")
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileProblem(path, f"cannot write the screenshot: folder {path.parent} {what} (it is not created)")
    if not os.access(path.parent, os.W_OK):
        raise FileProblem(path, f"cannot write the screenshot: folder {path.parent} is not writable")


def _run_app(args: argparse.Namespace) -> int:
    screenshot = getattr(args, "screenshot", None)
    if screenshot is not None:
        check_screenshot_path(screenshot)
    _check_window_platform()
    from segstudio.ui.app import run_app  # Qt loads here, never for --help or the batch commands

    return run_app(None, screenshot=screenshot, window_size=getattr(args, "window_size", None))


def _run_open(args: argparse.Namespace) -> int:
    from segstudio.core.errors import FileProblem

    if not args.folder.is_dir():
        raise FileProblem(args.folder, "is not a folder" if args.folder.exists() else "does not exist")
    if args.model is not None and not args.model.is_file():
        raise FileProblem(args.model, "is not a file" if args.model.exists() else "does not exist")
    if args.screenshot is not None:
        check_screenshot_path(args.screenshot)
    _check_window_platform()
    from segstudio.ui.app import run_app

    return run_app(args.folder, image=args.image, screenshot=args.screenshot, model=args.model,
                   window_size=args.window_size)


