"""Fine-tuning the current model on the accepted masks, Qt-free: which accepted images train and which are held out,
and the run itself (a worker job, :func:`fine_tune`).

An accepted image's mask is its saved correction, else its ground truth: read exactly as "Export accepted masks"
reads it (:func:`segstudio.app.review_export.accepted_annotations`).

The run, in order:

1. **Plan** (:func:`plan_fine_tune`): a share of the accepted images (``held_out_fraction``, at least one) is held
   out, chosen by a hash of (seed, image key): the same seed and the same accepted images give the same split,
   whatever order the keys come in, and accepting more images moves few images across. Held-out images are never
   trained on. Fewer than :data:`MIN_ACCEPTED` accepted images is a ``ValueError`` saying how many more are needed.
2. **Before**: the current model scores the held-out images (mean IoU and IoU per class, the label set's ignore id
   left out), predicting them the way the window does (tiles of
   :data:`~segstudio.app.loaded_model.DEFAULT_TILE_SIZE`).
3. **Training** from the current checkpoint's weights (same architecture, encoder, options, input normalisation
   and label set; a checkpoint for another class count is refused, not silently given new heads), with
   :func:`segstudio.models.training.train` (``TrainingConfig.initial_weights``), for ``epochs`` or until
   ``max_seconds``. It validates on the held-out images after every epoch (the plotted "held-out IoU") and keeps
   the epoch that scored best there. So with many epochs the "after" figure is mildly optimistic: it is the best
   of the epochs compared, chosen on those images (the result's notes say how many were compared).
4. **After**: the kept model scores the same held-out images the same way.
5. **Saving**: the new checkpoint goes NEXT TO the old one as ``<old stem>-finetuned-<n>.safetensors``, ``n`` the
   first free number (counting on from ``k`` when the old stem ends ``-finetuned-<k>``: replaced, not stacked). The
   name is claimed with an exclusive create, so no existing file is ever replaced, not even by a second run
   finishing at the same moment. While it runs, the training writes a hidden working file beside it
   (``.<stem>-finetuning-<id>.safetensors`` and its ``.resume.pt``); both are removed however the run ends.

Progress: ``Progress(BEFORE_STAGE / AFTER_STAGE, image, images)`` (the last of each with ``{"mean_iou"}``),
the training's own ``Progress("train", batch, batches, "epoch e of E", {"loss", "lr", "epoch"})``, and after every
epoch ``Progress(EPOCH_STAGE, 1, 1, ..., {"epoch", "epochs", "loss", "mean_iou"})``. The epoch report is a
completed one (1 of 1) on purpose: the window's worker drops throttled reports but always delivers completed
ones, and every epoch must reach the plot.

Cancel is checked between batches and between images; a cancelled (or failed) run removes its working files and
saves nothing. A run stopped by its time budget keeps the best epoch it finished (the result says so); one that
finished no epoch saves nothing and says so.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.core.value_map import ValueMap
from segstudio.io.datasets import Dataset
from segstudio.io.images import read_image

MIN_ACCEPTED = 4  # at least 3 images to train on and 1 held out to measure the change on
BEFORE_STAGE = "held-out before"
AFTER_STAGE = "held-out after"
TRAIN_STAGE = "train"
EPOCH_STAGE = "epoch"
TRAIN_SPLIT = "fine-tune train"
HELD_OUT_SPLIT = "fine-tune held out"
_FINETUNED = re.compile(r"-finetuned-\d+$")


# -- settings and plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FineTuneSettings:
    """How a fine-tune runs. The defaults fit a CPU: a few minutes at most, small crops, a gentle learning rate
    (the weights are already trained; a large step would undo what they know).

    ``epochs``: passes over the training images (``samples_per_epoch`` crops each, default one per image);
    ``max_seconds``: the training's time budget (the held-out scoring before and after comes on top);
    ``held_out_fraction``: share of the accepted images held out (at least one); ``device``: None = CUDA when torch
    sees a GPU, else the CPU; ``threads``: torch's CPU threads for the run (process-wide, restored afterwards;
    None leaves them as they are).
    """

    epochs: int = 8
    max_seconds: float | None = 240.0
    held_out_fraction: float = 0.2
    seed: int = 0
    crop_size: int = 256
    batch_size: int = 4
    samples_per_epoch: int | None = None
    learning_rate: float = 5e-4
    device: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "crop_size", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be positive, got {self.max_seconds!r}")
        if not 0 < self.held_out_fraction < 1:
            raise ValueError(f"held_out_fraction must be between 0 and 1, got {self.held_out_fraction!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or int(self.threads) != self.threads or self.threads < 1):
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")


@dataclass(frozen=True)
class FineTunePlan:
    """Which accepted images train and which are held out (each sorted by key)."""

    train_keys: tuple[str, ...]
    held_out_keys: tuple[str, ...]
    seed: int

    @property
    def accepted(self) -> int:
        return len(self.train_keys) + len(self.held_out_keys)


def plan_fine_tune(accepted_keys: Iterable[str], *, held_out_fraction: float = 0.2, seed: int = 0,
                   min_accepted: int = MIN_ACCEPTED) -> FineTunePlan:
    """Split the accepted images: ``max(1, round(n * held_out_fraction))`` of them held out, the ones with the
    lowest hash of (seed, key); the rest train. ``ValueError`` when fewer than ``min_accepted`` are accepted."""
    keys = sorted(set(accepted_keys))
    if not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be between 0 and 1, got {held_out_fraction!r}")
    if len(keys) < min_accepted:
        more = min_accepted - len(keys)
        raise ValueError(
            f"fine-tuning needs at least {min_accepted} accepted images (some to train on, at least one held out to "
            f"measure the change on); {len(keys)} {'is' if len(keys) == 1 else 'are'} accepted: accept {more} more"
        )
    count = min(len(keys) - 1, max(1, round(len(keys) * held_out_fraction)))
    ranked = sorted(keys, key=lambda key: (_rank(seed, key), key))
    held = set(ranked[:count])
    return FineTunePlan(tuple(k for k in keys if k not in held), tuple(k for k in keys if k in held), int(seed))


def _rank(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}\0{key}".encode("utf-8"), digest_size=8).digest()


# -- results --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldOutScores:
    """A model's scores on the held-out images: mean IoU over the classes present in the truth or the prediction,
    IoU per class id (None: the class is in neither), pixel accuracy; ignore pixels left out."""

    mean_iou: float | None
    class_iou: tuple[float | None, ...]
    pixel_accuracy: float | None
    images: int

    @classmethod
    def from_scores(cls, scores: Scores, images: int) -> HeldOutScores:
        class_iou = tuple(None if np.isnan(v) else float(v) for v in scores.iou_array)
        return cls(scores.mean_iou, class_iou, scores.pixel_accuracy, images)


@dataclass(frozen=True)
class EpochPoint:
    """One epoch as plotted: its mean training loss and the held-out mean IoU after it."""

    epoch: int
    loss: float
    held_out_iou: float | None
    seconds: float = 0.0
    partial: bool = False  # cut short by the time budget


@dataclass(frozen=True)
class FineTuneResult:
    """What a fine-tune did. ``checkpoint``: the new model (beside ``base_checkpoint``, which is untouched)."""

    checkpoint: Path
    base_checkpoint: Path
    before: HeldOutScores
    after: HeldOutScores
    class_names: tuple[str, ...]
    train_keys: tuple[str, ...]
    held_out_keys: tuple[str, ...]
    epochs: int  # epochs run (a last one cut short by the time budget included)
    epochs_planned: int
    best_epoch: int
    history: tuple[EpochPoint, ...]
    stopped_by_time: bool
    seconds: float  # the whole job: scoring before, training, scoring after, saving
    train_seconds: float
    notes: tuple[str, ...] = ()

    @property
    def change(self) -> float | None:
        """After minus before, in held-out mean IoU."""
        if self.before.mean_iou is None or self.after.mean_iou is None:
            return None
        return self.after.mean_iou - self.before.mean_iou

    @property
    def improved(self) -> bool:
        change = self.change
        return change is not None and change > 0


# -- reading the accepted masks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcceptedMasks:
    """The training's :class:`~segstudio.models.training.SampleFiles`: images as the io layer reads them, and each
    sample's accepted mask (its saved correction, else its ground truth) as the export reads it. ``keys`` maps a
    mask path (the correction's, else the ground truth's) to its image key."""

    dataset: Dataset
    keys: Mapping[str, str] = field(default_factory=dict)

    def read_image(self, path: Path) -> np.ndarray:
        return read_image(path)

    def read_class_mask(self, path: Path, labels: LabelSet, value_map: ValueMap | None,
                        expected_size: tuple[int, int]) -> np.ndarray:
        from segstudio.app.review_export import accepted_annotations

        key = self.keys[str(path)]
        annotations, _ = accepted_annotations(self.dataset, [key])
        classes = annotations.images[0].classes
        height, width = classes.shape[:2]
        if (width, height) != tuple(expected_size):
            raise ValueError(f"{path}: mask is {width}x{height} but its image is {expected_size[0]}x{expected_size[1]}")
        return classes

    def read_instance_mask(self, path: Path) -> Any:
        raise ValueError("fine-tuning on accepted masks trains semantic models only")


def accepted_mask_path(dataset: Dataset, key: str) -> Path:
    """The file an accepted image's mask comes from: its saved correction, else its ground truth."""
    sample = dataset.sample(key)
    correction = dataset.correction_path(sample)
    if correction.is_file():
        return correction
    truth = dataset.ground_truth(sample)
    if truth is None:
        raise ValueError(f"{sample.key} is accepted, but it has neither a saved correction nor a ground truth")
    return truth


# -- the run --------------------------------------------------------------------------------------------------


def finetuned_path(base: Path, n: int) -> Path:
    """``<stem>-finetuned-<n>.safetensors`` beside ``base`` (an old ``-finetuned-<k>`` ending replaced)."""
    stem = _FINETUNED.sub("", Path(base).stem) or "model"
    return Path(base).with_name(f"{stem}-finetuned-{n}.safetensors")


def claim_new_path(working: Path, base: Path) -> Path:
    """Move ``working`` to the first free :func:`finetuned_path` of ``base``, counting on from ``base``'s own number
    (``m-finetuned-2`` -> ``m-finetuned-3``, else from 1); never replaces a file."""
    from segstudio.models.training import resume_state_path

    found = _FINETUNED.search(Path(base).stem)
    n = int(found.group(0).rpartition("-")[2]) + 1 if found else 1
    while True:
        target = finetuned_path(base, n)
        if not resume_state_path(target).exists():
            try:
                with open(target, "xb"):
                    pass
            except FileExistsError:
                pass
            else:
                os.replace(working, target)  # over the empty file this call just made, nothing else
                return target
        n += 1


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fine_tune(
    dataset: Dataset,
    accepted_keys: Iterable[str],
    checkpoint: str | Path,
    settings: FineTuneSettings | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FineTuneResult:
    """Fine-tune the model ``checkpoint`` on the accepted images ``accepted_keys`` of ``dataset`` (a worker job;
    see the module notes). ``ValueError`` for too few accepted images, an instance model, a model for another
    label set, or an accepted image without a mask; :class:`~segstudio.core.progress.Cancelled` when cancelled
    (nothing saved)."""
    started = time.monotonic()
    settings = settings or FineTuneSettings()
    checkpoint = Path(checkpoint)
    plan = plan_fine_tune(accepted_keys, held_out_fraction=settings.held_out_fraction, seed=settings.seed)
    with _torch_threads(settings.threads):
        return _run(dataset, plan, checkpoint, settings, progress, cancel, started)


def _run(dataset: Dataset, plan: FineTunePlan, checkpoint: Path, settings: FineTuneSettings,
         progress: ProgressCallback | None, cancel: CancelToken | None, started: float) -> FineTuneResult:
    from segstudio.app.loaded_model import label_mismatch, label_name_warning
    from segstudio.models.checkpoints import load_weights_file
    from segstudio.models.predictor import default_device
    from segstudio.models.registry import Task
    from segstudio.models.training import TrainingData, TrainingSample, resume_state_path

    labels = dataset.spec.labels
    device = settings.device or str(default_device())
    loaded = load_weights_file(checkpoint, device=device)
    meta = loaded.meta
    if Task(meta.task) is not Task.SEMANTIC:
        raise ValueError(f"{checkpoint.name} is a {meta.task} model; fine-tuning on accepted masks trains semantic models")
    mismatch = label_mismatch(meta.labels, labels)
    if mismatch is not None:
        raise ValueError(mismatch)
    names_differ = label_name_warning(meta.labels, labels)
    if cancel is not None:
        cancel.raise_if_cancelled()

    mask_paths = {key: accepted_mask_path(dataset, key) for key in (*plan.train_keys, *plan.held_out_keys)}
    files = AcceptedMasks(dataset, {str(path): key for key, path in mask_paths.items()})
    samples = tuple(
        TrainingSample(key, dataset.sample(key).image, mask_paths[key], None, split)
        for keys, split in ((plan.train_keys, TRAIN_SPLIT), (plan.held_out_keys, HELD_OUT_SPLIT))
        for key in keys
    )
    working = checkpoint.with_name(f".{checkpoint.stem}-finetuning-{uuid.uuid4().hex[:8]}.safetensors")
    try:
        with open(working, "xb"):  # says now, not after the training, when the folder cannot be written
            pass
    except OSError as exc:
        raise ValueError(f"cannot save the fine-tuned model beside {checkpoint.name} in {checkpoint.parent}: "
                         f"{exc.strerror or exc}") from exc
    try:
        before = _held_out_scores(_predictor(loaded, device), dataset, plan.held_out_keys, files, labels,
                                  BEFORE_STAGE, progress, cancel)
        del loaded
        data = TrainingData(labels, samples, files, str(dataset.root))
        config = _training_config(meta.config, settings, checkpoint, device)
        result = _train(data, config, working, settings, before, progress, cancel)
        if result.best_epoch is None:
            raise ValueError("no epoch finished within the time budget, so nothing was saved; give it more time")
        if cancel is not None:
            cancel.raise_if_cancelled()
        from segstudio.models.checkpoints import load_checkpoint

        tuned = load_checkpoint(working, device=device)
        after = _held_out_scores(_predictor(tuned, device), dataset, plan.held_out_keys, files, labels,
                                 AFTER_STAGE, progress, cancel)
        del tuned
        if cancel is not None:
            cancel.raise_if_cancelled()
        new_path = claim_new_path(working, checkpoint)
    finally:
        working.unlink(missing_ok=True)
        resume_state_path(working).unlink(missing_ok=True)

    history = tuple(
        EpochPoint(r.epoch, r.train_loss, r.mean_iou, r.seconds, r.partial) for r in result.history
    )
    notes = [n for n in result.notes if not n.startswith("validation:")]
    if names_differ:
        notes.append(f"{names_differ}; the new model takes the dataset's names")
    if len(history) > 1:
        notes.append(f"'after' is epoch {result.best_epoch}, kept as the best held-out IoU of {len(history)} epochs: "
                     "chosen on the held-out images, so slightly optimistic")
    stopped = str(result.stop_reason) == "time budget"
    if stopped:
        notes.append(f"stopped by the time budget ({settings.max_seconds:g} s) after {len(history)} of "
                     f"{settings.epochs} epochs")
    return FineTuneResult(
        checkpoint=new_path, base_checkpoint=checkpoint, before=before, after=after, class_names=tuple(labels.names),
        train_keys=plan.train_keys, held_out_keys=plan.held_out_keys, epochs=len(history),
        epochs_planned=settings.epochs, best_epoch=int(result.best_epoch), history=history, stopped_by_time=stopped,
        seconds=time.monotonic() - started, train_seconds=result.seconds, notes=tuple(notes),
    )


def _training_config(model_config: Any, settings: FineTuneSettings, checkpoint: Path, device: str) -> Any:
    from segstudio.models.training import TrainingConfig

    return TrainingConfig(
        architecture=model_config.architecture, encoder=model_config.encoder, options=dict(model_config.options),
        in_channels=model_config.in_channels, initial_weights=str(checkpoint), epochs=settings.epochs,
        batch_size=settings.batch_size, crop_size=settings.crop_size, samples_per_epoch=settings.samples_per_epoch,
        learning_rate=settings.learning_rate, val_split=HELD_OUT_SPLIT, train_split=TRAIN_SPLIT, seed=settings.seed,
        max_seconds=settings.max_seconds, device=device,
    )


def _train(data: Any, config: Any, out: Path, settings: FineTuneSettings, before: HeldOutScores,
           progress: ProgressCallback | None, cancel: CancelToken | None) -> Any:
    """The training run, its reports passed on: every epoch's as a completed :data:`EPOCH_STAGE` report."""
    from segstudio.models.training import train

    def relay(item: Progress) -> None:
        if item.stage == "validate":
            metrics = dict(item.metrics)
            figures = {"epoch": float(item.done), "epochs": float(item.total)}
            for name in ("loss", "mean_iou"):
                if metrics.get(name) is not None:
                    figures[name] = float(metrics[name])
            report(progress, Progress(EPOCH_STAGE, 1, 1, item.message, figures))
        else:
            report(progress, item)

    report(progress, Progress(TRAIN_STAGE, 0, 1, f"epoch 1 of {settings.epochs}: starting",
                              {"epoch": 1.0, "epochs": float(settings.epochs)}))
    return train(data, config, out, progress=relay, cancel=cancel)


def _predictor(loaded: Any, device: str) -> Any:
    from segstudio.app.loaded_model import DEFAULT_TILE_SIZE
    from segstudio.models.predictor import Predictor

    return Predictor.from_checkpoint(loaded, device=device, tile_size=DEFAULT_TILE_SIZE)


def _held_out_scores(predictor: Any, dataset: Dataset, keys: tuple[str, ...], files: AcceptedMasks,
                     labels: LabelSet, stage: str, progress: ProgressCallback | None,
                     cancel: CancelToken | None) -> HeldOutScores:
    from segstudio.app.loaded_model import checked_classes

    lookup = {key: path for path, key in files.keys.items()}
    matrix = np.zeros((labels.num_classes, labels.num_classes), dtype=np.int64)
    report(progress, Progress(stage, 0, len(keys), "scoring the held-out images"))
    for done, key in enumerate(keys, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        image = files.read_image(dataset.sample(key).image)
        truth = files.read_class_mask(Path(lookup[key]), labels, None, (image.shape[1], image.shape[0]))
        predicted = checked_classes(predictor.predict(image, cancel=cancel).classes, labels)
        matrix += confusion_matrix(truth, predicted, labels.num_classes, labels.ignore_index)
        if done < len(keys):
            report(progress, Progress(stage, done, len(keys), key))
    scores = HeldOutScores.from_scores(Scores.from_confusion(matrix, labels.names), len(keys))
    figures = {} if scores.mean_iou is None else {"mean_iou": float(scores.mean_iou)}
    report(progress, Progress(stage, len(keys), len(keys), "held-out images scored", figures))
    return scores


__all__ = [
    "AFTER_STAGE",
    "BEFORE_STAGE",
    "EPOCH_STAGE",
    "MIN_ACCEPTED",
    "TRAIN_STAGE",
    "AcceptedMasks",
    "EpochPoint",
    "FineTunePlan",
    "FineTuneResult",
    "FineTuneSettings",
    "HeldOutScores",
    "accepted_mask_path",
    "claim_new_path",
    "fine_tune",
    "finetuned_path",
    "plan_fine_tune",
]
