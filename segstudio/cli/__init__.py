"""The command line: ``segstudio`` and its batch subcommands, a thin layer over the app like the window.

One module per group of commands: ``evaluate``, ``dataset`` (scan, demo), ``models`` (models, train, predict),
``desktop`` (the window, open, --self-test). Imports stay inside the commands so that ``segstudio --help`` starts fast and loads neither Qt nor torch.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Sequence
from pathlib import Path

from segstudio import __version__
from segstudio.bundle import apply_bundle_settings
from segstudio.cli.dataset import _run_demo, _run_scan
from segstudio.cli.desktop import _run_app, _run_open, _run_self_test, window_size
from segstudio.cli.engine_options import add_engine_options
from segstudio.cli.evaluate import _run_evaluate, ignore_index
from segstudio.cli.exits import EXIT_CLOSED_OUTPUT, EXIT_CRASH, EXIT_OK, EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A reader that stops early (``segstudio models | head``) ends it quietly: see
    :func:`_on_closed_output`."""
    try:
        code = _main(argv)
        if sys.stdout is not None:  # None in a windowed bundle
            sys.stdout.flush()  # output still buffered fails here, not in the interpreter's flush at exit
        return code
    except _OutputClosed:
        return _on_closed_output()
    except BrokenPipeError:  # from the flush above, or argparse printing --help
        if _stdout_closed():
            return _on_closed_output()
        raise
    except SystemExit:  # argparse's --help, --version and usage errors: their output may meet a closed pipe too
        if _stdout_closed():
            return _on_closed_output()
        raise


class _OutputClosed(Exception):
    """stdout's reader has gone: the command's output has nowhere to go (not a bug)."""


def _main(argv: Sequence[str] | None) -> int:
    apply_bundle_settings()
    parser = _parser()
    args = parser.parse_args(argv)
    command = getattr(args, "command", None) or (_run_self_test if args.self_test else _run_app)
    try:
        return command(args)
    except BrokenPipeError as error:
        if _stdout_closed():
            raise _OutputClosed from error
        return _crashed(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ValueError as error:  # FileProblem is a ValueError: both are the user's to fix, not tracebacks
        prog = f"segstudio {args.command_name}" if getattr(args, "command_name", None) else "segstudio"
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # a bug: logged where the user can find it, never a bare traceback
        return _crashed(error)


def _crashed(error: Exception) -> int:
    from segstudio.crash_log import report_crash

    print(report_crash(error), file=sys.stderr)
    return EXIT_CRASH


def _stdout_closed() -> bool:
    """Whether stdout's reader has gone, so that a BrokenPipeError is about our output and not, say, a worker's
    pipe (that one stays an error): flushing stdout fails, or the system says its pipe has no reader."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError, AttributeError):  # closed, or None in a windowed bundle
        return False
    # The failed write may have dropped what it held, leaving nothing to fail now: ask the pipe itself.
    if not hasattr(select, "poll"):  # Windows: no poll on pipes
        return False
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's captured stdout)
        return False
    return any(flags & (select.POLLERR | select.POLLHUP) for _fd, flags in events)


def _on_closed_output() -> int:
    """Python's documented way (library/signal.html, "Note on SIGPIPE"): point stdout at devnull, so the flush at
    exit cannot raise again and print "Exception ignored ... BrokenPipeError", and exit without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's captured stdout): nothing to flush
        pass
    return EXIT_CLOSED_OUTPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segstudio",
        description="Look at a segmentation model's masks against the truth, and fix them fast. "
        "With no command: opens the desktop app on the last folder, or on the built-in demo dataset.",
    )
    parser.add_argument("--version", action="version", version=f"segstudio {__version__}")
    parser.add_argument("--screenshot", type=Path, metavar="FILE.png",
                        help="with no command: open the demo, wait for its model (trained on first start) and its "
                        "predictions, render the main window to this PNG and exit")
    parser.add_argument("--window-size", type=window_size, metavar="WxH",
                        help="the window's size in pixels, e.g. 1600x1000 (default: as it was left, or 1400x900 on a "
                        "first start); with --screenshot, the size of the picture")
    parser.add_argument("--self-test", action="store_true",
                        help="check this install end to end (window offscreen, demo data, a UNet and a Mask R-CNN "
                        "predicting on every device, a stroke's live figures, a save read back), print a report and "
                        "exit non-zero if any step failed; writes only to a temporary folder")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    evaluate = commands.add_parser(
        "evaluate",
        help="score predicted masks against ground truth (per class overlap, combined, union, IoU, Dice)",
        description="Score a folder of predicted masks against a folder of ground-truth masks, matched by file "
        "name stem. Prints a per-class table and, with --json, writes every figure to a file. The masks are read "
        "as the app reads them: as the dataset's project file (segstudio.toml) says when --gt is one of its mask "
        "folders, else as detection reads the masks' values (e.g. 0/255 masks are binary); stderr says which. "
        "The options below override.",
    )
    evaluate.add_argument("--gt", type=Path, required=True, metavar="DIR", help="folder of ground-truth masks")
    evaluate.add_argument("--pred", type=Path, required=True, metavar="DIR", help="folder of predicted masks")
    classes = evaluate.add_mutually_exclusive_group()
    classes.add_argument("--classes", type=Path, metavar="FILE", help="label set file (.toml, .json, or .txt with a name per line)")
    classes.add_argument("--num-classes", type=int, metavar="N", help="number of classes (ids 0..N-1)")
    evaluate.add_argument("--ignore-index", type=ignore_index, metavar="K",
                          help="ground-truth value to leave out of every score (e.g. 255), 0..65535")
    evaluate.add_argument("--value-map", metavar="V:C,...", help="stored ground-truth value -> class id, e.g. 0:1,255:0 "
                          "(ISBI: black membrane = class 1); a value not listed is an error")
    evaluate.add_argument("--pred-value-map", metavar="V:C,...", help="the same for the predictions (by default: class ids, "
                          "or the ground truth's value map when their values fit it and are not class ids)")
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="write all scores (per class, per image, confusion matrix) as JSON")
    evaluate.add_argument("--report", type=Path, metavar="FILE", help="also draw the dataset view's figures from the same numbers "
                          "as --json (confusion matrix as counts and row shares, per-class IoU/Dice, per-image mean IoU) into FILE (.png or .svg)")
    evaluate.add_argument("--instances", action="store_true", help="read both folders as instance masks (one id per object) and "
                          "print COCO mask AP per class and overall (AP@0.5, AP@0.75, AP@[.5:.95]) with matched/predicted/truth counts")
    evaluate.add_argument("--worst", type=int, default=5, metavar="N", help="list the N images with the lowest mean IoU (default 5)")
    add_engine_options(evaluate, shared_files="the --gt and --pred files",
                       note="; the masks are scored on the workers, while deciding how to read them (counting "
                       "their values, when no project file, --classes or value map says it) runs here")
    evaluate.set_defaults(command=_run_evaluate, command_name="evaluate")

    scan = commands.add_parser(
        "scan",
        help="show how a dataset folder pairs images with masks (and write its project file)",
        description="Detect a dataset folder's layout, pair every image with its masks, list what could not be "
        "paired and why, and write the project file (segstudio.toml) that records the guess.",
    )
    scan.add_argument("folder", type=Path, metavar="DIR")
    scan.add_argument("--check", action="store_true", help="also read every file's header: unreadable files, mask sizes")
    scan.add_argument("--redetect", action="store_true", help="ignore the existing project file and guess again")
    scan.set_defaults(command=_run_scan, command_name="scan")

    from segstudio.cli.models import add_model_commands

    add_model_commands(commands)

    from segstudio.cli.convert import add_convert_command

    add_convert_command(commands)

    open_ = commands.add_parser(
        "open",
        help="open a dataset folder in the desktop app",
        description="Open a dataset folder in the desktop app. With --screenshot: load it, render the main window "
        "to a PNG and exit (for READMEs, tests and bug reports).",
    )
    open_.add_argument("folder", type=Path, metavar="DIR")
    open_.add_argument("--image", metavar="NAME", help="the image to show first (file name stem or sample key)")
    open_.add_argument("--model", type=Path, metavar="FILE", help="a checkpoint (ours or torchvision weights) to predict the shown image with, on a worker")
    open_.add_argument("--screenshot", type=Path, metavar="FILE.png", help="render the window to this PNG and exit")
    open_.add_argument("--window-size", type=window_size, metavar="WxH", help="the window's size in pixels, e.g. 1600x1000")
    open_.set_defaults(command=_run_open, command_name="open")

    demo = commands.add_parser("demo", help="generate the built-in demo dataset and score the demo model on it (the "
                               "figures the desktop app shows; the model is trained on first use and cached)")
    demo.add_argument("--folder", type=Path, metavar="DIR", help="where to put it (default: the user data folder)")
    demo.add_argument("--synthetic", action="store_true",
                      help="score the demo's synthetic predictions/ (made by code, not a model) instead; no torch needed")
    demo.set_defaults(command=_run_demo, command_name="demo")
    return parser


__all__ = ["EXIT_CLOSED_OUTPUT", "EXIT_CRASH", "EXIT_OK", "EXIT_USAGE", "main"]
