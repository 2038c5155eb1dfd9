"""Reading one image and its masks into an :class:`ImageSession`: the "load" job the window runs on a worker.

Qt-free (it runs on a worker thread); the window hands the finished session to the canvas and panels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segstudio.core.session import ImageSession
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.images import read_image
from segstudio.io.mask_files import read_class_mask
from segstudio.models.progress import CancelToken, Progress, ProgressCallback


@dataclass(frozen=True)
class LoadedSample:
    """A sample's key and the session ready to edit (built on the worker, used on the GUI thread only)."""

    key: str
    session: ImageSession


def load_sample(
    dataset: Dataset,
    sample: Sample,
    *,
    recovered: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> LoadedSample:
    """Read the image, its ground truth, its first prediction and its saved correction (each when present) and
    start a session; ``recovered`` (unsaved work) goes on top as one undo step."""
    labels = dataset.spec.labels
    steps = 4

    def report(done: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        if progress is not None:
            progress(Progress("load", done, steps))

    image = read_image(sample.image)
    size = (int(image.shape[1]), int(image.shape[0]))
    report(1)
    truth = None
    truth_path = dataset.ground_truth(sample)
    if truth_path is not None:
        source = dataset.ground_truth_source(sample)
        truth = read_class_mask(truth_path, labels, value_map=source.value_map if source else None, expected_size=size)
    report(2)
    prediction = None
    for name, path in dataset.predictions(sample).items():
        prediction = read_class_mask(path, labels, value_map=dataset.source(name).value_map, expected_size=size)
        break
    report(3)
    correction = None
    correction_path = dataset.correction_path(sample)
    if correction_path.is_file():
        correction = read_class_mask(correction_path, labels, expected_size=size)
    session = ImageSession.start(
        image, labels, ground_truth=truth, prediction=prediction, correction=correction, recovered=recovered
    )
    report(4)
    return LoadedSample(sample.key, session)
