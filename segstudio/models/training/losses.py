"""The semantic training loss (cross-entropy + soft Dice, ignore pixels left out) and the learning-rate schedule."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from segstudio.models.training.config import Schedule
from segstudio.models.training.samples import IGNORE


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, *, smooth: float = 1.0) -> torch.Tensor:
    """``1 - mean soft Dice`` over the classes present in ``target``; pixels equal to :data:`IGNORE` are left out."""
    valid = target != IGNORE
    probabilities = torch.softmax(logits.float(), dim=1) * valid.unsqueeze(1)
    safe = torch.where(valid, target, torch.zeros_like(target))
    one_hot = F.one_hot(safe, logits.shape[1]).permute(0, 3, 1, 2).to(probabilities.dtype) * valid.unsqueeze(1)
    dims = (0, 2, 3)
    overlap = (probabilities * one_hot).sum(dims)
    truth = one_hot.sum(dims)
    dice = (2.0 * overlap + smooth) / (probabilities.sum(dims) + truth + smooth)
    present = truth > 0
    if not bool(present.any()):
        return logits.sum() * 0.0
    return 1.0 - dice[present].mean()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, *, dice_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy + ``dice_weight`` x soft Dice; pixels whose target is :data:`IGNORE` get no gradient."""
    if not bool((target != IGNORE).any()):
        return logits.sum() * 0.0  # nothing to learn from: a zero that keeps the graph
    loss = F.cross_entropy(logits.float(), target, ignore_index=IGNORE)
    if dice_weight:
        loss = loss + dice_weight * soft_dice_loss(logits, target)
    return loss


def learning_rate_factor(step: int, total: int, schedule: Schedule, warmup: int = 0) -> float:
    """The multiplier of the base learning rate at optimiser step ``step`` of ``total``."""
    warm = (step + 1) / warmup if step < warmup else 1.0
    progress = min(1.0, step / max(1, total))
    if schedule is Schedule.COSINE:
        factor = 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))
    elif schedule is Schedule.POLY:
        factor = max(0.0, 1.0 - progress) ** 0.9
    else:
        factor = 1.0
    return warm * factor
