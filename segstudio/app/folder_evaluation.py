"""Scoring a folder of predicted masks against a folder of ground truth, read the way the app reads them.

``segstudio evaluate`` and ``segstudio demo`` call :func:`evaluate_folders`; :func:`decide_reading` decides how
each folder's stored values become class ids before any mask is scored, and :class:`MaskReading` says where each
decision came from. Here a prediction may not hold the ignore id where the truth has a class (the metrics module's
rule, which reproduces torchmetrics): such a file is refused with the pixel count, never scored silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from segstudio.core.confusion import confusion_matrix
from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import DatasetEvaluator, DatasetScores
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.core.value_map import ValueMap
from segstudio.io.dataset_detect import find_colour_table, find_label_file
from segstudio.io.dataset_spec import MaskKind, MaskRole
from segstudio.io.folder_listing import SkippedEntry, image_files
from segstudio.io.mask_convention import (
    MaskConvention,
    MaskValues,
    convention_from_masks,
    find_mask_source,
    not_class_mask_notes,
    prediction_reading,
    written_by_segstudio,
)
from segstudio.io.mask_files import read_class_mask, read_raw_mask

# Progress stages, in the order they run.
COUNTING_TRUTH = "counting ground-truth values"
COUNTING_PREDICTIONS = "counting predicted values"
SCORING = "scoring"

ValueCounter = Callable[[Sequence[Path], str, "ProgressCallback | None"], list[MaskValues]]
"""Counts the stored values of mask files, in order: ``(paths, progress stage, progress) -> values``."""


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
            f"value map {describe_map(self.truth_map)}{hint}",
            f"predictions: {self.prediction_note}",
        ]


@dataclass(frozen=True)
class EvaluationPlan:
    """What will be scored and how, decided before any mask is scored: the pairs by stem, how each folder is read,
    and the predictions that have no ground truth (not scored)."""

    pairs: tuple[tuple[str, Path, Path], ...]
    reading: MaskReading
    unmatched_predictions: tuple[str, ...] = ()


@dataclass(frozen=True)
class FolderEvaluation:
    """The scores of a plan and the plan itself."""

    scores: DatasetScores
    plan: EvaluationPlan


def plan_evaluation(
    gt_dir: Path,
    pred_dir: Path,
    labels: LabelSet | None = None,
    *,
    labels_from: str = "the caller",
    ignore_index: int | None = None,
    truth_map: ValueMap | None = None,
    prediction_map: ValueMap | None = None,
    progress: ProgressCallback | None = None,
    count_values: ValueCounter | None = None,
) -> EvaluationPlan:
    """Pair ``gt_dir``'s masks with ``pred_dir``'s by stem and decide how to read them (:func:`decide_reading`)."""
    pairs, extra = match_by_stem(Path(gt_dir), Path(pred_dir))
    reading = decide_reading(
        Path(gt_dir), Path(pred_dir), pairs, labels=labels, labels_from=labels_from, ignore_index=ignore_index,
        truth_map=truth_map, prediction_map=prediction_map, progress=progress, count_values=count_values,
    )  # fmt: skip
    return EvaluationPlan(tuple(pairs), reading, tuple(extra))


def evaluate_folders(
    gt_dir: Path,
    pred_dir: Path,
    labels: LabelSet | None = None,
    *,
    labels_from: str = "the caller",
    ignore_index: int | None = None,
    truth_map: ValueMap | None = None,
    prediction_map: ValueMap | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FolderEvaluation:
    """Score every ground-truth mask in ``gt_dir`` against the prediction of the same stem in ``pred_dir``.

    The masks are read as :func:`decide_reading` says. Every problem (a missing or mis-sized prediction, a value
    outside the label set, an unreadable file) is a :class:`FileProblem` naming the file; nothing is written.
    """
    plan = plan_evaluation(
        gt_dir, pred_dir, labels, labels_from=labels_from, ignore_index=ignore_index, truth_map=truth_map,
        prediction_map=prediction_map, progress=progress,
    )  # fmt: skip
    return FolderEvaluation(score_pairs(plan.pairs, plan.reading, progress=progress, cancel=cancel), plan)


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
    progress: ProgressCallback | None = None,
    count_values: ValueCounter | None = None,
) -> MaskReading:
    """Read the masks the way the app does. The ground truth: as its dataset's project file says when the folder
    is one of its mask sources (beside the data, or in the user data location for a read-only dataset), else as
    detection would read these masks. Explicit ``labels``, ``ignore_index`` and ``truth_map`` override. The
    predictions: ``prediction_map``; else as their project file says; class ids when segstudio wrote them; else
    decided from the values they hold (:func:`~segstudio.io.mask_convention.prediction_reading`). ``count_values``
    counts the masks' values where they decide (default :func:`count_mask_values`, here; the Ray engine's on its
    workers)."""
    count_values = count_values or count_mask_values
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
        convention = _detect_truth(pairs, gt_dir, ignore_index, progress, count_values)
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
        notes.append(f"the value map found ({describe_map(found_map)}) gives ids outside the label set; not used")
        map_from = "(none fits the label set)"
    prediction_map, prediction_note = _decide_predictions(pred_dir, pairs, labels, truth_map, prediction_map, notes,
                                                          progress, count_values)
    return MaskReading(labels, truth_map, prediction_map, labels_from, map_from, prediction_note, tuple(notes), detected)


def _detect_truth(
    pairs: Sequence[tuple[str, Path, Path]], gt_dir: Path, ignore_index: int | None, progress: ProgressCallback | None,
    count_values: ValueCounter,
) -> MaskConvention:
    notes: list[str] = []
    named = find_label_file((gt_dir, gt_dir.parent), notes)
    masks = count_values([gt for _, gt, _ in pairs], COUNTING_TRUTH, progress)
    convention = convention_from_masks(masks, named=named, colour_table=find_colour_table(gt_dir.parent), ignore_index=ignore_index)
    return MaskConvention(convention.labels, convention.value_map, (*notes, *convention.notes))


def _decide_predictions(
    pred_dir: Path,
    pairs: Sequence[tuple[str, Path, Path]],
    labels: LabelSet,
    truth_map: ValueMap | None,
    given: ValueMap | None,
    notes: list[str],
    progress: ProgressCallback | None,
    count_values: ValueCounter,
) -> tuple[ValueMap | None, str]:
    if given is not None:
        return given, f"value map {describe_map(given)} from --pred-value-map"
    project = find_mask_source(pred_dir, notes, role=MaskRole.PREDICTION)
    if project is not None:
        where = f"mask source {project.source.name!r} of the project file {project.project_file}"
        return project.source.value_map, f"value map {describe_map(project.source.value_map)} from {where}"
    if written_by_segstudio(pred_dir):
        return None, "written by segstudio (class ids)"
    masks = count_values([pred for _, _, pred in pairs], COUNTING_PREDICTIONS, progress)
    notes.extend(not_class_mask_notes(masks))
    values = {int(v) for m in masks for v in m.values.tolist()}
    reading = prediction_reading(values, labels, truth_map, colour=any(m.is_colour for m in masks))
    return reading.value_map, reading.note


def count_mask_values(paths: Sequence[Path], stage: str, progress: ProgressCallback | None) -> list[MaskValues]:
    """Each mask's stored values, in order (a :class:`FileProblem` for the first that cannot be read)."""
    counted = []
    for index, path in enumerate(paths):
        counted.append(MaskValues.of(path.name, read_raw_mask(path)))
        report(progress, Progress(stage, index + 1, len(paths), path.name))
    return counted


def _labels_for_map(value_map: ValueMap, ignore_index: int | None) -> LabelSet:
    targets = [t for _, t in value_map.pairs if t != ignore_index]
    return LabelSet.with_count(max(max(targets, default=0) + 1, 2), ignore_index=ignore_index)


def _map_fits(value_map: ValueMap, labels: LabelSet) -> bool:
    return all(labels.is_valid_value(target) for _, target in value_map.pairs)


def describe_map(value_map: ValueMap | None) -> str:
    if value_map is None or value_map.is_identity:
        return "none (stored values are class ids)"
    pairs = ", ".join(f"{raw}: {target}" for raw, target in value_map.pairs[:8])
    more = ", ..." if len(value_map.pairs) > 8 else ""
    keep = ", others kept" if value_map.keep_unlisted else ""
    return f"{{{pairs}{more}}}{keep}"


def score_pairs(
    pairs: Sequence[tuple[str, Path, Path]], reading: MaskReading, *,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
) -> DatasetScores:
    """Every pair's ground truth against its prediction, read as ``reading`` says."""
    evaluator = new_evaluator(reading)
    for index, (stem, gt_path, pred_path) in enumerate(pairs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        evaluator.add_confusion(stem, pair_confusion(gt_path, pred_path, reading))
        report(progress, Progress(SCORING, index + 1, len(pairs), stem))
    return evaluator.result()


def new_evaluator(reading: MaskReading) -> DatasetEvaluator:
    """An empty evaluator for ``reading``'s label set (the Ray engine fills one with its workers' matrices)."""
    labels = reading.labels
    return DatasetEvaluator(labels.num_classes, labels.ignore_index, labels.names)


def pair_confusion(gt_path: Path, pred_path: Path, reading: MaskReading) -> np.ndarray:
    """One pair's confusion matrix (int64, truth x prediction), read as ``reading`` says; a :class:`FileProblem`
    names the file that cannot be scored. The one scoring step, local or on a Ray worker."""
    labels = reading.labels
    truth = read_class_mask(gt_path, labels, value_map=reading.truth_map)
    prediction = read_class_mask(pred_path, labels, value_map=reading.prediction_map)
    if prediction.shape != truth.shape:
        raise FileProblem(
            pred_path,
            f"prediction is {prediction.shape[1]}x{prediction.shape[0]} but its ground truth {gt_path.name} is "
            f"{truth.shape[1]}x{truth.shape[0]}",
        )
    try:
        return confusion_matrix(truth, prediction, labels.num_classes, labels.ignore_index)
    except ValueError as error:
        raise FileProblem(pred_path, str(error)) from error


def match_by_stem(gt_dir: Path, pred_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """``(stem, truth, prediction)`` for every ground-truth mask, and the stems of predictions without ground truth.

    A missing folder, an empty ground-truth folder or a ground-truth mask without its prediction is a
    :class:`FileProblem` naming the file or folder."""
    for folder, role in ((gt_dir, "ground-truth"), (pred_dir, "prediction")):
        if not folder.is_dir():
            raise FileProblem(folder, f"{role} folder {'is not a folder' if folder.exists() else 'does not exist'}")
    listings = {}
    for folder, role in ((gt_dir, "ground-truth"), (pred_dir, "prediction")):
        unlisted: list[SkippedEntry] = []
        listings[role] = {stem: folder / name for name, stem in image_files(folder, unlisted).items()}
        # the folder itself could not be listed (no permission): it is not an empty one
        for entry in unlisted:
            if Path(entry.path) == folder:
                raise FileProblem(folder, f"{role} folder {entry.reason.removesuffix('; skipped')}")
    truths, predictions = listings["ground-truth"], listings["prediction"]
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
    return [(stem, truths[stem], predictions[stem]) for stem in sorted(truths)], extra
