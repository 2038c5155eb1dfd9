"""``segstudio evaluate``: score predicted masks against ground truth (:mod:`segstudio.app.folder_evaluation`),
print the table, optionally write JSON and a report of figures (the dataset view's, as PNG or SVG)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from segstudio.cli.engine_options import describe_cluster, plan_workers, uses_ray
from segstudio.cli.exits import EXIT_OK

if TYPE_CHECKING:
    from segstudio.app.folder_evaluation import EvaluationPlan, ValueCounter
    from segstudio.app.instance_evaluation import PairCounter
    from segstudio.core.instance_ap import InstanceAPScores
    from segstudio.core.labels import LabelSet
    from segstudio.core.metrics import DatasetScores
    from segstudio.core.progress import Progress, ProgressCallback
    from segstudio.core.value_map import ValueMap


def ignore_index(text: str) -> int:
    """``--ignore-index``'s value: a mask value (0..65535, masks being 8- or 16-bit images); argparse reports the
    words as a usage error."""
    from segstudio.core.labels import MAX_MASK_VALUE  # here, not at the top: --help loads no numpy

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_MASK_VALUE:
        raise argparse.ArgumentTypeError(
            f"{text} is not a mask value: the ignore id is a whole number in 0..{MAX_MASK_VALUE} (masks are 8- or "
            "16-bit images), at least the number of classes, e.g. 255")
    return value


def print_skipped_entries(folders: Sequence[Path], out: TextIO) -> None:
    """A note per file name in ``folders`` left out because it cannot be looked at (a symbolic link loop...)."""
    from segstudio.io.folder_listing import skipped_entries

    for folder in dict.fromkeys(folders):
        for entry in skipped_entries(folder):
            print(f"note: {entry}", file=out)


def _run_evaluate(args: argparse.Namespace) -> int:
    ray = uses_ray(args)
    if ray:
        from segstudio.app.ray_cluster import import_ray

        import_ray()  # the one-line "pip install" error before any mask is read
    print_skipped_entries([args.gt, args.pred], sys.stderr)
    if getattr(args, "instances", False):
        return _run_evaluate_instances(args, ray)
    from segstudio.app.folder_evaluation import plan_evaluation
    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import read_label_set

    report = getattr(args, "report", None)
    if report is not None:
        check_report_path(report)  # before any mask is read: a typo in the name costs nothing
    truth_map = _parse_value_map(args.value_map, "--value-map")
    prediction_map = _parse_value_map(args.pred_value_map, "--pred-value-map")
    labels: LabelSet | None = None
    labels_from = ""
    if args.classes is not None:
        labels, labels_from = read_label_set(args.classes), f"--classes {args.classes}"
    elif args.num_classes is not None:
        labels, labels_from = LabelSet.with_count(args.num_classes, ignore_index=args.ignore_index), "--num-classes"
    with _engine(args, ray) as engine:
        with progress_bars() as progress:
            plan = plan_evaluation(
                args.gt, args.pred, labels, labels_from=labels_from, ignore_index=args.ignore_index,
                truth_map=truth_map, prediction_map=prediction_map, progress=progress, count_values=engine.count_values,
            )  # fmt: skip
        print_reading(plan, args.pred, sys.stderr)  # before scoring: what was decided shows at once
        with progress_bars() as progress:
            scores = engine.score(plan.pairs, plan.reading, progress=progress)
    print_scores(scores, sys.stdout, worst=args.worst)
    if args.json is not None:
        _write_json(args.json, scores.to_json_dict())
        print(f"\nwrote {args.json}")
    if report is not None:
        write_report(report, scores, plan.reading.labels, f"predictions {args.pred} vs ground truth {args.gt}")
        print(f"\nwrote {report}")
    return EXIT_OK


@dataclass(frozen=True)
class _Engine:
    """Where the masks' values are counted (None: here) and the pairs scored."""

    count_values: ValueCounter | None
    score: Callable[..., DatasetScores]


@contextmanager
def _engine(args: argparse.Namespace, ray: bool) -> Iterator[_Engine]:
    """This process, or a Ray cluster for the length of the command (:mod:`segstudio.app.ray_evaluation`): the
    same figures either way."""
    if not ray:
        from segstudio.app.folder_evaluation import score_pairs

        yield _Engine(None, score_pairs)
        return
    from segstudio.app.ray_cluster import ray_cluster
    from segstudio.app.ray_evaluation import ray_value_counter, score_pairs_on_ray

    with ray_cluster(args.address) as cluster:
        pool = plan_workers(cluster, args, model=False)
        print(describe_cluster(cluster, pool, model=False), file=sys.stderr)
        yield _Engine(ray_value_counter(cluster, pool), partial(score_pairs_on_ray, cluster, pool))


def _run_evaluate_instances(args: argparse.Namespace, ray: bool = False) -> int:
    """``evaluate --instances``: mask AP per class and overall (:mod:`segstudio.app.instance_evaluation`)."""
    from segstudio.app.instance_evaluation import evaluate_instance_folders
    from segstudio.io.labelset_files import read_label_set

    semantic_only = [option for option, value in (
        ("--num-classes", args.num_classes), ("--ignore-index", args.ignore_index),
        ("--value-map", args.value_map), ("--pred-value-map", args.pred_value_map),
        ("--report", getattr(args, "report", None)),
    ) if value is not None]  # fmt: skip
    if semantic_only:
        raise ValueError(f"{', '.join(semantic_only)} apply to class masks, not to --instances")
    # --classes only names the instance classes (ids stay as the files say); read before any mask, so a bad file
    # costs nothing.
    labels = None if args.classes is None else read_label_set(args.classes)
    with _instance_engine(args, ray) as count, progress_bars() as progress:
        result = evaluate_instance_folders(
            args.gt, args.pred, labels=labels, labels_from=f"--classes {args.classes}", progress=progress, count=count
        )
    for note in result.notes():
        print(f"note: {note}", file=sys.stderr)
    print_instance_scores(result.scores, sys.stdout)
    if args.json is not None:
        _write_json(args.json, result.to_json_dict())
        print(f"\nwrote {args.json}")
    return EXIT_OK


@contextmanager
def _instance_engine(args: argparse.Namespace, ray: bool) -> Iterator[PairCounter]:
    """Where each instance pair's overlaps are counted: here, or on a Ray cluster for the length of the command."""
    from segstudio.app.instance_evaluation import count_here

    if not ray:
        yield count_here
        return
    from segstudio.app.ray_cluster import ray_cluster
    from segstudio.app.ray_evaluation import ray_pair_counter

    with ray_cluster(args.address) as cluster:
        pool = plan_workers(cluster, args, model=False)
        print(describe_cluster(cluster, pool, model=False), file=sys.stderr)
        yield ray_pair_counter(cluster, pool)


def print_instance_scores(scores: InstanceAPScores, out: TextIO) -> None:
    """Per class and overall: AP@0.5, AP@0.75, AP@[.5:.95] (COCO's mask AP) and matched/predicted/truth objects."""
    name_width = max(12, *(len(c.name) for c in scores.classes)) if scores.classes else 12
    header = (f"{'class':<{name_width}} {'AP@0.5':>7} {'AP@0.75':>7} {'AP@[.5:.95]':>11} "
              f"{'matched':>8} {'predicted':>9} {'truth':>8}")
    print(header, file=out)
    print("-" * len(header), file=out)
    rows = [(c.name, c.ap50, c.ap75, c.ap, c.matched_objects, c.predicted_objects, c.truth_objects) for c in scores.classes]
    for name, ap50, ap75, ap, matched, predicted, truth in rows:
        print(f"{name:<{name_width}} {_fmt(ap50):>7} {_fmt(ap75):>7} {_fmt(ap):>11} {matched:>8,} {predicted:>9,} {truth:>8,}",
              file=out)
    print("-" * len(header), file=out)
    print(
        f"{'overall':<{name_width}} {_fmt(scores.ap50):>7} {_fmt(scores.ap75):>7} {_fmt(scores.ap):>11} "
        f"{scores.matched_objects:>8,} {scores.predicted_objects:>9,} {scores.truth_objects:>8,}",
        file=out,
    )
    print(
        f"{scores.images} images; COCO mask AP (101-point, at most 100 predictions per image and class, overall = mean "
        "over the classes with ground truth; n/a: no ground truth); matched = at IoU >= 0.5",
        file=out,
    )


REPORT_SUFFIXES = (".png", ".svg")
_gui_application: object = None


def check_report_path(path: Path) -> None:
    """A report name that ends in .png or .svg, in a folder that exists (else the usage error names the file)."""
    from segstudio.core.errors import FileProblem

    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ValueError(f"--report {path}: the name must end in .png or .svg (it says which to write)")
    if path.is_dir():
        raise FileProblem(path, "cannot write the report: a folder of that name exists")
    if not path.parent.is_dir():
        raise FileProblem(path, f"cannot write the report: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise FileProblem(path, f"cannot write the report: folder {path.parent} is not writable")


def write_report(path: Path, scores: DatasetScores, labels: LabelSet, title: str) -> None:
    """Draw the dataset view's figures for ``scores`` (the numbers of the JSON) into ``path`` (.png or .svg).
    Loads Qt only here, offscreen, so ``segstudio --help`` and a plain evaluate never do."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    from segstudio.ui.figure_data import FigureData
    from segstudio.ui.report_files import render_report

    check_report_path(path)
    global _gui_application
    if QGuiApplication.instance() is None:  # text needs Qt's fonts, which need an application (kept till exit)
        _gui_application = QGuiApplication([sys.argv[0] if sys.argv else "segstudio"])
    render_report(FigureData.from_scores(scores, labels), path, title)


def print_reading(plan: EvaluationPlan, pred_dir: Path, out: TextIO) -> None:
    """How the masks were read (notes, label set, value maps) and the predictions left unscored."""
    for line in plan.reading.describe():
        print(line, file=out)
    if plan.unmatched_predictions:
        count = len(plan.unmatched_predictions)
        print(f"note: {count} prediction(s) in {pred_dir} have no ground truth and are not scored", file=out)


def _parse_value_map(text: str | None, option: str) -> ValueMap | None:
    """``"0:1,255:0"`` (raw value:class id, comma separated; a raw value may be ``#rrggbb``) -> a strict map."""
    if text is None:
        return None
    from segstudio.core.value_map import ValueMap

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
    from segstudio.core.atomic import write_text_atomic
    from segstudio.core.errors import FileProblem

    if not path.parent.exists():
        raise FileProblem(path, f"cannot write: folder {path.parent} does not exist")
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


@contextmanager
def progress_bars() -> Iterator[ProgressCallback]:
    """A progress callback drawing one tqdm bar per stage on stderr, each cleared when done; shown only when stderr
    is a terminal and a stage has more than one item."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def show(progress: Progress) -> None:
        bar = bars.get(progress.stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[progress.stage] = tqdm(
                desc=progress.stage, total=progress.total, file=sys.stderr, leave=False, dynamic_ncols=True,
                disable=not sys.stderr.isatty() or progress.total <= 1,
            )  # fmt: skip
        bar.update(progress.done - bar.n)

    try:
        yield show
    finally:
        for bar in bars.values():
            bar.close()
