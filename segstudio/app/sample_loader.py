"""Reading one image and its masks into an :class:`ImageSession`: the "load" job the window runs on a worker
(an app-layer use case: open one image of a project for correction).

Qt-free (it runs on a worker thread); the window hands the finished session to the canvas and panels.
:func:`describe_start` says where the working mask came from: unsaved work put back on top is called what it is
(changes kept since the user left the image this run, or work recovered from an autosave), never mixed up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from segstudio.app.prediction_masks import read_prediction, read_truth_classes, truth_value_map
from segstudio.core.confidence import Confidence
from segstudio.core.instance_start import InstanceSources, instance_editing_problem
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.core.working_source import WorkingSource
from segstudio.io.certainty_files import certainty_path, read_certainty
from segstudio.io.dataset_spec import MaskKind
from segstudio.io.datasets import Dataset, Sample
from segstudio.core.errors import FileProblem
from segstudio.io.file_state import FileState
from segstudio.io.images import read_image
from segstudio.io.corrections import instance_classes, read_correction
from segstudio.io.mask_files import read_instance_mask, read_tagged_instance_mask
from segstudio.core.progress import CancelToken, Progress, ProgressCallback


class ResumedWork(Enum):
    """Where unsaved work put back on top of an image (``recovered`` of :func:`load_sample`) was kept."""

    KEPT = "your unsaved changes, kept since you left this image (not saved yet)"
    RECOVERED = "unsaved work recovered from an autosave (not saved yet)"


def describe_start(session: ImageSession, resumed: ResumedWork | None) -> str:
    """Where ``session``'s working mask comes from, in words; ``resumed``: how its unsaved work was kept, when
    some was put back on top."""
    if resumed is not None and session.working_source is WorkingSource.AUTOSAVE:
        return resumed.value
    if session.working_source is WorkingSource.PREDICTION:
        return "the prediction"  # a prediction folder's masks may be no model's (the demo's are made by code)
    return session.working_source.value


@dataclass(frozen=True)
class LoadedSample:
    """A sample's key and the session ready to edit (built on the worker, used on the GUI thread only)."""

    key: str
    session: ImageSession
    notes: tuple[str, ...] = ()  # masks that could not be used, and why (the image still opens)
    # The correction and ground-truth files as they were when read (None: no file), so a save can tell whether
    # somebody else wrote them since.
    file_states: Mapping[Path, FileState | None] = field(default_factory=dict)
    # Instance samples (Penn-Fudan): the instances the working mask was started from, carried through a save.
    instances: InstanceMask | None = None
    # The shown prediction's certainty per pixel, kept beside it by "Predict all" (None: none kept).
    confidence: Confidence | None = None


def load_sample(
    dataset: Dataset,
    sample: Sample,
    *,
    recovered: np.ndarray | InstanceMask | None = None,
    prediction_path: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> LoadedSample:
    """Read the image, its ground truth, its first prediction and its saved correction (each when present) and
    start a session; ``recovered`` (unsaved work) goes on top as one undo step. ``prediction_path``: a mask the
    loaded model wrote this run (``segstudio-predictions/...``), used instead of the dataset's prediction sources."""
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
    truth_instances: InstanceMask | None = None
    truth_path = dataset.ground_truth(sample)
    correction_path = dataset.correction_path(sample)
    # Taken before reading: a write that lands while we read shows up as a change at save time.
    states = {path: FileState.of(path) for path in (truth_path, correction_path) if path is not None}
    if truth_path is not None:
        source = dataset.ground_truth_source(sample)
        if source is not None and source.kind is MaskKind.INSTANCE:
            truth_instances = read_instance_mask(truth_path)
            truth = instance_classes(truth_path, truth_instances, labels, size)
        else:
            truth = read_truth_classes(truth_path, labels, source.value_map if source else None, size)
    report(2)
    # A prediction of another size is shown resized to the image, a probability map thresholded, each with a
    # note; one that cannot be used at all must not keep the image and its ground truth from opening: it is
    # left out and the window says why.
    notes: list[str] = []
    prediction = None
    confidence: Confidence | None = None
    prediction_instances: InstanceMask | None = None
    candidates = [(prediction_path, None)] if prediction_path is not None and prediction_path.is_file() else []
    candidates += [(path, dataset.source(name).value_map) for name, path in dataset.predictions(sample).items()]
    for path, value_map in candidates:
        try:
            read = read_prediction(path, labels, size, value_map=value_map, truth_map=truth_value_map(dataset, sample))
        except FileProblem as problem:
            notes.append(f"prediction not shown: {problem}")
            continue
        prediction = read.classes
        notes.extend(f"{note}: {path.name}" for note in read.notes)
        if read.resized_from is None:
            prediction_instances = _instances_of(path, labels, notes)
            confidence = _confidence_of(path, read.classes, notes)
        break
    report(3)
    saved = read_correction(dataset, sample, labels, expected_size=size)
    correction = None if saved is None else saved.classes
    instances = saved.instances if saved is not None and saved.instances is not None else truth_instances
    sources = None
    if truth_instances is not None or prediction_instances is not None:
        problem = instance_editing_problem(labels)
        if problem is None:
            sources = InstanceSources(truth_instances, prediction_instances, None if saved is None else saved.instances)
        else:
            notes.append(f"instances shown as classes only: {problem}")
    session = ImageSession.start(
        image, labels, ground_truth=truth, prediction=prediction, correction=correction, recovered=recovered,
        instances=sources,
    )
    report(4)
    return LoadedSample(sample.key, session, tuple(notes), states, instances, confidence)


def _confidence_of(path: Path, classes: np.ndarray, notes: list[str]) -> Confidence | None:
    """The certainty "Predict all" kept beside the prediction ``path`` (None: none); one that cannot be used is
    left out with a note (the prediction still shows)."""
    kept = certainty_path(path)
    if not kept.is_file():
        return None
    try:
        return Confidence(np.asarray(classes), read_certainty(kept, np.shape(classes)))
    except FileProblem as problem:
        notes.append(f"the model's certainty is not shown: {problem}")
        return None


def _instances_of(path: Path, labels: LabelSet, notes: list[str]) -> InstanceMask | None:
    """The objects of a prediction file written as instances (a Mask R-CNN's), None for a class mask; a file whose
    instances cannot be used is still shown as classes, with a note."""
    try:
        instances = read_tagged_instance_mask(path)
    except FileProblem as problem:
        notes.append(f"the prediction's instances are not used: {problem}")
        return None
    if instances is not None and any(not 0 <= c < labels.num_classes or c == labels.background for c in instances.classes.values()):
        notes.append(f"the prediction's instances are not used: {path.name} gives an instance a class outside the "
                     "label set or the background class")
        return None
    return instances
