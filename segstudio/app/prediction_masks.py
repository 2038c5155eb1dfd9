"""Reading a prediction mask for one image the way the window shows it and scores it.

Predictions come from other programs in other shapes, and a labeler should still see them next to the image:

- **Another size** (ISBI's shipped 256 px predictions of 512 px slices): resized to the image, nearest
  neighbour, so every pixel keeps a class the model predicted (no blended, invented classes).
- **A probability map** (more distinct values than a class mask can hold, :data:`MAX_CLASS_VALUES`) for a
  two-class label set: thresholded at half its value range, the low values taking the class the ground truth
  stores with its lowest value (ISBI stores its membrane, the foreground, as 0).

Neither happens silently: each is a note in the result (:attr:`PredictionMask.notes`) that the window shows with
the image and that scores computed on it carry. Ground truth is never resized: it is what every score is
measured against, so one of another size is refused (:func:`read_truth_classes` says why and what to do).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.core.value_map import ValueMap
from segstudio.io.dataset_spec import MaskRole
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.mask_convention import MAX_CLASS_VALUES
from segstudio.io.mask_files import class_mask_dtype, read_class_mask, read_raw_mask

Size = tuple[int, int]  # (width, height), as the io layer gives sizes


@dataclass(frozen=True, eq=False)
class PredictionMask:
    """A prediction read for an image: class ids at the image's size, and what was done to get them."""

    path: Path
    classes: np.ndarray
    resized_from: Size | None = None  # (width, height) as stored, when it was resized
    thresholded: bool = False  # a probability map cut into two classes
    notes: tuple[str, ...] = ()  # one sentence per change, for the window and for scores


def resized_note(stored: Size, size: Size) -> str:
    """The words every place uses for a resized prediction."""
    return f"prediction resized from {stored[0]}x{stored[1]} to {size[0]}x{size[1]} (nearest neighbour)"


def read_prediction(
    path: Path, labels: LabelSet, size: Size, *, value_map: ValueMap | None = None,
    truth_map: ValueMap | None = None, resize: bool = True,
) -> PredictionMask:
    """Read the prediction ``path`` for an image of ``size`` (``(width, height)``).

    ``value_map``: the prediction source's own; ``truth_map``: the ground truth's, which says which class the
    low values of a probability map are. ``resize=False`` refuses another size (:class:`FileProblem`) instead
    of resizing. Raises :class:`FileProblem` naming the file for everything else that cannot be read as classes.
    """
    path = Path(path)
    notes: list[str] = []
    thresholded = False
    try:
        classes = read_class_mask(path, labels, value_map=value_map)
    except FileProblem as problem:
        classes = _thresholded(path, labels, truth_map, notes)
        if classes is None:
            raise problem from None
        thresholded = True
    stored = (int(classes.shape[1]), int(classes.shape[0]))
    if stored == tuple(size):
        return PredictionMask(path, classes, None, thresholded, tuple(notes))
    if not resize:
        raise FileProblem(path, f"mask is {stored[0]}x{stored[1]} but its image is {size[0]}x{size[1]}")
    notes.insert(0, resized_note(stored, size))
    return PredictionMask(path, resize_nearest(classes, size), stored, thresholded, tuple(notes))


def truth_value_map(dataset: Dataset, sample: Sample) -> ValueMap | None:
    """How the dataset stores its ground truth (the sample's own source, else any): which class a probability
    map's low values are, for images without ground truth too (ISBI's test slices)."""
    source = dataset.ground_truth_source(sample)
    if source is not None and source.value_map is not None:
        return source.value_map
    truths = (s.value_map for s in dataset.spec.mask_sources if s.role is MaskRole.GROUND_TRUTH)
    return next((value_map for value_map in truths if value_map is not None), None)


def resize_nearest(values: np.ndarray, size: Size) -> np.ndarray:
    """``values`` (2-D) at ``size`` (``(width, height)``), each output pixel taking the stored pixel under its
    centre: an exact 2x enlargement repeats every pixel as a 2x2 block, and no value is ever blended."""
    height, width = values.shape
    rows = np.minimum(((np.arange(size[1]) + 0.5) * height / size[1]).astype(np.intp), height - 1)
    columns = np.minimum(((np.arange(size[0]) + 0.5) * width / size[0]).astype(np.intp), width - 1)
    return np.ascontiguousarray(values[rows[:, None], columns[None, :]])


def read_truth_classes(path: Path, labels: LabelSet, value_map: ValueMap | None, size: Size) -> np.ndarray:
    """A semantic ground-truth mask's class ids, which must be the image's ``size``: ground truth is what every
    score is measured against, so one of another size is refused (naming the file and what to do), never resized."""
    truth = read_class_mask(path, labels, value_map=value_map)
    if truth.shape != (size[1], size[0]):
        raise FileProblem(
            path,
            f"ground truth is {truth.shape[1]}x{truth.shape[0]} but its image is {size[0]}x{size[1]}; ground truth is "
            "never resized (every score is measured against it): fix or replace the file",
        )
    return truth


def _thresholded(path: Path, labels: LabelSet, truth_map: ValueMap | None, notes: list[str]) -> np.ndarray | None:
    """Two classes from a grey probability map, or None when ``path`` is not one (or the label set is not binary)."""
    if labels.num_classes != 2:
        return None
    try:
        raw = read_raw_mask(path)
    except FileProblem:
        return None
    if raw.is_colour:
        return None
    present = np.unique(raw.values)
    if len(present) <= MAX_CLASS_VALUES:
        return None
    top = 255 if int(present[-1]) <= 255 else 65535 if int(present[-1]) <= 65535 else int(present[-1])
    threshold = (top + 1) // 2
    low_class, high_class, why = _classes_by_stored_order(truth_map, labels)
    classes = np.where(raw.values < threshold, low_class, high_class).astype(class_mask_dtype(labels))
    notes.append(
        f"prediction is a probability map ({len(present):,} values), not class ids: below {threshold:,} shown as "
        f"{labels.names[low_class]}, the rest as {labels.names[high_class]} ({why})"
    )
    return classes


def _classes_by_stored_order(truth_map: ValueMap | None, labels: LabelSet) -> tuple[int, int, str]:
    """(class of the low values, class of the high values, why): as the ground truth's two stored values map
    (ISBI: 0 -> membrane 1, 255 -> cell 0), else low = class 0 and high = class 1 (a foreground probability)."""
    if truth_map is not None:
        stored = truth_map.as_dict()
        if len(stored) == 2:
            low, high = (stored[value] for value in sorted(stored))
            if {low, high} == {0, 1}:
                return low, high, f"low = {labels.names[low]}, as in the ground truth"
    return 0, 1, f"read as the probability of {labels.names[1]}"
