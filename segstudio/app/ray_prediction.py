"""Predicting a folder on a Ray cluster (``segstudio predict --engine ray``): the same jobs, checks and per-image
step as :func:`~segstudio.app.prediction.predict_folder`, so the masks are the same files byte for byte, run by a
pool of model actors with Ray Data's ``map_batches``.

What the workers need: segstudio installed, and the image paths and the output folder readable and writable under
the same names as on this machine (one machine, or a shared file system). The model does not: its file's bytes go
through Ray's object store and each actor loads them once.

Resumable: a mask already in the output folder is kept and its image not sent (``overwrite`` sends them all).
Masks are written atomically (:mod:`segstudio.core.atomic`): a run killed mid-write leaves a hidden temporary file,
never a half-written ``<stem>.png``, so a mask that exists is complete.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from segstudio.app.prediction import PREDICT_FOLDER, ImageJob, PredictedImages, SkippedImage, folder_jobs, predict_images
from segstudio.app.ray_cluster import Cluster, WorkerPool
from segstudio.core.errors import FileProblem
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.app.loaded_model import InstanceThresholds

BATCH_SIZE = 4  # images per actor call: small, so the pool stays balanced and progress moves often


@dataclass(frozen=True)
class RayPredictionPlan:
    """What a run will do, decided on this machine before any worker starts: the images to predict, and the
    masks already written that are kept (key -> path)."""

    weights: Path
    jobs: tuple[ImageJob, ...]
    kept: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    tile: int | None = None
    thresholds: InstanceThresholds | None = None  # an instance model's, as predict_images takes them
    certainty: float | None = None  # keep each image's certainty beside its mask (the window's "Predict all")


def read_image_list(path: Path) -> list[Path]:
    """The images a list file names, one path a line, relative ones to the list's folder; blank lines and ``#``
    comments left out. A listed file that is missing or unreadable is skipped and listed when predicted, as a
    bad image in a folder is; an empty list is a :class:`~segstudio.core.errors.FileProblem`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise FileProblem(path, f"cannot read the list of images: {error}") from error
    names = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not names:
        raise FileProblem(path, "lists no images (one path a line)")
    return [path.parent / name for name in names]  # an absolute name stays itself


def plan_ray_prediction(
    weights: Path, paths: Iterable[str | Path], out_dir: str | Path, *, tile: int | None = None,
    overwrite: bool = False,
) -> RayPredictionPlan:
    """Check the run as :func:`~segstudio.app.prediction.predict_folder` does (the model loaded here, on the CPU,
    once) and leave out the images whose mask is already written, unless ``overwrite``."""
    from segstudio.models.checkpoints import load_weights_file
    from segstudio.models.predictor import Predictor

    loaded = load_weights_file(weights, device="cpu")
    predictor = Predictor.from_checkpoint(loaded, device="cpu", **({"tile_size": tile} if tile is not None else {}))
    jobs = folder_jobs(predictor, paths, out_dir, loaded.meta.labels)
    kept = {} if overwrite else {job.key: job.target for job in jobs if job.target.is_file()}
    todo = tuple(job for job in jobs if job.key not in kept)
    return RayPredictionPlan(Path(weights), todo, MappingProxyType(kept), tile)


def predict_on_ray(
    cluster: Cluster, pool: WorkerPool, plan: RayPredictionPlan, *, progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE, cancel: CancelToken | None = None,
) -> PredictedImages:
    """Predict ``plan``'s images on ``pool``'s actors; the masks written and the images skipped (with the reason),
    in the plan's order, as :func:`~segstudio.app.prediction.predict_images` gives them. ``cancel`` is checked as
    each image comes back: masks written by then stay (each one complete), the rest are not asked for."""
    if not plan.jobs:
        return PredictedImages()
    ray = cluster.ray
    weights = ray.put(plan.weights.read_bytes())  # in the object store: workers need no shared disk for the model
    rows = [{"index": index, "key": job.key, "image": str(job.image), "target": str(job.target)}
            for index, job in enumerate(plan.jobs)]
    # one block per actor call, so every actor of the pool gets work from the first image on
    batch_size = max(1, min(batch_size, math.ceil(len(rows) / pool.workers)))
    dataset = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / batch_size))
    predicted = dataset.map_batches(
        ModelActor,
        fn_constructor_kwargs={"weights": [weights], "suffix": plan.weights.suffix, "tile": plan.tile,
                               "device": pool.device, "threads": max(int(pool.cpus), 1),
                               "thresholds": plan.thresholds, "certainty": plan.certainty},
        batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=min(pool.workers, len(rows))),
        num_cpus=pool.cpus, num_gpus=pool.gpus,
    )  # fmt: skip
    outcomes: dict[int, tuple[bool, str, float]] = {}
    for row in predicted.iter_rows():
        index = int(row["index"])
        outcomes[index] = (bool(row["written"]), str(row["reason"]), float(row["uncertain"]))
        report(progress, Progress(PREDICT_FOLDER, len(outcomes), len(plan.jobs), plan.jobs[index].key))
        if cancel is not None:
            cancel.raise_if_cancelled()  # leaving the loop stops the dataset and releases its actors
    written: dict[str, Path] = {}
    skipped: dict[str, SkippedImage] = {}
    uncertain: dict[str, float] = {}
    for index, job in enumerate(plan.jobs):
        was_written, reason, share = outcomes[index]
        if was_written:
            written[job.key] = job.target
            if not math.isnan(share):
                uncertain[job.key] = share
        else:
            skipped[job.key] = SkippedImage(job.image, reason)
    return PredictedImages(MappingProxyType(written), MappingProxyType(skipped), MappingProxyType(uncertain))


class ModelActor:
    """One Ray actor's model: loaded once from the object store, then called on batches of image jobs. Each image
    goes through :func:`~segstudio.app.prediction.predict_images`, the local predictor's own step."""

    def __init__(
        self, weights: list[Any], suffix: str, tile: int | None, device: str, threads: int,
        thresholds: InstanceThresholds | None = None, certainty: float | None = None,
    ) -> None:
        import ray
        import torch

        from segstudio.models.checkpoints import load_weights_file
        from segstudio.models.predictor import Predictor

        torch.set_num_threads(threads)  # the CPUs Ray reserved for this actor, not every core of its node
        data = ray.get(weights[0])  # wrapped in a list so Ray hands over the reference, fetched here once
        with tempfile.TemporaryDirectory(prefix="segstudio-ray-") as folder:
            path = Path(folder) / f"model{suffix}"  # the loader tells formats by content; the suffix keeps its notes
            path.write_bytes(data)
            loaded = load_weights_file(path, device=device)
        overrides: dict[str, Any] = {"device": device}
        if tile is not None:
            overrides["tile_size"] = tile
        self._predictor = Predictor.from_checkpoint(loaded, **overrides)
        self._labels = loaded.meta.labels
        self._thresholds = thresholds
        self._certainty = certainty

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        jobs = [ImageJob(str(key), Path(str(image)), Path(str(target)))
                for key, image, target in zip(batch["key"], batch["image"], batch["target"], strict=True)]
        result = predict_images(self._predictor, jobs, self._labels, stage=PREDICT_FOLDER,
                                thresholds=self._thresholds, certainty=self._certainty)
        reasons = [result.skipped[job.key].reason if job.key in result.skipped else "" for job in jobs]
        return {
            "index": np.asarray(batch["index"]),
            "written": np.array([job.key in result.written for job in jobs], dtype=bool),
            "reason": np.array(reasons, dtype=object),
            "uncertain": np.array([result.uncertain.get(job.key, math.nan) for job in jobs], dtype=np.float64),
        }


__all__ = ["BATCH_SIZE", "ModelActor", "RayPredictionPlan", "plan_ray_prediction", "predict_on_ray", "read_image_list"]
