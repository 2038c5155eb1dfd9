"""Opening a folder as a project: the dataset as its project file describes it (detected and saved the first time),
the predictions segstudio wrote there in earlier runs, and its review statuses (read here, off the GUI thread: a
table of 10,000 reviews takes about a second to parse). The window and ``segstudio scan`` both open folders here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from segstudio.app.project_predictions import app_predictions
from segstudio.core.errors import FileProblem
from segstudio.core.review import ReviewBook
from segstudio.io.review_file import read_review
from segstudio.io.datasets import Dataset, Sample, open_dataset


@dataclass(frozen=True)
class Project:
    """A dataset folder opened for work.

    ``app_predictions``: sample key -> the newest mask segstudio predicted for it in an earlier run (under
    ``segstudio-predictions/``); these win over the dataset's own prediction folders when an image is shown or scored.
    """

    dataset: Dataset
    app_predictions: Mapping[str, Path] = field(default_factory=dict)
    review: ReviewBook = field(default_factory=ReviewBook)
    review_problem: str | None = None  # why the review table could not be read (then it must not be written)

    def __post_init__(self) -> None:
        object.__setattr__(self, "app_predictions", MappingProxyType(dict(self.app_predictions)))

    def has_prediction(self, sample: Sample) -> bool:
        """A prediction to compare with: one segstudio wrote, or one of the dataset's prediction folders."""
        return sample.key in self.app_predictions or self.dataset.has_prediction(sample)


def open_project(folder: str | Path, *, redetect: bool = False) -> Project:
    """Open ``folder`` (see :func:`segstudio.io.datasets.open_dataset`) with the predictions found in it again.

    Raises :class:`~segstudio.core.errors.FileProblem` naming the folder when it is missing or not a folder.
    """
    dataset = open_dataset(folder, redetect=redetect)
    try:
        review, problem = read_review(dataset.project_file), None
    except FileProblem as error:
        review, problem = ReviewBook(), str(error)
    return Project(dataset, app_predictions(dataset), review, problem)
