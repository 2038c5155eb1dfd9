"""Where the window's predictions live in a project: "Predict all images" writes each mask to
``<project dir>/segstudio-predictions/<model name>/<sample key>.png``, and opening the project finds them again.

"Predict this image" keeps the mask in memory: the window attaches it to the image's session (see
:meth:`ImageSession.prepare_prediction` / ``set_prediction``, which keep the work and its undo history). "Predict
all images" writes each mask as a palette PNG (atomically, with :func:`~segstudio.io.mask_files.write_class_mask`)
to :func:`prediction_path`. The dataset's own prediction sources are not changed (no project file is rewritten):
the window keeps a map ``sample key -> written mask`` for this run, which wins over the dataset's prediction folders
when an image is loaded and scored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from segstudio.app.loaded_model import InstanceThresholds, ModelHandle, PredictedImage, label_mismatch, safe_name
from segstudio.app.prediction import ImageJob, PredictedImages, predict_images
from segstudio.core.progress import CancelToken, ProgressCallback
from segstudio.core.confidence import Confidence, uncertain_share
from segstudio.core.errors import FileProblem
from segstudio.io.certainty_files import certainty_path, read_certainty
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.mask_files import read_class_mask, read_tagged_instance_mask

PREDICTIONS_FOLDER = "segstudio-predictions"


@dataclass(frozen=True)
class PredictedFolder:
    """What "predict all" did: ``written`` maps sample key -> mask file; ``skipped`` key -> reason."""

    model: str
    folder: Path
    written: Mapping[str, Path] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    uncertain: Mapping[str, float] = field(default_factory=dict)  # key -> share the model was unsure of (semantic)

    def __post_init__(self) -> None:
        object.__setattr__(self, "written", MappingProxyType(dict(self.written)))
        object.__setattr__(self, "skipped", MappingProxyType(dict(self.skipped)))
        object.__setattr__(self, "uncertain", MappingProxyType(dict(self.uncertain)))


def predictions_dir(dataset: Dataset, model_name: str) -> Path:
    return dataset.project_file.parent / PREDICTIONS_FOLDER / safe_name(model_name)


def prediction_path(dataset: Dataset, model_name: str, sample: Sample) -> Path:
    return predictions_dir(dataset, model_name) / f"{sample.key}.png"


def predict_all(
    model: ModelHandle, dataset: Dataset, *, keys: Iterable[str] | None = None,
    thresholds: InstanceThresholds | None = None, certainty: float | None = None,
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None, cluster: str | None = None,
) -> PredictedFolder:
    """Predict every image of ``dataset`` (``keys``: only those) and write each mask to :func:`prediction_path`
    (atomically; see :func:`segstudio.app.prediction.predict_images`). An image that cannot be used is skipped with
    the reason. ``thresholds``: an instance model's score and mask thresholds (the Model panel's).

    ``cluster``: a Ray cluster's address (``auto``, ``host:6379``, ``ray://host:10001``) to hand the images to
    (:mod:`segstudio.app.ray_prediction`): the same masks and certainty files, written by the cluster's workers,
    which must see the dataset's folder under the same path; the model file goes through Ray's object store."""
    labels = dataset.spec.labels
    mismatch = label_mismatch(model.labels, labels)
    if mismatch is not None:
        raise ValueError(mismatch)
    samples = dataset.samples if keys is None else [dataset.sample(key) for key in keys]
    jobs = [ImageJob(sample.key, sample.image, prediction_path(dataset, model.name, sample)) for sample in samples]
    if cluster:
        done = _predict_on_cluster(cluster, model, jobs, thresholds, certainty, progress, cancel)
    else:
        done = predict_images(model.predictor, jobs, labels, stage="predict all", thresholds=thresholds,
                              certainty=certainty, progress=progress, cancel=cancel)
    skipped = {key: image.reason for key, image in done.skipped.items()}
    return PredictedFolder(model.name, predictions_dir(dataset, model.name), dict(done.written), skipped,
                           dict(done.uncertain))


def _predict_on_cluster(
    address: str, model: ModelHandle, jobs: list[ImageJob], thresholds: InstanceThresholds | None,
    certainty: float | None, progress: ProgressCallback | None, cancel: CancelToken | None,
) -> PredictedImages:
    from segstudio.app.ray_cluster import plan_pool, ray_cluster
    from segstudio.app.ray_prediction import RayPredictionPlan, predict_on_ray

    tile = getattr(model.predictor, "tile_size", None)
    plan = RayPredictionPlan(model.path, tuple(jobs), tile=tile, thresholds=thresholds, certainty=certainty)
    with ray_cluster(address) as cluster:
        return predict_on_ray(cluster, plan_pool(cluster.resources), plan, progress=progress, cancel=cancel)


def app_predictions(dataset: Dataset) -> dict[str, Path]:
    """Predictions segstudio wrote in earlier runs: sample key -> ``segstudio-predictions/<model>/<key>.png``.

    Every model folder is listed once (no mask is opened). When several models predicted the same image, the
    **newest model folder wins**: folders are ranked by their most recently written mask (the model the user
    ran last), and each image takes its mask from the highest-ranked folder that has one. Keys that are not in
    the dataset are ignored. The project file is not touched: these are found again on every open.
    """
    chosen: dict[str, Path] = {}
    for folder in model_prediction_folders(dataset):  # oldest first: newer folders overwrite older ones
        chosen.update(folder.written)
    return chosen


def model_prediction_folders(dataset: Dataset) -> list[PredictedFolder]:
    """Each model's folder under ``segstudio-predictions/`` with the masks it holds for this dataset's images,
    ranked oldest first by its most recently written mask."""
    root = dataset.project_file.parent / PREDICTIONS_FOLDER
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    folders = []
    for entry in entries:
        try:
            if entry.is_dir():
                folders.append(entry)
        except OSError:  # a link loop or an unreadable entry: that one is left out, not every model's folder
            continue
    keys = {sample.key for sample in dataset.samples}
    ranked: list[tuple[float, PredictedFolder]] = []
    for folder in folders:
        found: dict[str, Path] = {}
        newest = 0.0
        pending = [(folder.path, "")]
        while pending:
            path, prefix = pending.pop()
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir():
                        pending.append((entry.path, f"{prefix}{entry.name}/"))
                    elif entry.name.endswith(".png") and not entry.name.startswith(".") and entry.is_file():
                        key = f"{prefix}{entry.name[:-4]}"
                        if key in keys:
                            found[key] = Path(entry.path)
                            newest = max(newest, entry.stat().st_mtime)
                except OSError:
                    continue
        if found:
            ranked.append((newest, PredictedFolder(folder.name, Path(folder.path), found)))
    return [folder for _newest, folder in sorted(ranked, key=lambda item: item[0])]


def uncertain_shares(kept: Mapping[str, Path], threshold: float, cancel: CancelToken | None = None) -> dict[str, float]:
    """Sample key -> the share of its image the model gave less than ``threshold``, from the certainty files
    "Predict all" kept (``kept``: key -> where its ``.certainty.tif`` would be); an image without one, or whose file
    cannot be read, is left out (opening it says why)."""
    shares: dict[str, float] = {}
    for key, path in kept.items():
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            shares[key] = uncertain_share(read_certainty(path, None), threshold)
        except FileProblem:  # none kept for that image (or a broken one: opening the image says why)
            continue
    return shares


def read_prediction(dataset: Dataset, key: str, path: Path, model: str | None = None) -> PredictedImage:
    """A written prediction mask read back (for the image on screen after "predict all"), with the objects of an
    instance model's file, so the image on screen is handed its instances, not only their classes, and a semantic
    model's certainty kept beside it."""
    classes = np.asarray(read_class_mask(path, dataset.spec.labels))
    instances = read_tagged_instance_mask(path)
    kept, confidence = certainty_path(path), None
    if instances is None and kept.is_file():
        try:
            confidence = Confidence(classes, read_certainty(kept, classes.shape))
        except FileProblem:  # the mask is still good; opening the image again says what is wrong with the file
            confidence = None
    return PredictedImage(key, classes, model or path.parent.name, path, None, instances, confidence)
