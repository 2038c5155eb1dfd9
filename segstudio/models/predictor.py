"""Prediction: numpy image in, numpy class mask (and optionally probabilities or instances) out.

:class:`Predictor` is the one border between torch and numpy: everything it hands back is plain numpy or a
frozen dataclass of numpy, ready for the GUI. It runs on CUDA when present (mixed precision and channels-last
there), else on the CPU, always under ``torch.inference_mode()``.

Tiled prediction, and why its memory is bounded by the tile size
----------------------------------------------------------------
With ``tile_size`` set, an image is cut into a grid of ``tile_size`` windows that overlap by at least
``tile_overlap`` pixels. Window starts are spread evenly along each axis and the last window ends on the image
border, so no window is padded and every window has one size (they batch). The windows' starts and ends cut
each axis into intervals, and so the image into *cells*: each cell is covered by a fixed set of windows (1 in
a window's interior, 2 in an overlap band, 4 where four windows meet).

Windows are run in raster order along the image's shorter side. A cell covered by one window is final as soon
as that window is run: its classes are the argmax of that window's output, written straight into the ``(H, W)``
class mask. A cell in an overlap keeps a float32 accumulator of weight-blended softmax probabilities (``(K, h,
w)`` plus the weight sum) only until the last window covering it has been run; then it is argmaxed, written and
freed. The weights are a cosine (or linear) ramp over the overlap, so window edges, where a network sees the
least context, count least: a window's side that another window overlaps ramps up from (almost) zero, its
first quarter a dead zone; a side on the image border keeps full weight.

So the memory the prediction holds besides the output mask is: one batch of windows (input, activations and
``(K, tile, tile)`` outputs) plus the pending overlap cells, which span at most the overlap bands on either
side of the current row of windows: about ``2 x K x overlap x shorter side`` floats. Measured on a 4096 x 4096
RGB image, 21 classes, 512 px tiles, 64 px overlap (CPU): numpy's peak is 52 MB, 17 MB of it the uint8 class
mask; a single ``(K, H, W)`` float32 map would take 1.4 GB. That map is only built when ``probabilities=True``
asks for it (float16 by default).

The untiled path (``tile_size=None``) is the same code with a single window.

Non-finite values
-----------------
A model with NaN weights gives NaN logits, and the argmax of NaNs is class 0: an all-background mask that
looks like a prediction. So every batch of windows is checked, once going in and once coming out (one
``torch.isfinite(...).all()`` each, small beside the network): a window whose input is not finite raises
:class:`NonFiniteInput` (a float image with NaN/inf pixels, or values that overflow float32 once normalised)
before the model runs; a window whose logits are not finite raises :class:`NonFiniteOutput`. Both are
``ValueError`` subclasses, so :func:`segstudio.app.prediction.predict_images` skips that image with the reason. Instance
models' scores, boxes and masks are checked the same way. Under mixed precision an unusual input can
overflow float16 to inf even with sound weights; that is refused too, and the message says so.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from segstudio.core.instances import InstanceMask
from segstudio.models.normalisation import InputNormalisation, check_image
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.models.registry import Task

DEFAULT_TILE_OVERLAP = 64
_MIN_WEIGHT = 1e-6  # the least weight a window gives a pixel it covers: tiny, never zero, so weight sums stay positive


class NonFiniteOutput(ValueError):
    """The model produced NaN or infinite values for an image whose input was finite: its weights are
    likely broken, or mixed precision overflowed."""


class NonFiniteInput(ValueError):
    """An image (or a window of it) whose model input is NaN or infinite: nothing a model says about it means
    anything, so it is refused rather than predicted."""


class Blend(StrEnum):
    """How overlapping windows are weighted where they meet."""

    COSINE = "cosine"  # raised-cosine ramp over the overlap
    LINEAR = "linear"  # straight ramp over the overlap
    UNIFORM = "uniform"  # plain average


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a prediction hands the GUI: numpy only.

    ``classes`` is the ``(H, W)`` class-index mask (``uint8`` up to 256 classes, else ``uint16``).
    ``probabilities`` is the ``(K, H, W)`` softmax when it was asked for (float16 unless asked otherwise), else
    ``None``. ``instances`` is set for instance models (Mask R-CNN); ``classes`` is then its class mask.
    """

    classes: np.ndarray
    probabilities: np.ndarray | None = None
    instances: InstanceMask | None = None
    tiles: int = 1

    @property
    def shape(self) -> tuple[int, int]:
        return self.classes.shape  # type: ignore[return-value]


@dataclass(frozen=True)
class TileAxis:
    """Where windows sit along one axis, and the intervals (cells) their starts and ends cut it into."""

    length: int
    tile: int  # the window length on this axis: min(tile_size, length)
    starts: tuple[int, ...]
    cuts: tuple[int, ...]  # interval k is [cuts[k], cuts[k + 1])
    cover: tuple[int, ...]  # per interval: how many windows cover it
    spans: tuple[range, ...]  # per window: the intervals it covers

    @property
    def overlaps(self) -> tuple[int, ...]:
        return tuple(a + self.tile - b for a, b in zip(self.starts, self.starts[1:], strict=False))


def tile_axis(length: int, tile_size: int | None, overlap: int) -> TileAxis:
    """Evenly spread windows of ``min(tile_size, length)`` covering ``0..length`` with at least ``overlap`` shared."""
    if length < 1:
        raise ValueError(f"cannot tile an empty axis (length {length})")
    tile = length if tile_size is None else min(int(tile_size), length)
    if tile >= length:
        starts: tuple[int, ...] = (0,)
    else:
        step = tile - overlap
        count = math.ceil((length - tile) / step) + 1
        # floor division keeps every step <= tile - overlap, so every overlap >= overlap
        starts = tuple((i * (length - tile)) // (count - 1) for i in range(count))
    cuts = tuple(sorted({0, length, *starts, *(s + tile for s in starts)}))
    cover = tuple(sum(1 for s in starts if s <= cuts[k] and cuts[k + 1] <= s + tile) for k in range(len(cuts) - 1))
    spans = tuple(range(cuts.index(s), cuts.index(s + tile)) for s in starts)
    return TileAxis(length, tile, starts, cuts, cover, spans)


def blend_window(length: int, ramp: int, blend: Blend, *, open_start: bool = True, open_end: bool = True) -> np.ndarray:
    """1-D float32 weights of a window of ``length`` pixels.

    At an *open* end (one another window overlaps) the weight rises from almost zero to 1 over ``ramp`` pixels:
    the first quarter of the ramp is a dead zone (weight ``1e-6``), where padding effects of the network live, so
    a network whose receptive field radius is below ``ramp // 4`` gives exactly the untiled result. An end on
    the image border keeps weight 1: no other window sees those pixels.
    """
    weights = np.ones(length, dtype=np.float32)
    ramp = min(int(ramp), length // 2)
    if ramp <= 0 or blend is Blend.UNIFORM:
        return weights
    dead = ramp // 4
    rising = ramp - dead
    position = (np.arange(rising, dtype=np.float32) + 0.5) / rising  # (0, 1)
    edge = position if blend is Blend.LINEAR else 0.5 - 0.5 * np.cos(np.pi * position)
    edge = np.concatenate([np.zeros(dead, dtype=np.float32), edge.astype(np.float32)])
    edge = np.maximum(edge, _MIN_WEIGHT).astype(np.float32)
    if open_start:
        weights[:ramp] = edge
    if open_end:
        weights[length - ramp :] = edge[::-1]
    return weights


def _axis_weights(axis: TileAxis, ramp: int, blend: Blend) -> list[np.ndarray]:
    last = len(axis.starts) - 1
    return [blend_window(axis.tile, ramp, blend, open_start=k > 0, open_end=k < last) for k in range(last + 1)]


@dataclass
class _PendingCell:
    scores: np.ndarray  # (K, h, w) float32, weighted probabilities summed so far
    weights: np.ndarray  # (h, w) float32
    remaining: int


class Predictor:
    """Run a model on numpy images. The model is moved to ``device`` and put in eval mode (channels-last on CUDA).

    ``task``: semantic models return ``{"out": logits}`` (``(B, K, H, W)``) or a logits tensor; instance models
    follow torchvision's detection API (a list of dicts with boxes, labels, scores, masks), turned into an
    :class:`InstanceMask` by ``segstudio.models.architectures.mask_rcnn.instances_from_prediction``.
    ``num_classes``: the model's output channels; a single-channel semantic model is read as binary (sigmoid),
    classes 0 and 1. ``tile_size``: ``None`` predicts the whole image in one pass; a number predicts in
    overlapping windows of that size (see the module notes), sharing ``tile_overlap`` pixels (default: 64, at
    most a quarter of the tile). ``amp``: mixed precision; ``None`` = on for CUDA
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
        row_weights = _axis_weights(rows, self.tile_overlap, self.blend)
        col_weights = _axis_weights(cols, self.tile_overlap, self.blend)
        pending: dict[tuple[int, int], _PendingCell] = {}
        order = _window_order(len(rows.starts), len(cols.starts), row_major=width <= height)
        total = len(order)
        for first in range(0, total, self.tile_batch):
            if cancel is not None:
                cancel.raise_if_cancelled()
            batch = order[first : first + self.tile_batch]
            inputs = torch.stack(
                [self._window_input(image, rows.starts[i], cols.starts[j], rows.tile, cols.tile) for i, j in batch]
            )
            places = [
                "the image" if total == 1 else _describe_window(rows.starts[i], cols.starts[j], rows.tile, cols.tile)
                for i, j in batch
            ]
            if not bool(torch.isfinite(inputs).all()):
                raise _non_finite_input(image, places[0])
            scores = self._semantic_probabilities(inputs, places)
            for (i, j), window in zip(batch, scores, strict=True):
                self._scatter(window, i, j, rows, cols, row_weights, col_weights, pending, classes, probabilities)
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
            raise self._non_finite_output(f"logits for {places[failing[0]]}")
        logits = logits.float()
        if self.num_classes == 1:
            foreground = torch.sigmoid(logits)
            return torch.cat([1.0 - foreground, foreground], dim=1)
        return torch.softmax(logits, dim=1)

    def _scatter(
        self,
        window: torch.Tensor,
        i: int,
        j: int,
        rows: TileAxis,
        cols: TileAxis,
        row_weights: list[np.ndarray],
        col_weights: list[np.ndarray],
        pending: dict[tuple[int, int], _PendingCell],
        classes: np.ndarray,
        probabilities: np.ndarray | None,
    ) -> None:
        """Hand window ``(i, j)``'s probabilities to the cells it covers; finish the cells it completes."""
        top, left = rows.starts[i], cols.starts[j]
        for a in rows.spans[i]:
            y0, y1 = rows.cuts[a], rows.cuts[a + 1]
            for b in cols.spans[j]:
                x0, x1 = cols.cuts[b], cols.cuts[b + 1]
                part = window[:, y0 - top : y1 - top, x0 - left : x1 - left]
                cover = rows.cover[a] * cols.cover[b]
                if cover == 1:  # a window's own interior: final now, nothing kept
                    classes[y0:y1, x0:x1] = part.argmax(dim=0).to(torch.int32).cpu().numpy()
                    if probabilities is not None:
                        probabilities[:, y0:y1, x0:x1] = part.cpu().numpy()
                    continue
                weights = np.outer(row_weights[i][y0 - top : y1 - top], col_weights[j][x0 - left : x1 - left])
                cell = pending.get((a, b))
                if cell is None:
                    cell = _PendingCell(
                        np.zeros((part.shape[0], y1 - y0, x1 - x0), dtype=np.float32),
                        np.zeros((y1 - y0, x1 - x0), dtype=np.float32),
                        cover,
                    )
                    pending[(a, b)] = cell
                cell.scores += part.cpu().numpy() * weights
                cell.weights += weights
                cell.remaining -= 1
                if cell.remaining == 0:
                    del pending[(a, b)]
                    classes[y0:y1, x0:x1] = cell.scores.argmax(axis=0)
                    if probabilities is not None:
                        cell.scores /= cell.weights
                        probabilities[:, y0:y1, x0:x1] = cell.scores

    # -- instances --------------------------------------------------------------------------------------------

    def _predict_instances(self, image: np.ndarray) -> Prediction:
        tensor = torch.from_numpy(self.normalisation.to_array(image))
        if not bool(torch.isfinite(tensor).all()):
            raise _non_finite_input(image, "the image")
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
            raise self._non_finite_output(f"{' and '.join(broken)} for the image")
        instances = instances_from_detections(detections, self.score_threshold)
        if instances.shape != image.shape[:2]:
            raise ValueError(f"the instance mask is {instances.shape} but the image is {image.shape[:2]}")
        return Prediction(instances.to_class_mask(self.class_dtype), None, instances, 1)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _non_finite_output(self, what: str) -> NonFiniteOutput:
        """The error for NaN/inf model output; the input was checked finite, so the model is to blame."""
        message = (
            f"the model produced NaN or infinite {what}, though its input was finite: no mask was made. "
            "Its weights are probably broken (NaN or inf, e.g. from a diverged training)"
        )
        if self.amp_dtype is not None:
            dtype = str(self.amp_dtype).removeprefix("torch.")
            message += (
                f", or its {dtype} mixed precision overflowed to inf on this input (rare with sound weights): "
                "try again without mixed precision (amp=False)"
            )
        return NonFiniteOutput(message)

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


def _describe_window(y: int, x: int, h: int, w: int) -> str:
    return f"the window at y {y}, x {x} ({h} x {w} pixels)"


def _non_finite_input(image: np.ndarray, place: str) -> NonFiniteInput:
    """Why the model input of ``place`` in ``image`` is not finite: NaN/inf pixels, or values that overflow.

    Refused rather than repaired: a NaN pixel spreads to every output pixel whose receptive field sees it, and
    any value put in its place would be a guess the user did not make.
    """
    is_float = np.issubdtype(image.dtype, np.floating)
    where = "" if place == "the image" else f", first in {place}"
    bad = int(np.count_nonzero(~np.isfinite(image))) if is_float else 0
    if bad:
        return NonFiniteInput(
            f"the image has {bad} NaN or infinite value{'s' if bad != 1 else ''}{where}; pixel values must be "
            "finite numbers: replace them (e.g. with 0) before predicting"
        )
    hint = "; float images are read as 0..1" if is_float else ""
    return NonFiniteInput(
        f"the model input is NaN or infinite{where}: the image's values (up to {float(np.abs(image).max()):g}) "
        f"overflow float32 once normalised{hint}"
    )


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _amp_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16  # CPU autocast only speaks bfloat16


def _window_order(rows: int, cols: int, *, row_major: bool) -> list[tuple[int, int]]:
    """Raster order that walks along the longer side, so pending overlaps span the shorter one."""
    if row_major:
        return [(i, j) for i in range(rows) for j in range(cols)]
    return [(i, j) for j in range(cols) for i in range(rows)]


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


def iter_windows(height: int, width: int, tile_size: int | None, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """``(y, x, h, w)`` of every window a tiled prediction of a ``height x width`` image runs, in its order."""
    rows = tile_axis(height, tile_size, overlap)
    cols = tile_axis(width, tile_size, overlap)
    for i, j in _window_order(len(rows.starts), len(cols.starts), row_major=width <= height):
        yield rows.starts[i], cols.starts[j], rows.tile, cols.tile


__all__ = [
    "Blend",
    "NonFiniteInput",
    "NonFiniteOutput",
    "Prediction",
    "Predictor",
    "TileAxis",
    "blend_window",
    "default_device",
    "iter_windows",
    "predictor_from_checkpoint",
    "semantic_logits",
    "tile_axis",
]
