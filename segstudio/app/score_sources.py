"""What a model-vs-truth score is of, in words the window and the command line share.

An image's prediction comes from a model the app ran (a mask under ``segstudio-predictions/<model>/``, which wins)
or from one of the dataset's own prediction folders (:func:`segstudio.app.scoring.score_dataset` picks it the same
way). :func:`score_sources` names the source of every image and of the whole list ("model demo-model",
"predictions/ folder", or both with their counts); :func:`dataset_line` is the dataset's figures as the metrics
panel and ``segstudio demo`` print them, so the two can be compared word for word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from segstudio.core.metrics import DatasetScores
from segstudio.io.datasets import Dataset


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@dataclass(frozen=True)
class ScoreSources:
    """``per_image``: key -> what its scores are of (images without a prediction are left out); ``overall``: the
    same for the whole list ("" when no image has a prediction)."""

    overall: str
    per_image: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_image", MappingProxyType(dict(self.per_image)))


def model_source(model_name: str) -> str:
    return f"model {model_name}"


def folder_source(folder: str) -> str:
    return f"{folder.rstrip('/')}/ folder"


def score_sources(dataset: Dataset, app_predictions: Mapping[str, Path],
                  folder_names: Mapping[str, str] | None = None) -> ScoreSources:
    """Where each image's scored prediction comes from: ``app_predictions`` (key -> a mask the app wrote under
    ``segstudio-predictions/<model>/``) win over the dataset's prediction folders, as in scoring.
    ``folder_names``: words for a prediction folder instead of "<folder>/ folder" (mask source name -> words)."""
    names = dict(folder_names or {})
    per_image: dict[str, str] = {}
    for sample in dataset.samples:
        written = app_predictions.get(sample.key)
        if written is not None:
            # <project>/segstudio-predictions/<model>/<key>.png, and a key may hold folders ("images/scene_000").
            model = written.parents[len(PurePosixPath(sample.key).parts) - 1].name
            per_image[sample.key] = model_source(model)
            continue
        for name in dataset.predictions(sample):
            per_image[sample.key] = names.get(name) or folder_source(dataset.source(name).folder)
            break
    counts = Counter(per_image.values())
    if len(counts) <= 1:
        overall = next(iter(counts), "")
    else:
        overall = ", ".join(f"{source} ({count} image{'s' if count > 1 else ''})"
                            for source, count in counts.most_common())
    return ScoreSources(overall, per_image)


def dataset_line(scores: DatasetScores | None, images: int, total: int, source: str = "", *,
                 running: bool = False) -> str:
    """The dataset's model-vs-truth means over ``images`` scored images of ``total``, saying what was scored
    (``source``: e.g. "model demo-model"; "" for a plain "prediction")."""
    what = f"dataset ({source or 'prediction'} vs truth"
    state = " (computing...)" if running else ""
    if scores is None:
        return f"{what}){state}" if running else f"{what}): n/a (no image has both ground truth and a prediction)"
    mean = scores.image_mean
    return (
        f"{what}, {images} of {total} images){state}: accumulated mean IoU {fmt_ratio(scores.overall.mean_iou)}, "
        f"mean Dice {fmt_ratio(scores.overall.mean_dice)}; mean of images IoU {fmt_ratio(mean.mean_iou)}, "
        f"Dice {fmt_ratio(mean.mean_dice)}"
    )


__all__ = ["ScoreSources", "dataset_line", "folder_source", "model_source", "score_sources"]
