"""A dataset's scores: :class:`DatasetEvaluator` accumulates images, :class:`DatasetScores` reports them.

Two averages, both kept: the scores of the summed confusion matrix (big images and objects weigh more), and
the mean of per-image scores (:class:`ImageMeanScores`, every image weighs the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from segstudio.core.confusion import check_class_count, confusion_matrix
from segstudio.core.scores import Scores, checked_class_names, mean_of_scored


@dataclass(frozen=True, eq=False)
class ImageMeanScores:
    """Scores averaged over images, each image weighing the same however many pixels it has.

    Per class: the mean of that class's per-image score over the images where it has one (``images`` says how
    many), so an image without the class neither helps nor hurts it. Overall: the mean over images of each
    image's mean IoU / mean Dice / pixel accuracy (images with nothing scored left out).
    """

    class_names: tuple[str, ...]
    iou: tuple[float | None, ...]
    dice: tuple[float | None, ...]
    images: tuple[int, ...]
    mean_iou: float | None
    mean_dice: float | None
    pixel_accuracy: float | None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "per_class": {
                name: {"iou": self.iou[i], "dice": self.dice[i], "images": self.images[i]}
                for i, name in enumerate(self.class_names)
            },
            "mean_iou": self.mean_iou,
            "mean_dice": self.mean_dice,
            "pixel_accuracy": self.pixel_accuracy,
        }


@dataclass(frozen=True, eq=False)
class DatasetScores:
    """A dataset's scores two ways.

    ``overall`` sums every image's confusion matrix and scores the sum (the VOC / Cityscapes convention: big
    images and big objects weigh more). ``image_mean`` averages per-image scores instead. ``per_image`` holds
    each image's own scores by name, in the order they were added.
    """

    overall: Scores
    image_mean: ImageMeanScores
    per_image: Mapping[str, Scores] = field(default_factory=dict)
    ignore_index: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_image", MappingProxyType(dict(self.per_image)))

    @property
    def mean_iou(self) -> float | None:
        return self.overall.mean_iou

    @property
    def mean_dice(self) -> float | None:
        return self.overall.mean_dice

    @property
    def pixel_accuracy(self) -> float | None:
        return self.overall.pixel_accuracy

    def to_json_dict(self) -> dict[str, Any]:
        """What the CLI writes: accumulated scores at the top level, per-image means under ``mean_of_images``.

        Keys: ``class_names``, ``ignore_index``, ``num_images``, ``per_class`` (name -> overlap, predicted,
        true, combined, union, iou, dice), ``mean_iou``, ``mean_dice``, ``pixel_accuracy``,
        ``confusion_matrix`` (rows truth, columns prediction), ``mean_of_images`` (per_class name -> iou,
        dice, images; mean_iou, mean_dice, pixel_accuracy) and ``per_image`` (name -> per_class, mean_iou,
        mean_dice, pixel_accuracy; no matrix, to keep the file small). JSON null means n/a.
        """
        data: dict[str, Any] = {
            "class_names": list(self.overall.class_names),
            "ignore_index": self.ignore_index,
            "num_images": len(self.per_image),
        }
        data.update(self.overall.to_json_dict(include_confusion=True))
        data["mean_of_images"] = self.image_mean.to_json_dict()
        data["per_image"] = {
            name: scores.to_json_dict(include_confusion=False) for name, scores in self.per_image.items()
        }
        return data


class DatasetEvaluator:
    """Accumulates a dataset's scores one image at a time; :meth:`result` gives both kinds of average.

    Keeps one small confusion matrix per image, never the masks.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        check_class_count(num_classes, ignore_index)
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.class_names = checked_class_names(tuple(class_names) if class_names is not None else (), self.num_classes)
        self._per_image: dict[str, Scores] = {}

    def __len__(self) -> int:
        return len(self._per_image)

    def add(self, name: str, gt: np.ndarray, pred: np.ndarray) -> Scores:
        """Score one image pair, remember it under ``name`` (unique), and return its scores."""
        self._check_new(name)
        return self.add_confusion(name, confusion_matrix(gt, pred, self.num_classes, self.ignore_index))

    def add_confusion(self, name: str, confusion: np.ndarray) -> Scores:
        """Add an image whose confusion matrix was counted elsewhere (a worker thread, a cache)."""
        self._check_new(name)
        matrix = np.asarray(confusion)
        if matrix.shape != (self.num_classes, self.num_classes):
            raise ValueError(
                f"confusion matrix for {name!r} has shape {matrix.shape}, expected "
                f"({self.num_classes}, {self.num_classes})"
            )
        scores = Scores.from_confusion(matrix, self.class_names)
        self._per_image[name] = scores
        return scores

    def _check_new(self, name: str) -> None:
        if name in self._per_image:
            raise ValueError(f"image {name!r} was already added; image names must be unique")

    def result(self) -> DatasetScores:
        total = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        images = list(self._per_image.values())
        for scores in images:
            total += scores.confusion
        return DatasetScores(
            overall=Scores.from_confusion(total, self.class_names),
            image_mean=_image_mean(images, self.class_names),
            per_image=self._per_image,
            ignore_index=self.ignore_index,
        )


def _image_mean(images: Sequence[Scores], class_names: tuple[str, ...]) -> ImageMeanScores:
    n = len(class_names)
    if images:
        iou = np.stack([s.iou_array for s in images])
        dice = np.stack([s.dice_array for s in images])
    else:
        iou = dice = np.full((0, n), np.nan)
    counts = (~np.isnan(iou)).sum(axis=0)
    return ImageMeanScores(
        class_names=class_names,
        iou=tuple(mean_of_scored(iou[:, c]) for c in range(n)),
        dice=tuple(mean_of_scored(dice[:, c]) for c in range(n)),
        images=tuple(int(c) for c in counts),
        mean_iou=_mean_of_present(s.mean_iou for s in images),
        mean_dice=_mean_of_present(s.mean_dice for s in images),
        pixel_accuracy=_mean_of_present(s.pixel_accuracy for s in images),
    )


def _mean_of_present(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None
