"""An instance model's raw detections for one image, kept so its thresholds can change without running it again.

Mask R-CNN hands back, per detection, a class, a score and a soft mask (a probability per pixel of the image).
:class:`InstanceCandidates` keeps them compactly: each soft mask as ``uint8`` steps of 1/255 (rounded half down,
so ``p > 0.5`` and the stored value's ``> 0.5`` agree exactly), cropped to the box where it is nonzero, so memory
grows with the detections' areas rather than with their count times the image.

:meth:`InstanceCandidates.resolve` turns them into an :class:`~segstudio.core.instances.InstanceMask` (one id
per pixel, as Penn-Fudan and COCO panoptic store them). Overlaps are resolved one way: a pixel goes to the
highest-scoring kept detection whose mask covers it, ties in score by the lower detection index. Kept
detections are numbered ``1..K`` in that order (descending score, ties by index), after dropping those left
with no pixel of their own, so the ids stay contiguous; this is
``segstudio.models.architectures.mask_rcnn.instances_from_prediction``'s rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import floor

import numpy as np

from segstudio.core.instances import InstanceMask

LEVELS = 255  # a stored probability q stands for q / 255


@dataclass(frozen=True, eq=False)
class InstanceCandidates:
    """Detections of one ``shape`` image: ``classes`` (N,) class ids, ``scores`` (N,) float32 in [0, 1],
    ``boxes`` (N, 4) ``(y0, x0, y1, x1)`` where each soft mask is stored, ``masks`` the N ``uint8`` crops
    (``masks[i].shape == (y1 - y0, x1 - x0)``; an empty crop for a mask with no probability above 1/510).

    Arrays are stored read-only. Build one with :meth:`from_soft_masks`."""

    shape: tuple[int, int]
    classes: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    masks: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        height, width = (int(v) for v in self.shape)
        classes = _frozen(np.asarray(self.classes, dtype=np.int64).reshape(-1))
        scores = _frozen(np.asarray(self.scores, dtype=np.float32).reshape(-1))
        boxes = _frozen(np.asarray(self.boxes, dtype=np.int64).reshape(-1, 4))
        masks = tuple(_frozen(np.asarray(m)) for m in self.masks)
        count = len(classes)
        if not len(scores) == len(boxes) == len(masks) == count:
            raise ValueError(f"{count} classes, {len(scores)} scores, {len(boxes)} boxes and {len(masks)} masks: "
                             "they must agree")
        if count and (not np.isfinite(scores).all() or scores.min() < 0 or scores.max() > 1):
            raise ValueError("candidate scores must be finite and in [0, 1]")
        if count and classes.min() < 0:
            raise ValueError("candidate classes must be 0 or more")
        for index, ((y0, x0, y1, x1), mask) in enumerate(zip(boxes.tolist(), masks, strict=True)):
            if mask.dtype != np.uint8 or mask.shape != (y1 - y0, x1 - x0):
                raise ValueError(f"candidate {index}: a uint8 crop of shape {(y1 - y0, x1 - x0)} is needed, "
                                 f"got {mask.dtype} {mask.shape}")
            if not (0 <= y0 <= y1 <= height and 0 <= x0 <= x1 <= width):
                raise ValueError(f"candidate {index}: box {(y0, x0, y1, x1)} is outside the {height}x{width} image")
        object.__setattr__(self, "shape", (height, width))
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "masks", masks)

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_soft_masks(cls, masks: np.ndarray, scores: Sequence[float] | np.ndarray,
                        classes: Sequence[int] | np.ndarray) -> InstanceCandidates:
        """``masks``: (N, H, W) or (N, 1, H, W) probabilities in [0, 1] (torchvision's pasted soft masks)."""
        soft = np.asarray(masks)
        if soft.ndim == 4 and soft.shape[1] == 1:
            soft = soft[:, 0]
        if soft.ndim != 3:
            raise ValueError(f"soft masks must be (N, H, W) or (N, 1, H, W), got {soft.shape}")
        boxes = np.zeros((soft.shape[0], 4), dtype=np.int64)
        crops = []
        for index, mask in enumerate(soft):
            present = mask > 0.5 / LEVELS  # what rounds to a nonzero step
            rows, cols = np.flatnonzero(present.any(axis=1)), np.flatnonzero(present.any(axis=0))
            if rows.size == 0:
                crops.append(np.zeros((0, 0), dtype=np.uint8))
                continue
            y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            boxes[index] = (y0, x0, y1, x1)
            crops.append(quantise(mask[y0:y1, x0:x1]))
        return cls((soft.shape[1], soft.shape[2]), np.asarray(classes), np.asarray(scores), boxes, tuple(crops))

    # -- queries ------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.classes)

    def resolve(self, score_threshold: float = 0.5, mask_threshold: float = 0.5) -> InstanceMask:
        """The instance mask of the detections scoring at least ``score_threshold``, each covering the pixels where
        its probability exceeds ``mask_threshold`` (overlaps: see the module notes)."""
        _check_fraction("score_threshold", score_threshold)
        _check_fraction("mask_threshold", mask_threshold)
        cut = floor(mask_threshold * LEVELS + 1e-9)  # q / 255 > t  <=>  q > floor(255 t) for an integer q
        order = np.argsort(-self.scores, kind="stable")  # descending score, ties by the lower index
        keep = order[self.scores[order] >= np.float32(score_threshold)]
        id_dtype = np.uint16 if len(keep) <= np.iinfo(np.uint16).max else np.int32
        ids = np.zeros(self.shape, dtype=id_dtype)
        # Worst first, so the better detections paint last and win; only within each crop.
        for rank in range(len(keep), 0, -1):
            index = int(keep[rank - 1])
            y0, x0, y1, x1 = self.boxes[index]
            if y1 == y0:
                continue
            region = ids[y0:y1, x0:x1]
            region[self.masks[index] > cut] = rank
        counts = np.bincount(ids.ravel(), minlength=len(keep) + 1)
        visible = np.flatnonzero(counts[1:]) + 1  # the ranks that own pixels, best first
        if len(visible) < len(keep):
            renumber = np.zeros(len(keep) + 1, dtype=id_dtype)
            renumber[visible] = np.arange(1, len(visible) + 1)
            ids = renumber[ids]
        ids.flags.writeable = False  # ours alone: InstanceMask keeps it without a copy
        kept = keep[visible - 1]
        classes = {new: int(c) for new, c in enumerate(self.classes[kept].tolist(), start=1)}
        scores = {new: float(s) for new, s in enumerate(self.scores[kept].tolist(), start=1)}
        return InstanceMask(ids, classes, scores)

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.masks) + self.classes.nbytes + self.scores.nbytes + self.boxes.nbytes


def quantise(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] as ``uint8`` steps of 1/255, rounded half down (0.5 -> 127, just above -> 128)."""
    scaled = np.ceil(np.asarray(probabilities, dtype=np.float64) * LEVELS - 0.5)
    return np.clip(scaled, 0, LEVELS).astype(np.uint8)


def _frozen(array: np.ndarray) -> np.ndarray:
    if array.flags.writeable:
        array = array.copy()
        array.flags.writeable = False
    return array


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


__all__ = ["InstanceCandidates", "quantise"]
