"""Prediction: numpy image in, numpy class mask (and optionally probabilities or instances) out.

:class:`Predictor` is the one border between torch and numpy: everything it hands back is plain numpy or a
frozen dataclass of numpy, ready for the GUI. It runs on CUDA when present (mixed precision and channels-last
there), else on the CPU, always under ``torch.inference_mode()``.

This module owns running the model and reading its output (semantic logits, instance detections). Where the
windows of a tiled prediction sit and how their outputs are blended into one mask, with memory bounded by the
tile size, is :mod:`segstudio.models.prediction_tiles`; the refusal of NaN/inf input and output
(:class:`~segstudio.models.non_finite.NonFiniteInput`, :class:`~segstudio.models.non_finite.NonFiniteOutput`)
is :mod:`segstudio.models.non_finite`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from segstudio.core.instance_candidates import InstanceCandidates
from segstudio.core.instances import InstanceMask
from segstudio.models.non_finite import non_finite_input, non_finite_output
from segstudio.models.normalisation import InputNormalisation, check_image
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.models.prediction_tiles import (
    DEFAULT_TILE_OVERLAP,
    Blend,
    PendingCell,
    axis_weights,
    describe_window,
    scatter_window,
    tile_axis,
    window_order,
)
from segstudio.models.registry import Task


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a prediction hands the GUI: numpy only.

    ``classes`` is the ``(H, W)`` class-index mask (``uint8`` up to 256 classes, else ``uint16``).
    ``probabilities`` is the ``(K, H, W)`` softmax when it was asked for (float16 unless asked otherwise), else
    ``None``. ``instances`` is set for instance models (Mask R-CNN); ``classes`` is then its class mask.
    ``candidates``: an instance model's every detection (class, score, soft mask), from which other score and
    mask thresholds give other instances without running the model again (``candidates.resolve(...)``).
    """

    classes: np.ndarray
    probabilities: np.ndarray | None = None
    instances: InstanceMask | None = None
    tiles: int = 1
    candidates: InstanceCandidates | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.classes.shape  # type: ignore[return-value]


class Predictor:
    """Run a model on numpy images. The model is moved to ``device`` and put in eval mode (channels-last on CUDA).

    ``task``: semantic models return ``{"out": logits}`` (``(B, K, H, W)``) or a logits tensor; instance models
    follow torchvision's detection API (a list of dicts with boxes, labels, scores, masks), turned into an
    :class:`InstanceMask` by ``segstudio.models.architectures.mask_rcnn.instances_from_prediction``.
    ``num_classes``: the model's output channels; a single-channel semantic model is read as binary (sigmoid),
    classes 0 and 1. ``tile_size``: ``None`` predicts the whole image in one pass; a number predicts in
    overlapping windows of that size (see :mod:`segstudio.models.prediction_tiles`), sharing ``tile_overlap``
    pixels (default: 64, at most a quarter of the tile). ``amp``: mixed precision; ``None`` = on for CUDA
    (bfloat16 where supported, else float16), off on the CPU. ``probabilities``: whether :meth:`predict` returns
    the softmax map by default (it can be asked per call).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        task: Task | str = Task.SEMANTIC,
        normalisation: InputNormalisation,
        num_classes: int,
        device: torch.device | str | None = None,
        tile_size: int | None = None,
        tile_overlap: int | None = None,
        tile_batch: int = 1,
        blend: Blend | str = Blend.COSINE,
        amp: bool | None = None,
        probabilities: bool = False,
        probability_dtype: np.dtype | type = np.float16,
        score_threshold: float = 0.5,
    ) -> None:
        try:
            self.task = Task(task)
        except ValueError:
            raise ValueError(f"unknown task {task!r}; choose one of {', '.join(t.value for t in Task)}") from None
        if not isinstance(normalisation, InputNormalisation):
            raise ValueError(f"normalisation must be an InputNormalisation, got {type(normalisation).__name__}")
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        if num_classes > 65536:
            raise ValueError(f"at most 65536 classes fit a uint16 class mask, got {num_classes}")
        if tile_size is not None and (int(tile_size) != tile_size or tile_size < 1):
            raise ValueError(f"tile_size must be a positive integer or None (whole image), got {tile_size!r}")
        if tile_overlap is None:
            tile_overlap = 0 if tile_size is None else min(DEFAULT_TILE_OVERLAP, int(tile_size) // 4)
        if int(tile_overlap) != tile_overlap or tile_overlap < 0:
            raise ValueError(f"tile_overlap must be 0 or a positive integer, got {tile_overlap!r}")
        if tile_size is not None and tile_overlap >= tile_size:
            raise ValueError(f"tile_overlap ({tile_overlap}) must be smaller than tile_size ({tile_size})")
        if int(tile_batch) != tile_batch or tile_batch < 1:
            raise ValueError(f"tile_batch must be a positive integer, got {tile_batch!r}")
        if self.task is Task.INSTANCE and tile_size is not None:
            raise ValueError("tiled prediction is for semantic models; instance models predict whole images")
        try:
            self.blend = Blend(blend)
        except ValueError:
            raise ValueError(f"unknown blend {blend!r}; choose one of {', '.join(b.value for b in Blend)}") from None
        probability_dtype = np.dtype(probability_dtype)
        if probability_dtype not in (np.dtype(np.float16), np.dtype(np.float32)):
            raise ValueError(f"probabilities are float16 or float32, got {probability_dtype}")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be between 0 and 1, got {score_threshold}")

        self.device = torch.device(device) if device is not None else default_device()
        self.amp = (self.device.type == "cuda") if amp is None else bool(amp)
        self.amp_dtype = _amp_dtype(self.device) if self.amp else None
        self.channels_last = self.device.type == "cuda"
        self.normalisation = normalisation
        self.num_classes = int(num_classes)
        self.tile_size = None if tile_size is None else int(tile_size)
        self.tile_overlap = int(tile_overlap)
        self.tile_batch = int(tile_batch)
        self.probabilities = bool(probabilities)
        self.probability_dtype = probability_dtype
        self.score_threshold = float(score_threshold)
        self.class_dtype = np.dtype(np.uint8) if max(self.num_classes, 2) <= 256 else np.dtype(np.uint16)

        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model.eval()

    @classmethod
    def from_checkpoint(cls, loaded: Any, **overrides: Any) -> Predictor:
        """A predictor for a :class:`~segstudio.models.checkpoints.LoadedModel` (or a checkpoint path)."""
        return predictor_from_checkpoint(loaded, **overrides)

    # -- prediction -----------------------------------------------------------------------------------------

    def predict(
        self,
        image: np.ndarray,
        *,
        probabilities: bool | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Prediction:
        """Predict one ``(H, W)`` or ``(H, W, 3)`` image (uint8, uint16 or float in ``[0, 1]``).

        Reports ``Progress("predict", tiles done, tiles)`` after each batch of windows and raises
        :class:`~segstudio.core.progress.Cancelled` between windows once ``cancel`` is set.
        """
        image = check_image(image)
        want = self.probabilities if probabilities is None else bool(probabilities)
        with torch.inference_mode():
            if self.task is Task.INSTANCE:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                prediction = self._predict_instances(image)
                report(progress, Progress("predict", 1, 1, "image"))
                return prediction
            return self._predict_semantic(image, want, progress, cancel)

    # -- semantic ---------------------------------------------------------------------------------------------

    def _predict_semantic(
        self, image: np.ndarray, want_probabilities: bool, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> Prediction:
        height, width = image.shape[:2]
        rows = tile_axis(height, self.tile_size, self.tile_overlap)
        cols = tile_axis(width, self.tile_size, self.tile_overlap)
        out_classes = max(self.num_classes, 2)
        classes = np.empty((height, width), dtype=self.class_dtype)
        probabilities = np.empty((out_classes, height, width), dtype=self.probability_dtype) if want_probabilities else None
        row_weights = axis_weights(rows, self.tile_overlap, self.blend)
        col_weights = axis_weights(cols, self.tile_overlap, self.blend)
        pending: dict[tuple[int, int], PendingCell] = {}
        order = window_order(len(rows.starts), len(cols.starts), row_major=width <= height)
        total = len(order)
        for first in range(0, total, self.tile_batch):
            if cancel is not None:
                cancel.raise_if_cancelled()
            batch = order[first : first + self.tile_batch]
            inputs = torch.stack(
                [self._window_input(image, rows.starts[i], cols.starts[j], rows.tile, cols.tile) for i, j in batch]
            )
            places = [
                "the image" if total == 1 else describe_window(rows.starts[i], cols.starts[j], rows.tile, cols.tile)
                for i, j in batch
            ]
            if not bool(torch.isfinite(inputs).all()):
                raise non_finite_input(image, places[0])
            scores = self._semantic_probabilities(inputs, places)
            for (i, j), window in zip(batch, scores, strict=True):
                scatter_window(window, i, j, rows, cols, row_weights, col_weights, pending, classes, probabilities)
            report(progress, Progress("predict", first + len(batch), total, f"tile {first + len(batch)} of {total}"))
        if pending:  # pragma: no cover - every cell's windows have all run by now
            raise RuntimeError(f"{len(pending)} overlap cells were never completed")
        return Prediction(classes, probabilities, None, total)

    def _window_input(self, image: np.ndarray, y: int, x: int, h: int, w: int) -> torch.Tensor:
        return torch.from_numpy(self.normalisation.to_array(image[y : y + h, x : x + w]))

    def _semantic_probabilities(self, batch: torch.Tensor, places: Sequence[str]) -> torch.Tensor:
        """``(B, K, h, w)`` float32 probabilities on the device (K = 2 for a single-logit binary model).

        ``places`` names each window of ``batch`` for the error raised when its logits are not finite.
        """
        batch = batch.to(self.device, non_blocking=True)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            output = self.model(batch)
        logits = semantic_logits(output)
        expected = (batch.shape[0], self.num_classes, batch.shape[2], batch.shape[3])
        if tuple(logits.shape) != expected:
            raise ValueError(
                f"the model returned logits of shape {tuple(logits.shape)} for input {tuple(batch.shape)}; "
                f"expected {expected} (num_classes={self.num_classes}, same height and width as the input)"
            )
        # One reduction per batch (one device sync, which the copy to the host would make anyway); softmax and
        # argmax would turn NaN/inf logits into an all-background mask that looks like a prediction.
        if not bool(torch.isfinite(logits).all()):
            failing = (~torch.isfinite(logits)).flatten(1).any(dim=1).nonzero().flatten().tolist()
            raise non_finite_output(f"logits for {places[failing[0]]}", self.amp_dtype)
        logits = logits.float()
        if self.num_classes == 1:
            foreground = torch.sigmoid(logits)
            return torch.cat([1.0 - foreground, foreground], dim=1)
        return torch.softmax(logits, dim=1)


    # -- instances --------------------------------------------------------------------------------------------

    def _predict_instances(self, image: np.ndarray) -> Prediction:
        tensor = torch.from_numpy(self.normalisation.to_array(image))
        if not bool(torch.isfinite(tensor).all()):
            raise non_finite_input(image, "the image")
        tensor = tensor.to(self.device)
        with self._autocast():
            outputs = self.model([tensor])
        if not isinstance(outputs, Sequence) or len(outputs) != 1 or not isinstance(outputs[0], Mapping):
            raise ValueError(
                "an instance model must return one detection dict per image (torchvision's detection API), "
                f"got {type(outputs).__name__}"
            )
        detections = {
            key: (value.detach().float().cpu() if value.is_floating_point() else value.detach().cpu())
            if isinstance(value, torch.Tensor)
            else value
            for key, value in outputs[0].items()
        }
        broken = [
            key
            for key in ("scores", "boxes", "masks")
            if isinstance(detections.get(key), torch.Tensor)
            and detections[key].is_floating_point()
            and not bool(torch.isfinite(detections[key]).all())
        ]
        if broken:
            raise non_finite_output(f"{' and '.join(broken)} for the image", self.amp_dtype)
        instances = instances_from_detections(detections, self.score_threshold)
        if instances.shape != image.shape[:2]:
            raise ValueError(f"the instance mask is {instances.shape} but the image is {image.shape[:2]}")
        return Prediction(instances.to_class_mask(self.class_dtype), None, instances, 1,
                          candidates_from_detections(detections))

    # -- helpers ----------------------------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def semantic_logits(output: Any) -> torch.Tensor:
    """The main logits of a semantic model's output: ``output["out"]``, or the tensor itself."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and isinstance(output.get("out"), torch.Tensor):
        return output["out"]
    raise ValueError(f"a semantic model must return {{'out': logits}} or a logits tensor, got {type(output).__name__}")


def instances_from_detections(detections: Mapping[str, Any], score_threshold: float) -> InstanceMask:
    """torchvision detection output (one image, CPU tensors) -> :class:`InstanceMask`, via the Mask R-CNN module."""
    try:
        from segstudio.models.architectures.mask_rcnn import instances_from_prediction
    except ImportError as exc:
        raise ValueError(f"instance prediction needs segstudio.models.architectures.mask_rcnn ({exc})") from exc
    return instances_from_prediction(detections, score_threshold=score_threshold)


def candidates_from_detections(detections: Mapping[str, Any]) -> InstanceCandidates | None:
    """Every detection of one image (CPU tensors: labels, scores, masks) kept compactly for re-thresholding; None
    when the output has no soft masks."""
    masks = detections.get("masks")
    if not isinstance(masks, torch.Tensor) or masks.ndim not in (3, 4):
        return None
    labels = detections["labels"].reshape(-1).cpu().numpy()
    scores = detections["scores"].detach().float().reshape(-1).cpu().numpy()
    return InstanceCandidates.from_soft_masks(masks.detach().float().cpu().numpy(), scores, labels)


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _amp_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16  # CPU autocast only speaks bfloat16


def predictor_from_checkpoint(loaded: Any, **overrides: Any) -> Predictor:
    """A :class:`Predictor` configured from a checkpoint: the model, its task, classes and input normalisation.

    ``loaded`` is a :class:`~segstudio.models.checkpoints.LoadedModel` or a path to a segstudio checkpoint
    (loaded with ``load_checkpoint``). ``overrides`` go to :class:`Predictor` (device, tile_size, ...).
    """
    if isinstance(loaded, (str, Path)):
        from segstudio.models.checkpoints import load_checkpoint

        loaded = load_checkpoint(loaded)
    meta = loaded.meta
    settings: dict[str, Any] = {
        "task": meta.task,
        "normalisation": meta.normalisation,
        "num_classes": meta.config.num_classes,
    }
    settings.update(overrides)
    return Predictor(loaded.model, **settings)


__all__ = [
    "Prediction",
    "Predictor",
    "candidates_from_detections",
    "default_device",
    "instances_from_detections",
    "predictor_from_checkpoint",
    "semantic_logits",
]
