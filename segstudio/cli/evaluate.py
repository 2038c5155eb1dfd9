"""``segstudio evaluate``: score predicted masks against ground truth, read the way the app reads them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from segstudio.cli.exits import EXIT_OK

if TYPE_CHECKING:
    from segstudio.core.labels import LabelSet
    from segstudio.core.metrics import DatasetScores
    from segstudio.io.mask_convention import MaskConvention, MaskValues
    from segstudio.core.value_map import ValueMap
    from tqdm import tqdm


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
    :class:`~segstudio.core.errors.FileProblem` naming the file; nothing is written before all masks are scored.
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
    from segstudio.core.errors import FileProblem
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
    from segstudio.core.errors import FileProblem
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
    from segstudio.core.atomic import write_text_atomic
    from segstudio.core.errors import FileProblem

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


