"""The desktop app from the command line: ``segstudio`` (the window), ``segstudio open``, ``--self-test``."""

from __future__ import annotations

import argparse


def _run_self_test(_args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt loads: the test window never shows
    from segstudio.ui.self_test import run_self_test

    return run_self_test()


def _run_app(args: argparse.Namespace) -> int:
    from segstudio.ui.app import run_app  # Qt loads here, never for --help or the batch commands

    screenshot = getattr(args, "screenshot", None)
    if screenshot is not None and screenshot.suffix.lower() != ".png":
        raise ValueError(f"--screenshot writes a PNG; give a file name ending in .png, not {screenshot.name}")
    return run_app(None, screenshot=screenshot)


def _run_open(args: argparse.Namespace) -> int:
    from segstudio.core.errors import FileProblem

    if not args.folder.is_dir():
        raise FileProblem(args.folder, "is not a folder" if args.folder.exists() else "does not exist")
    if args.model is not None and not args.model.is_file():
        raise FileProblem(args.model, "is not a file" if args.model.exists() else "does not exist")
    if args.screenshot is not None and args.screenshot.suffix.lower() != ".png":
        raise ValueError(f"--screenshot writes a PNG; give a file name ending in .png, not {args.screenshot.name}")
    from segstudio.ui.app import run_app

    return run_app(args.folder, image=args.image, screenshot=args.screenshot, model=args.model)


