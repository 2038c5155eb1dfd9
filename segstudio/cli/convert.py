"""``segstudio convert``: one annotation format to another in batch, with the same code and self-check as the
window's export (:mod:`segstudio.io.exchange`).

Exit status: 0 when the output reads back bit-exact, and also when a polygon format (COCO polygons, labelme, YOLO)
could not store everything: then stdout says ``NOT EXACT`` and lists, per image, the pixels that differ, of which
class and why; ``--require-exact`` makes that exit 1 instead, for scripts. 2 for bad input (the file and what is
wrong with it); 70 when a lossless format did not read back exact (a bug, logged like any crash).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segstudio.cli.exits import EXIT_OK

EXIT_NOT_EXACT = 1
# ExchangeFormat's values, listed here so that `segstudio --help` needs no numpy (a test keeps them equal)
FORMAT_NAMES = ("png", "voc", "coco", "coco-polygons", "labelme", "yolo")


def add_convert_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    convert = commands.add_parser(
        "convert",
        help="convert annotations between palette PNG, VOC, COCO (RLE or polygons), labelme and YOLO, checking the output",
        description="Read annotations in one format and write them in another, then read the written files back "
        "and compare every image with what was read. Lossless targets (png, voc, coco) must come back bit-exact. "
        "Polygon targets (coco-polygons, labelme, yolo) cannot store everything (holes; YOLO: ignore pixels, "
        "multi-part objects): the summary then says NOT EXACT and lists, per image, how many pixels differ, "
        "of which class and why.",
    )
    convert.add_argument("--from", dest="source_format", required=True, choices=("auto", *FORMAT_NAMES),
                         help="the input's format; auto: tell it from the folder's layout")
    convert.add_argument("--to", dest="target_format", required=True, choices=FORMAT_NAMES, help="the output's format")
    convert.add_argument("source", type=Path, metavar="IN", help="input folder (coco: the folder or its JSON file; "
                         "labelme: a folder of JSON files or one file)")
    convert.add_argument("out", type=Path, metavar="OUT", help="output folder (created if missing)")
    convert.add_argument("--labels", type=Path, metavar="FILE", help="label set (.toml, .json, or .txt with a name per "
                         "line, e.g. labelme's labels.txt) that the input's class names map to; default: the input's own")
    convert.add_argument("--overwrite", action="store_true", help="replace files that exist in OUT (default: refuse)")
    convert.add_argument("--require-exact", action="store_true",
                         help=f"exit {EXIT_NOT_EXACT} when the output does not read back bit-exact")
    convert.set_defaults(command=_run_convert, command_name="convert")


def _run_convert(args: argparse.Namespace) -> int:
    from segstudio.cli.evaluate import progress_bars
    from segstudio.io.exchange import ExchangeFormat, detect_format, export_annotations, import_annotations
    from segstudio.io.labelset_files import read_label_set

    source_format = detect_format(args.source) if args.source_format == "auto" else ExchangeFormat.parse(args.source_format)
    target_format = ExchangeFormat.parse(args.target_format)
    labels = read_label_set(args.labels) if args.labels is not None else None
    if args.source_format == "auto":
        print(f"reading {args.source} as {source_format.title}", file=sys.stderr)
    with progress_bars() as progress:
        annotations = import_annotations(source_format, args.source, labels=labels, progress=progress)
    for note in annotations.notes:
        print(f"note: {note}", file=sys.stderr)
    if not annotations.images:
        raise ValueError(f"{args.source}: no images found to convert")
    with progress_bars() as progress:
        report = export_annotations(annotations, target_format, args.out, overwrite=args.overwrite, progress=progress)
    for line in report.describe(annotations.labels.name_of):
        print(line)
    if not report.exact and args.require_exact:
        return EXIT_NOT_EXACT
    return EXIT_OK
