"""Scores of one confusion matrix: per class (:class:`ClassScores`) and averaged (:class:`Scores`).

Every score here (IoU, Dice, pixel accuracy, overlap, combined area, union) is a function of the confusion
matrix (rows truth, columns prediction; see :mod:`segstudio.core.confusion`), so scores cost O(classes) once
it is counted. A class absent from both masks has no IoU or Dice ("n/a", ``None``), never a silent 0 or 1,
and means are taken over the classes that have a score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from segstudio.core.confusion import confusion_matrix


@dataclass(frozen=True, slots=True)
class ClassScores:
    """One class's pixel counts and the scores that follow from them.

    ``iou`` and ``dice`` are ``None`` ("n/a") when the class is in neither mask: there is nothing to score,
    and reporting 0 or 1 would drag a mean either way.
    """

    class_id: int
    name: str
    overlap: int  # pixels both masks give this class: true positives
    predicted: int  # pixels the prediction gives this class
    true: int  # pixels the ground truth gives this class

    @property
    def combined(self) -> int:
        """Predicted plus true pixels (the Dice denominator; overlap counts twice)."""
        return self.predicted + self.true

    @property
    def union(self) -> int:
        return self.combined - self.overlap

    @property
    def false_positive(self) -> int:
        return self.predicted - self.overlap

    @property
    def false_negative(self) -> int:
        return self.true - self.overlap

    @property
    def has_score(self) -> bool:
        return self.union > 0

    @property
    def iou(self) -> float | None:
        union = self.union
        return self.overlap / union if union else None

    @property
    def dice(self) -> float | None:
        combined = self.combined
        return 2 * self.overlap / combined if combined else None

    def to_json_dict(self) -> dict[str, int | float | None]:
        return {
            "overlap": self.overlap,
            "predicted": self.predicted,
            "true": self.true,
            "combined": self.combined,
            "union": self.union,
            "iou": self.iou,
            "dice": self.dice,
        }


@dataclass(frozen=True, eq=False)
class Scores:
    """Per-class and averaged scores of one confusion matrix (rows truth, columns prediction).

    Build with :meth:`from_confusion` or :meth:`from_masks`. The matrix is copied and frozen, so a Scores is
    a value: later edits to the array it came from do not change it. The ``*_array`` properties give the
    same numbers vectorised (float64, NaN for n/a) for plotting or tables.
    """

    confusion: np.ndarray
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        matrix = np.array(self.confusion, dtype=np.int64, copy=True)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
            raise ValueError(f"a confusion matrix must be square and non-empty, got shape {np.shape(self.confusion)}")
        if np.any(np.asarray(self.confusion) != matrix):
            raise ValueError("a confusion matrix must hold whole pixel counts")
        if (matrix < 0).any():
            raise ValueError("a confusion matrix cannot hold negative counts")
        matrix.flags.writeable = False
        object.__setattr__(self, "confusion", matrix)
        object.__setattr__(self, "class_names", checked_class_names(self.class_names, matrix.shape[0]))

    @classmethod
    def from_confusion(cls, confusion: np.ndarray, class_names: Sequence[str] | None = None) -> Scores:
        return cls(confusion, tuple(class_names) if class_names is not None else ())

    @classmethod
    def from_masks(
        cls,
        gt: np.ndarray,
        pred: np.ndarray,
        num_classes: int,
        ignore_index: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> Scores:
        return cls.from_confusion(confusion_matrix(gt, pred, num_classes, ignore_index), class_names)

    # -- vectors --------------------------------------------------------------------------------------------

    @property
    def num_classes(self) -> int:
        return self.confusion.shape[0]

    @cached_property
    def overlap_array(self) -> np.ndarray:
        return _frozen(np.diagonal(self.confusion).copy())

    @cached_property
    def predicted_array(self) -> np.ndarray:
        return _frozen(self.confusion.sum(axis=0))

    @cached_property
    def true_array(self) -> np.ndarray:
        return _frozen(self.confusion.sum(axis=1))

    @property
    def combined_array(self) -> np.ndarray:
        return self.predicted_array + self.true_array

    @property
    def union_array(self) -> np.ndarray:
        return self.combined_array - self.overlap_array

    @property
    def scored_array(self) -> np.ndarray:
        """True where a class has a score (it is in at least one of the masks)."""
        return self.union_array > 0

    @cached_property
    def iou_array(self) -> np.ndarray:
        return _frozen(_ratio(self.overlap_array, self.union_array))

    @cached_property
    def dice_array(self) -> np.ndarray:
        return _frozen(_ratio(2 * self.overlap_array, self.combined_array))

    # -- per class and means --------------------------------------------------------------------------------

    @cached_property
    def classes(self) -> tuple[ClassScores, ...]:
        overlap, predicted, true = self.overlap_array, self.predicted_array, self.true_array
        return tuple(
            ClassScores(i, name, int(overlap[i]), int(predicted[i]), int(true[i]))
            for i, name in enumerate(self.class_names)
        )

    def __getitem__(self, key: int | str) -> ClassScores:
        """The scores of one class, by id or by name."""
        if isinstance(key, str):
            try:
                return self.classes[self.class_names.index(key)]
            except ValueError:
                raise KeyError(f"no class named {key!r}; classes are {', '.join(self.class_names)}") from None
        return self.classes[key]

    @property
    def total(self) -> int:
        """Pixels counted (ignored pixels left out)."""
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @cached_property
    def mean_iou(self) -> float | None:
        """Mean IoU over the classes that have a score; None when none has."""
        return mean_of_scored(self.iou_array)

    @cached_property
    def mean_dice(self) -> float | None:
        return mean_of_scored(self.dice_array)

    @property
    def pixel_accuracy(self) -> float | None:
        total = self.total
        return self.correct / total if total else None

    def to_json_dict(self, *, include_confusion: bool = True) -> dict[str, Any]:
        """Plain JSON-ready data: per class counts and scores by name, means, and the matrix. null = n/a."""
        data: dict[str, Any] = {
            "per_class": {c.name: c.to_json_dict() for c in self.classes},
            "mean_iou": self.mean_iou,
            "mean_dice": self.mean_dice,
            "pixel_accuracy": self.pixel_accuracy,
        }
        if include_confusion:
            data["confusion_matrix"] = self.confusion.tolist()
        return data


def checked_class_names(names: Sequence[str], count: int) -> tuple[str, ...]:
    """``names`` as a tuple of ``count`` unique strings, or ``"class 0"``, ``"class 1"``... when empty."""
    if not names:
        return tuple(f"class {i}" for i in range(count))
    names = tuple(str(n) for n in names)
    if len(names) != count:
        raise ValueError(f"{len(names)} class names given for a {count}-class confusion matrix")
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"class names must be unique (they key the results); repeated: {', '.join(repeated)}")
    return names


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    result = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def mean_of_scored(values: np.ndarray) -> float | None:
    """The mean of the values that are not NaN (n/a), or None when there are none."""
    scored = values[~np.isnan(values)]
    return float(scored.mean()) if scored.size else None


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array

