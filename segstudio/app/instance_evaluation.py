"""Scoring a folder of predicted instance masks against a folder of ground-truth instance masks.

``segstudio evaluate --instances`` calls :func:`evaluate_instance_folders`. The folders are paired by file name stem
as :func:`~segstudio.app.folder_evaluation.match_by_stem` pairs them. Both are read with
:func:`~segstudio.io.mask_files.read_instance_mask`: classes and scores from segstudio's own instance PNGs, else
every instance is class 1 (Penn-Fudan's pedestrians) and, for a prediction, scored 1.0 (then AP ranks nothing:
equal scores keep instance-id order). Classes are named from a label set when one is given (``--classes``), else
"class <id>". Every problem is a :class:`FileProblem` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from segstudio.app.folder_evaluation import match_by_stem
from segstudio.core.errors import FileProblem
from segstudio.core.instance_ap import InstanceAPEvaluator, InstanceAPScores
from segstudio.core.instance_matching import InstanceMatching, InstanceOverlaps, instance_overlaps, match_overlaps
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.io.mask_files import read_instance_mask

SCORING_INSTANCES = "scoring instances"
MATCH_THRESHOLD = 0.5


@dataclass(frozen=True)
class InstanceFolderEvaluation:
    """Per-image matchings at IoU 0.5 (by stem, in pairing order), the dataset AP, the stems of predictions
    without ground truth (not scored) and of prediction files that carry no scores (every instance scored 1.0)."""

    per_image: dict[str, InstanceMatching]
    scores: InstanceAPScores
    unmatched_predictions: tuple[str, ...] = ()
    unscored_predictions: tuple[str, ...] = ()
    unnamed_classes: tuple[int, ...] = ()  # class ids outside the label set given (named "class <id>")
    labels_from: str = ""

    def notes(self) -> list[str]:
        notes = []
        if self.unnamed_classes:
            notes.append(unnamed_class_note(self.unnamed_classes, self.labels_from or "the label set"))
        if self.unscored_predictions:
            count, total = len(self.unscored_predictions), len(self.per_image)
            notes.append(
                f"{count} of {total} prediction files carry no scores: their instances are all scored 1.0, so AP "
                "ranks nothing among them (equal scores keep instance-id order)"
            )
        if self.unmatched_predictions:
            notes.append(f"{len(self.unmatched_predictions)} prediction(s) have no ground truth and are not scored")
        return notes

    def to_json_dict(self) -> dict[str, object]:
        return {
            **self.scores.to_json_dict(),
            "match_threshold": MATCH_THRESHOLD,
            "notes": self.notes(),
            "unscored_predictions": list(self.unscored_predictions),
            "predictions_without_ground_truth": list(self.unmatched_predictions),
            "per_image": {
                stem: {
                    "matches": [
                        {"prediction_id": m.prediction_id, "truth_id": m.truth_id, "class_id": m.class_id,
                         "iou": m.iou, "score": m.score}
                        for m in matching.matches
                    ],
                    "unmatched_predictions": list(matching.unmatched_predictions),
                    "missed_truths": list(matching.missed_truths),
                }
                for stem, matching in self.per_image.items()
            },
        }  # fmt: skip


def class_names_of(labels: LabelSet | None) -> dict[int, str]:
    """Class id -> name for the AP table: every class of ``labels`` (none: the evaluator's "class <id>")."""
    return {} if labels is None else {label.id: label.name for label in labels.classes}


def unnamed_class_note(class_ids: Iterable[int], labels_from: str) -> str:
    """The note for instance classes that ``labels_from``'s label set does not have (they keep "class <id>")."""
    ids = sorted(set(class_ids))
    shown = ", ".join(str(i) for i in ids)
    return f"class id(s) {shown} are not in {labels_from}: shown as \"class <id>\""


@dataclass(frozen=True)
class PairOverlaps:
    """One pair's step, done wherever it runs (here, or a Ray worker): the objects' overlaps and whether the
    prediction file carries scores."""

    overlaps: InstanceOverlaps
    unscored: bool


def pair_overlaps(gt_path: Path, pred_path: Path) -> PairOverlaps:
    """Read both instance masks and count their objects' overlaps; a problem is a :class:`FileProblem` naming
    the file."""
    truth = read_instance_mask(gt_path)
    prediction = read_instance_mask(pred_path)
    try:
        overlaps = instance_overlaps(truth, prediction)
    except ValueError as error:
        raise FileProblem(pred_path, str(error)) from error
    return PairOverlaps(overlaps, prediction.scores is None and bool(prediction.num_instances))


# Pairs (stem, truth, prediction) -> each pair's overlaps, in the pairs' order (here, or on a cluster).
PairCounter = Callable[[Sequence[tuple[str, Path, Path]], CancelToken | None], Iterable[PairOverlaps]]


def count_here(pairs: Sequence[tuple[str, Path, Path]], cancel: CancelToken | None) -> Iterator[PairOverlaps]:
    for _stem, gt_path, pred_path in pairs:
        if cancel is not None:
            cancel.raise_if_cancelled()
        yield pair_overlaps(gt_path, pred_path)


def evaluate_instance_folders(
    gt_dir: Path,
    pred_dir: Path,
    *,
    labels: LabelSet | None = None,
    labels_from: str = "",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    count: PairCounter = count_here,
) -> InstanceFolderEvaluation:
    """Match every ground-truth instance mask in ``gt_dir`` with the prediction of the same stem in ``pred_dir``
    and accumulate the dataset's mask AP (:class:`~segstudio.core.instance_ap.InstanceAPEvaluator`). ``labels``
    names the classes (``labels_from``: where it came from, for the note on ids it does not have); it does not
    change how the masks are read or scored. ``count``: where each pair's overlaps are counted (a Ray cluster's
    workers: :mod:`segstudio.app.ray_evaluation`); the evaluator takes them in the pairs' order either way."""
    pairs, extra = match_by_stem(Path(gt_dir), Path(pred_dir))
    names = class_names_of(labels)
    evaluator = InstanceAPEvaluator(names)
    per_image: dict[str, InstanceMatching] = {}
    unscored: list[str] = []
    for index, ((stem, _gt_path, _pred_path), counted) in enumerate(zip(pairs, count(pairs, cancel), strict=True)):
        if counted.unscored:
            unscored.append(stem)
        evaluator.add_overlaps(stem, counted.overlaps)
        per_image[stem] = match_overlaps(counted.overlaps, threshold=MATCH_THRESHOLD)
        report(progress, Progress(SCORING_INSTANCES, index + 1, len(pairs), stem))
    scores = evaluator.result()
    unnamed = tuple(c.class_id for c in scores.classes if c.class_id not in names) if labels is not None else ()
    return InstanceFolderEvaluation(per_image, scores, tuple(extra), tuple(unscored), unnamed, labels_from)
