"""The command line: ``segstudio`` and its batch subcommands.

Imports stay inside the commands so that ``segstudio --help`` starts fast and loads neither Qt nor torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from segstudio import __version__

if TYPE_CHECKING:
    from segstudio.core.labels import LabelSet
    from segstudio.core.metrics import DatasetScores
    from segstudio.io.datasets import Dataset
    from segstudio.io.mask_convention import MaskConvention, MaskValues
    from segstudio.io.mask_files import ValueMap
    from tqdm import tqdm

EXIT_OK = 0
EXIT_USAGE = 2  # bad input: a file or folder that cannot be used as asked
EXIT_CRASH = 70  # an unexpected error (a bug), logged by segstudio.crash_log; EX_SOFTWARE of sysexits.h


def main(argv: Sequence[str] | None = None) -> int:
    _apply_bundle_settings()
    parser = _parser()
    args = parser.parse_args(argv)
    command = getattr(args, "command", None) or (_run_self_test if args.self_test else _run_app)
    try:
        return command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ValueError as error:  # FileProblem is a ValueError: both are the user's to fix, not tracebacks
        prog = f"segstudio {args.command_name}" if getattr(args, "command_name", None) else "segstudio"
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # a bug: logged where the user can find it, never a bare traceback
        from segstudio.crash_log import report_crash

        print(report_crash(error), file=sys.stderr)
        return EXIT_CRASH


def bundle_flavour() -> str | None:
    """"gpu" or "cpu" in a bundle built with segstudio.spec (it writes segstudio_build.json); None from source."""
    bundle = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or bundle is None:
        return None
    try:
        return str(json.loads((Path(bundle) / "segstudio_build.json").read_text(encoding="utf-8"))["flavour"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _apply_bundle_settings() -> None:
    # The CPU bundle leaves out the CUDA libraries torch loads only on first GPU use: with a GPU present, torch
    # would still try CUDA and fail there, so the CPU bundle does not let it see one.
    if bundle_flavour() == "cpu":
        import os

        os.environ["CUDA_VISIBLE_DEVICES"] = ""


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
    evaluate.add_argument("--ignore-index", type=int, metavar="K", help="ground-truth value to leave out of every score (e.g. 255)")
    evaluate.add_argument("--value-map", metavar="V:C,...", help="stored ground-truth value -> class id, e.g. 0:1,255:0 "
                          "(ISBI: black membrane = class 1); a value not listed is an error")
    evaluate.add_argument("--pred-value-map", metavar="V:C,...", help="the same for the predictions (by default: class ids, "
                          "or the ground truth's value map when their values fit it and are not class ids)")
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="write all scores (per class, per image, confusion matrix) as JSON")
    evaluate.add_argument("--worst", type=int, default=5, metavar="N", help="list the N images with the lowest mean IoU (default 5)")
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

    from segstudio.cli_models import add_model_commands

    add_model_commands(commands)

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
    open_.set_defaults(command=_run_open, command_name="open")

    demo = commands.add_parser("demo", help="generate the built-in demo dataset and score its predictions")
    demo.add_argument("--folder", type=Path, metavar="DIR", help="where to put it (default: the user data folder)")
    demo.set_defaults(command=_run_demo, command_name="demo")
    return parser


# -- evaluate -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskReading:
    """How ``evaluate`` reads its two folders, decided before any mask is scored, and where each part came from.

    ``truth_map``/``prediction_map`` None: the stored values are the class ids (colour-coded masks: matched to
    the label set's colours), as :func:`~segstudio.io.mask_files.read_class_mask` reads them by default.
    """

    labels: LabelSet
    truth_map: ValueMap | None
    prediction_map: ValueMap | None
    labels_from: str
    truth_map_from: str
    prediction_note: str
    notes: tuple[str, ...] = ()
    detected: bool = False  # the ground truth's reading was decided from its values (no project file)

    def describe(self) -> list[str]:
        """The lines ``evaluate`` prints on stderr: the notes, where the label set and value maps came from."""
        labels = self.labels
        names = ", ".join(f"{c.id} {c.name}" for c in labels.classes[:8]) + (" ..." if labels.num_classes > 8 else "")
        ignore = f", ignore id {labels.ignore_index}" if labels.ignore_index is not None else ""
        if self.labels_from == self.truth_map_from:
            origin = f"label set and value map from {self.labels_from}"
        else:
            origin = f"label set from {self.labels_from}, value map from {self.truth_map_from}"
        hint = "; --classes/--num-classes and --value-map read it otherwise" if self.detected else ""
        return [
            *(f"note: {note}" for note in self.notes),
            f"ground truth ({origin}): {labels.num_classes} classes ({names}{ignore}), "
            f"value map {_describe_map(self.truth_map)}{hint}",
            f"predictions: {self.prediction_note}",
        ]


def _run_evaluate(args: argparse.Namespace) -> int:
    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import read_label_set

    truth_map = _parse_value_map(args.value_map, "--value-map")
    prediction_map = _parse_value_map(args.pred_value_map, "--pred-value-map")
    labels: LabelSet | None = None
    labels_from = ""
    if args.classes is not None:
        labels, labels_from = read_label_set(args.classes), f"--classes {args.classes}"
    elif args.num_classes is not None:
        labels, labels_from = LabelSet.with_count(args.num_classes, ignore_index=args.ignore_index), "--num-classes"
    pairs = _match_by_stem(args.gt, args.pred)
    reading = decide_reading(
        args.gt, args.pred, pairs, labels=labels, labels_from=labels_from, ignore_index=args.ignore_index,
        truth_map=truth_map, prediction_map=prediction_map,
    )
    for line in reading.describe():
        print(line, file=sys.stderr)
    result = score_pairs(pairs, reading)
    print_scores(result, sys.stdout, worst=args.worst)
    if args.json is not None:
        _write_json(args.json, result.to_json_dict())
        print(f"\nwrote {args.json}")
    return EXIT_OK


def _parse_value_map(text: str | None, option: str) -> ValueMap | None:
    """``"0:1,255:0"`` (raw value:class id, comma separated; a raw value may be ``#rrggbb``) -> a strict map."""
    if text is None:
        return None
    from segstudio.io.mask_files import ValueMap

    values: dict[str, int] = {}
    for item in text.split(","):
        raw, colon, target = item.strip().partition(":")
        if not colon or not raw.strip() or not target.strip().isdigit():
            raise ValueError(f"{option} {text!r}: write it as raw value:class id pairs, e.g. 0:1,255:0 (got {item.strip()!r})")
        values[raw.strip()] = int(target)
    try:
        return ValueMap.from_mapping({"values": values})
    except ValueError as error:
        raise ValueError(f"{option} {text!r}: {error}") from error


def evaluate_folders(
    gt_dir: Path,
    pred_dir: Path,
    labels: LabelSet | None = None,
    *,
    ignore_index: int | None = None,
    truth_map: ValueMap | None = None,
    prediction_map: ValueMap | None = None,
) -> DatasetScores:
    """Score every ground-truth mask in ``gt_dir`` against the prediction of the same stem in ``pred_dir``.

    The masks are read as :func:`decide_reading` says (what it decided goes to stderr). Every problem (a missing
    or mis-sized prediction, a value outside the label set, an unreadable file) is a
    :class:`~segstudio.io.errors.FileProblem` naming the file; nothing is written before all masks are scored.
    """
    pairs = _match_by_stem(gt_dir, pred_dir)
    reading = decide_reading(
        gt_dir, pred_dir, pairs, labels=labels, labels_from="the caller", ignore_index=ignore_index,
        truth_map=truth_map, prediction_map=prediction_map,
    )
    for line in reading.describe():
        print(line, file=sys.stderr)
    return score_pairs(pairs, reading)


def decide_reading(
    gt_dir: Path,
    pred_dir: Path,
    pairs: Sequence[tuple[str, Path, Path]],
    *,
    labels: LabelSet | None = None,
    labels_from: str = "",
    ignore_index: int | None = None,
    truth_map: ValueMap | None = None,
    prediction_map: ValueMap | None = None,
) -> MaskReading:
    """Read the masks the way the app does. The ground truth: as its dataset's project file says when the folder
    is one of its mask sources (beside the data, or in the user data location for a read-only dataset), else as
    detection would read these masks. Explicit ``labels``, ``ignore_index`` and ``truth_map`` override. The
    predictions: ``prediction_map``; else as their project file says; class ids when segstudio wrote them; else
    decided from the values they hold (:func:`~segstudio.io.mask_convention.prediction_reading`)."""
    from dataclasses import replace

    from segstudio.io.dataset_spec import MaskKind, MaskRole
    from segstudio.io.mask_convention import find_mask_source

    notes: list[str] = []
    detected = False
    project = find_mask_source(gt_dir, notes, role=MaskRole.GROUND_TRUTH)
    if project is not None and project.source.kind is MaskKind.INSTANCE:
        # One id per object (Penn-Fudan): the project's label set names object classes, not these values.
        notes.append(f"{gt_dir} holds instance masks per its project file {project.project_file}; read by their values instead")
        project = None
    if project is not None:
        where = f"mask source {project.source.name!r} of the project file {project.project_file}"
        found_labels, found_map, found_from = project.labels, project.source.value_map, where
        if ignore_index is not None and labels is None:
            found_labels = replace(found_labels, ignore_index=ignore_index)
    elif truth_map is not None:
        found_labels, found_map, found_from = _labels_for_map(truth_map, ignore_index), truth_map, "--value-map"
    else:
        convention = _detect_truth(pairs, gt_dir, ignore_index)
        notes.extend(convention.notes)
        found_labels, found_map = convention.labels, convention.value_map
        found_from, detected = f"the values of its {len(pairs)} masks", True
    if labels is not None:
        if ignore_index is not None and ignore_index != labels.ignore_index:
            labels = replace(labels, ignore_index=ignore_index)
    else:
        labels, labels_from = found_labels, found_from
    if truth_map is not None:
        map_from = "--value-map"
    elif found_map is None or _map_fits(found_map, labels):
        truth_map, map_from = found_map, found_from
    else:
        notes.append(f"the value map found ({_describe_map(found_map)}) gives ids outside the label set; not used")
        map_from = "(none fits the label set)"
    prediction_map, prediction_note = _decide_predictions(pred_dir, pairs, labels, truth_map, prediction_map, notes)
    return MaskReading(labels, truth_map, prediction_map, labels_from, map_from, prediction_note, tuple(notes), detected)


def _detect_truth(pairs: Sequence[tuple[str, Path, Path]], gt_dir: Path, ignore_index: int | None) -> MaskConvention:
    from segstudio.io.dataset_detect import find_colour_table, find_label_file
    from segstudio.io.mask_convention import MaskConvention, convention_from_masks

    notes: list[str] = []
    named = find_label_file((gt_dir, gt_dir.parent), notes)
    masks = _count_values([gt for _, gt, _ in pairs], "counting ground-truth values")
    convention = convention_from_masks(masks, named=named, colour_table=find_colour_table(gt_dir.parent), ignore_index=ignore_index)
    return MaskConvention(convention.labels, convention.value_map, (*notes, *convention.notes))


def _decide_predictions(
    pred_dir: Path,
    pairs: Sequence[tuple[str, Path, Path]],
    labels: LabelSet,
    truth_map: ValueMap | None,
    given: ValueMap | None,
    notes: list[str],
) -> tuple[ValueMap | None, str]:
    from segstudio.io.dataset_spec import MaskRole
    from segstudio.io.mask_convention import find_mask_source, not_class_mask_notes, prediction_reading, written_by_segstudio

    if given is not None:
        return given, f"value map {_describe_map(given)} from --pred-value-map"
    project = find_mask_source(pred_dir, notes, role=MaskRole.PREDICTION)
    if project is not None:
        where = f"mask source {project.source.name!r} of the project file {project.project_file}"
        return project.source.value_map, f"value map {_describe_map(project.source.value_map)} from {where}"
    if written_by_segstudio(pred_dir):
        return None, "written by segstudio (class ids)"
    masks = _count_values([pred for _, _, pred in pairs], "counting predicted values")
    notes.extend(not_class_mask_notes(masks))
    values = {int(v) for m in masks for v in m.values.tolist()}
    reading = prediction_reading(values, labels, truth_map, colour=any(m.is_colour for m in masks))
    return reading.value_map, reading.note


def _count_values(paths: Sequence[Path], what: str) -> list[MaskValues]:
    from segstudio.io.mask_convention import MaskValues
    from segstudio.io.mask_files import read_raw_mask

    with _progress(paths, what) as bar:
        return [MaskValues.of(path.name, read_raw_mask(path)) for path in bar]


def _labels_for_map(value_map: ValueMap, ignore_index: int | None) -> LabelSet:
    from segstudio.core.labels import LabelSet

    targets = [t for _, t in value_map.pairs if t != ignore_index]
    return LabelSet.with_count(max(max(targets, default=0) + 1, 2), ignore_index=ignore_index)


def _map_fits(value_map: ValueMap, labels: LabelSet) -> bool:
    return all(labels.is_valid_value(target) for _, target in value_map.pairs)


def _describe_map(value_map: ValueMap | None) -> str:
    if value_map is None or value_map.is_identity:
        return "none (stored values are class ids)"
    pairs = ", ".join(f"{raw}: {target}" for raw, target in value_map.pairs[:8])
    more = ", ..." if len(value_map.pairs) > 8 else ""
    keep = ", others kept" if value_map.keep_unlisted else ""
    return f"{{{pairs}{more}}}{keep}"


def score_pairs(pairs: Sequence[tuple[str, Path, Path]], reading: MaskReading) -> DatasetScores:
    """Every pair's ground truth against its prediction, read as ``reading`` says."""
    from segstudio.core.metrics import DatasetEvaluator
    from segstudio.io.errors import FileProblem
    from segstudio.io.mask_files import read_class_mask

    labels = reading.labels
    evaluator = DatasetEvaluator(labels.num_classes, labels.ignore_index, labels.names)
    with _progress(pairs, "scoring") as bar:
        for stem, gt_path, pred_path in bar:
            truth = read_class_mask(gt_path, labels, value_map=reading.truth_map)
            prediction = read_class_mask(pred_path, labels, value_map=reading.prediction_map)
            if prediction.shape != truth.shape:
                raise FileProblem(
                    pred_path,
                    f"prediction is {prediction.shape[1]}x{prediction.shape[0]} but its ground truth {gt_path.name} is "
                    f"{truth.shape[1]}x{truth.shape[0]}",
                )
            try:
                evaluator.add(stem, truth, prediction)
            except ValueError as error:
                raise FileProblem(pred_path, str(error)) from error
    return evaluator.result()


def _match_by_stem(gt_dir: Path, pred_dir: Path) -> list[tuple[str, Path, Path]]:
    from segstudio.io.errors import FileProblem
    from segstudio.io.folder_listing import image_files

    for folder, role in ((gt_dir, "ground-truth"), (pred_dir, "prediction")):
        if not folder.is_dir():
            raise FileProblem(folder, f"{role} folder {'is not a folder' if folder.exists() else 'does not exist'}")
    truths = {stem: gt_dir / name for name, stem in image_files(gt_dir).items()}
    predictions = {stem: pred_dir / name for name, stem in image_files(pred_dir).items()}
    if not truths:
        raise FileProblem(gt_dir, "holds no mask files (.png, .tif, ...)")
    missing = sorted(stem for stem in truths if stem not in predictions)
    if missing:
        shown = ", ".join(truths[s].name for s in missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        first = truths[missing[0]]
        raise FileProblem(
            first,
            f"no prediction with the same name in {pred_dir} for {len(missing)} ground-truth mask(s): {shown}",
        )
    extra = sorted(stem for stem in predictions if stem not in truths)
    if extra:
        print(f"note: {len(extra)} prediction(s) in {pred_dir} have no ground truth and are not scored", file=sys.stderr)
    return [(stem, truths[stem], predictions[stem]) for stem in sorted(truths)]


def print_scores(result: DatasetScores, out: TextIO, *, worst: int = 5) -> None:
    overall = result.overall
    name_width = max(12, *(len(n) for n in overall.class_names))
    header = f"{'class':<{name_width}} {'overlap':>12} {'combined':>12} {'union':>12} {'IoU':>7} {'Dice':>7}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for scores in overall.classes:
        print(
            f"{scores.name:<{name_width}} {scores.overlap:>12,} {scores.combined:>12,} {scores.union:>12,} "
            f"{_fmt(scores.iou):>7} {_fmt(scores.dice):>7}",
            file=out,
        )
    print("-" * len(header), file=out)
    print(
        f"{len(result.per_image)} images, counts summed over the dataset: mean IoU {_fmt(overall.mean_iou)}, "
        f"mean Dice {_fmt(overall.mean_dice)}, pixel accuracy {_fmt(overall.pixel_accuracy)}",
        file=out,
    )
    means = result.image_mean
    print(
        f"mean of per-image scores: mean IoU {_fmt(means.mean_iou)}, mean Dice {_fmt(means.mean_dice)}, "
        f"pixel accuracy {_fmt(means.pixel_accuracy)}",
        file=out,
    )
    scored = [(name, s.mean_iou) for name, s in result.per_image.items() if s.mean_iou is not None]
    if worst > 0 and len(scored) > 1:
        print(f"\nworst {min(worst, len(scored))} images by mean IoU:", file=out)
        for name, value in sorted(scored, key=lambda item: item[1])[:worst]:
            print(f"  {_fmt(value)}  {name}", file=out)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _write_json(path: Path, data: object) -> None:
    from segstudio.io.atomic import write_text_atomic
    from segstudio.io.errors import FileProblem

    if not path.parent.exists():
        raise FileProblem(path, f"cannot write: folder {path.parent} does not exist")
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


_Item = TypeVar("_Item")


def _progress(items: Sequence[_Item], what: str) -> tqdm[_Item]:
    """``items`` with a tqdm bar on stderr that clears itself when done; shown only when stderr is a terminal
    and there is more than one item."""
    from tqdm import tqdm

    return tqdm(items, desc=what, total=len(items), file=sys.stderr, leave=False, dynamic_ncols=True,
                disable=not sys.stderr.isatty() or len(items) <= 1)


# -- scan ---------------------------------------------------------------------------------------------------


def _run_scan(args: argparse.Namespace) -> int:
    from segstudio.io.datasets import check_files, open_dataset

    dataset = open_dataset(args.folder, redetect=args.redetect)
    problems = list(dataset.problems)
    if args.check:
        problems.extend(check_files(dataset))
    print_dataset(dataset, problems, sys.stdout)
    return EXIT_OK


def print_dataset(dataset: Dataset, problems: Sequence[object], out: TextIO, *, shown_per_kind: int = 3) -> None:
    spec = dataset.spec
    state = "guessed now and saved to" if dataset.detected_now else "read from"
    print(f"{dataset.root}: {spec.layout.value} layout, {len(dataset.samples)} images", file=out)
    print(f"project file ({state}): {dataset.project_file}", file=out)
    for split in spec.splits:
        in_split = [s for s in dataset.samples if s.split == split]
        with_truth = sum(1 for s in in_split if dataset.ground_truth(s) is not None)
        with_prediction = sum(1 for s in in_split if dataset.predictions(s))
        print(f"  {split}: {len(in_split)} images, {with_truth} with ground truth, {with_prediction} with predictions", file=out)
    labels = spec.labels
    ignore = f", ignore id {labels.ignore_index} ({labels.ignore_name})" if labels.ignore_index is not None else ""
    print(f"classes ({labels.num_classes}{ignore}): {', '.join(f'{c.id} {c.name}' for c in labels.classes)}", file=out)
    print("how it was read:", file=out)
    for note in spec.notes:
        print(f"  - {note}", file=out)
    if problems:
        print(f"{len(problems)} problem(s):", file=out)
        by_kind: dict[str, list[object]] = {}
        for problem in problems:
            by_kind.setdefault(str(getattr(problem, "kind", "problem")), []).append(problem)
        for kind, listed in by_kind.items():
            print(f"  {kind} ({len(listed)}):", file=out)
            for problem in listed[:shown_per_kind]:
                print(f"    {problem}", file=out)
            if len(listed) > shown_per_kind:
                print(f"    ... and {len(listed) - shown_per_kind} more", file=out)


# -- the desktop app ----------------------------------------------------------------------------------------


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
    from segstudio.io.errors import FileProblem

    if not args.folder.is_dir():
        raise FileProblem(args.folder, "is not a folder" if args.folder.exists() else "does not exist")
    if args.model is not None and not args.model.is_file():
        raise FileProblem(args.model, "is not a file" if args.model.exists() else "does not exist")
    if args.screenshot is not None and args.screenshot.suffix.lower() != ".png":
        raise ValueError(f"--screenshot writes a PNG; give a file name ending in .png, not {args.screenshot.name}")
    from segstudio.ui.app import run_app

    return run_app(args.folder, image=args.image, screenshot=args.screenshot, model=args.model)


# -- demo ---------------------------------------------------------------------------------------------------


def _run_demo(args: argparse.Namespace) -> int:
    from segstudio.io.datasets import open_dataset
    from segstudio.io.demo_dataset import DEMO_LABELS, ensure_demo_dataset
    from segstudio.io.project_file import user_data_dir

    folder = ensure_demo_dataset(getattr(args, "folder", None) or user_data_dir() / "demo")
    dataset = open_dataset(folder)
    print_dataset(dataset, dataset.problems, sys.stdout)
    print(file=sys.stdout)
    print_scores(evaluate_folders(folder / "masks", folder / "predictions", DEMO_LABELS), sys.stdout)
    print(
        "\nOpen it in the desktop app with: segstudio (no arguments) or segstudio open DIR. "
        "Batch work: segstudio scan DIR, segstudio evaluate --gt DIR --pred DIR",
        file=sys.stdout,
    )
    return EXIT_OK
