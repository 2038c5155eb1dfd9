"""COCO mask AP of a project's instance predictions against its instance ground truth, for the window.

:func:`dataset_instance_scores` scores every image that has both an instance ground truth (its source is
:attr:`~segstudio.io.dataset_spec.MaskKind.INSTANCE`, read with :func:`~segstudio.io.mask_files.read_instance_mask`)
and a prediction file holding instances (one segstudio wrote as instances, read with
:func:`~segstudio.io.mask_files.read_tagged_instance_mask`). The AP is the one ``segstudio evaluate --instances``
prints (:class:`~segstudio.core.instance_ap.InstanceAPEvaluator`, equal to pycocotools' COCOeval), the images added
in the dataset's sample order (COCO's image id order). Per image it also gives the figures a researcher sorts by:
objects in the truth and the prediction, matched at IoU 0.5 and their mean IoU.

A prediction that is a plain class mask has no objects to rank, so it gets no AP: it is counted in a note, never
scored as if it were instances. No Qt here: the window runs this on a worker with progress and cancel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from segstudio.app.instance_evaluation import MATCH_THRESHOLD, class_names_of, unnamed_class_note
from segstudio.core.errors import FileProblem
from segstudio.core.instance_ap import MAX_DETECTIONS, InstanceAPEvaluator, InstanceAPScores
from segstudio.core.instance_matching import InstanceMatching, match_overlaps
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.io.dataset_spec import MaskKind, MaskRole
from segstudio.io.datasets import Dataset
from segstudio.io.mask_files import read_instance_mask, read_tagged_instance_mask

SCORING_INSTANCE_AP = "instance AP"


@dataclass(frozen=True)
class ImageInstanceFigures:
    """One scored image: its objects in the ground truth and the prediction, the predictions matched at IoU 0.5
    (of the 100 best scored per class, as the AP counts them, so the images' ``matched_objects`` add up to the
    table's) and the mean IoU of those matches (None: nothing matched). ``matching`` lists who matched whom."""

    key: str
    prediction: Path
    truth_objects: int
    predicted_objects: int
    matched_objects: int
    mean_matched_iou: float | None
    matching: InstanceMatching

    @property
    def missed_objects(self) -> int:
        """Ground-truth objects no prediction matched."""
        return self.truth_objects - self.matched_objects

    @property
    def false_positives(self) -> int:
        """Predictions that matched no ground-truth object."""
        return self.predicted_objects - self.matched_objects

    @property
    def recall(self) -> float | None:
        return self.matched_objects / self.truth_objects if self.truth_objects else None

    @property
    def precision(self) -> float | None:
        return self.matched_objects / self.predicted_objects if self.predicted_objects else None


@dataclass(frozen=True)
class DatasetInstanceScores:
    """The dataset's mask AP (per class and overall; ``scores.classes`` named from the label set) and the figures of
    every scored image in the dataset's sample order.

    Sample keys left out: ``class_mask_predictions`` (the prediction is a class mask: no AP),
    ``without_prediction`` (instance ground truth but no prediction), ``without_instance_truth`` (a prediction but no
    instance ground truth). ``unscored_predictions``: scored images whose prediction file carries no scores (every
    instance 1.0)."""

    scores: InstanceAPScores
    per_image: tuple[ImageInstanceFigures, ...]
    class_mask_predictions: tuple[str, ...] = ()
    without_prediction: tuple[str, ...] = ()
    without_instance_truth: tuple[str, ...] = ()
    unscored_predictions: tuple[str, ...] = ()
    unnamed_classes: tuple[int, ...] = ()

    def image(self, key: str) -> ImageInstanceFigures:
        for figures in self.per_image:
            if figures.key == key:
                return figures
        raise KeyError(f"image {key!r} was not scored")

    def notes(self) -> list[str]:
        notes = []
        if self.class_mask_predictions:
            notes.append(f"{len(self.class_mask_predictions)} images' predictions are class masks: no AP")
        if self.unscored_predictions:
            notes.append(
                f"{len(self.unscored_predictions)} of {len(self.per_image)} predictions carry no scores: their "
                "instances are all scored 1.0, so AP ranks nothing among them"
            )
        if self.without_prediction:
            notes.append(f"{len(self.without_prediction)} images with instance ground truth have no prediction")
        if self.without_instance_truth:
            notes.append(f"{len(self.without_instance_truth)} predictions have no instance ground truth: not scored")
        if self.unnamed_classes:
            notes.append(unnamed_class_note(self.unnamed_classes, "the project's label set"))
        return notes


def has_instance_truth(dataset: Dataset) -> bool:
    """Whether any mask source of ``dataset`` is an instance ground truth (nothing is read)."""
    return any(source.role is MaskRole.GROUND_TRUTH and source.kind is MaskKind.INSTANCE
               for source in dataset.spec.mask_sources)


def instance_predictions(dataset: Dataset, made: Mapping[str, Path]) -> dict[str, Path]:
    """Per image the prediction to score: the one the app's model made (``made``), else the data set's own first
    prediction file (nothing is read: which of them hold instances is :func:`dataset_instance_scores`' business)."""
    chosen: dict[str, Path] = {}
    for sample in dataset.samples:
        path = made.get(sample.key)
        if path is None:
            path = next(iter(dataset.predictions(sample).values()), None)
        if path is not None:
            chosen[sample.key] = path
    return chosen


def dataset_instance_scores(
    dataset: Dataset,
    predictions: Mapping[str, Path],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DatasetInstanceScores | None:
    """Mask AP of ``predictions`` (sample key -> prediction file, e.g.
    :func:`~segstudio.app.project_predictions.app_predictions`) against ``dataset``'s instance ground truth; None
    when no image has both an instance ground truth and a prediction holding instances.

    Every file that cannot be read, or whose size or scores do not fit, is a :class:`FileProblem` naming it.
    Progress: stage :data:`SCORING_INSTANCE_AP`, one step per image with both files; ``cancel`` is checked
    before each."""
    candidates = []
    without_prediction: list[str] = []
    without_instance_truth: list[str] = []
    for sample in dataset.samples:
        source = dataset.ground_truth_source(sample)
        truth_path = dataset.ground_truth(sample)
        prediction_path = predictions.get(sample.key)
        has_truth = truth_path is not None and source is not None and source.kind is MaskKind.INSTANCE
        if has_truth and prediction_path is not None:
            candidates.append((sample.key, truth_path, Path(prediction_path)))
        elif has_truth:
            without_prediction.append(sample.key)
        elif prediction_path is not None:
            without_instance_truth.append(sample.key)

    labels = dataset.spec.labels
    names = class_names_of(labels)
    evaluator = InstanceAPEvaluator(names)
    per_image: list[ImageInstanceFigures] = []
    class_masks: list[str] = []
    unscored: list[str] = []
    for index, (key, truth_path, prediction_path) in enumerate(candidates):
        if cancel is not None:
            cancel.raise_if_cancelled()
        # The prediction first: a class mask is skipped without reading its ground truth.
        prediction = read_tagged_instance_mask(prediction_path)
        if prediction is None:
            class_masks.append(key)
        else:
            truth = read_instance_mask(truth_path)
            try:
                overlaps = evaluator.add(key, truth, prediction)
            except ValueError as error:  # another size, or scores for only some instances
                raise FileProblem(prediction_path, str(error)) from error
            if prediction.scores is None and len(overlaps.prediction_ids):
                unscored.append(key)
            # COCO keeps the 100 best scored per class; so does this matching, so the images' counts add up.
            matching = match_overlaps(overlaps, threshold=MATCH_THRESHOLD, max_detections=MAX_DETECTIONS)
            per_image.append(ImageInstanceFigures(
                key, prediction_path, len(overlaps.truth_ids), len(overlaps.prediction_ids), len(matching.matches),
                matching.mean_matched_iou, matching,
            ))  # fmt: skip
        report(progress, Progress(SCORING_INSTANCE_AP, index + 1, len(candidates), key))
    if not per_image:
        return None
    scores = evaluator.result()
    unnamed = tuple(c.class_id for c in scores.classes if c.class_id not in names)
    return DatasetInstanceScores(
        scores, tuple(per_image), tuple(class_masks), tuple(without_prediction), tuple(without_instance_truth),
        tuple(unscored), unnamed,
    )  # fmt: skip
