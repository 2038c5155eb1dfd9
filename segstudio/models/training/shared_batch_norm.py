"""Batch norm whose statistics span every training process's crops, on the CPU (gloo) as well.

torch's ``SyncBatchNorm`` runs on GPUs only; this is the same arithmetic for any backend, after detectron2's
``NaiveSyncBatchNorm``: each process reduces its per-channel sum, sum of squares and element count through a
differentiable all-reduce, so the normalisation, the gradients and the running statistics are those of the whole
step, as one process would compute them. A process with no crops in a step (an empty batch) still takes part.
The module keeps ``BatchNorm2d``'s parameters and buffers, so checkpoints are unchanged.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class SharedBatchNorm2d(nn.BatchNorm2d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - torch's name
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(input)
        channels = input.shape[1]
        values = input.float()
        count = values.numel() // channels
        if count:
            sums = torch.cat([values.sum(dim=(0, 2, 3)), (values * values).sum(dim=(0, 2, 3))])
        else:  # keeps the (empty) input in the graph, as every process must reduce the same tensors
            sums = values.sum() + torch.zeros(2 * channels, dtype=values.dtype, device=values.device)
        totals = _SumOverProcesses.apply(torch.cat([sums, sums.new_tensor([float(count)])]))
        elements = totals[-1].detach()
        mean, square_mean = torch.split(totals[:-1] / elements.clamp(min=1), channels)
        variance = (square_mean - mean * mean).clamp(min=0)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                momentum = self.momentum if self.momentum is not None else 0.1
                unbiased = variance * (elements / (elements - 1).clamp(min=1))  # as torch's running variance
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased.detach())
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
        scale = torch.rsqrt(variance + self.eps)
        if self.affine:
            scale = scale * self.weight
        shift = -mean * scale
        if self.affine:
            shift = shift + self.bias
        output = values * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)
        return output.to(input.dtype)


class _SumOverProcesses(torch.autograd.Function):
    """A sum over the processes whose gradient is the sum of theirs: each one's loss depends on every process's
    statistics."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        total = grad.clone()
        dist.all_reduce(total)
        return total


def share_batch_norm(module: nn.Module) -> nn.Module:
    """``module`` with every ``BatchNorm2d`` replaced by a :class:`SharedBatchNorm2d` holding the same tensors."""
    if type(module) is nn.BatchNorm2d:
        shared = SharedBatchNorm2d(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        if module.affine:
            shared.weight = module.weight
            shared.bias = module.bias
        shared.running_mean = module.running_mean
        shared.running_var = module.running_var
        shared.num_batches_tracked = module.num_batches_tracked
        shared.train(module.training)
        return shared
    for name, child in module.named_children():
        replaced = share_batch_norm(child)
        if replaced is not child:
            setattr(module, name, replaced)
    return module
