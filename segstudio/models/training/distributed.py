"""Training over several processes (``torchrun``): which process this is, and what the processes must agree on.

torchrun starts one process per GPU (or per share of the CPUs) and tells each its place through the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``); :meth:`Ranks.from_environment` reads
that, and :func:`process_group` joins the group: NCCL between GPUs, gloo on the CPU.

How a step is shared (:func:`step_shard`): ``batch_size`` stays the number of crops per optimiser step over all
processes, and the crops of a step are the same ones, in the same order, as a single process would take; each
process takes a contiguous share. DistributedDataParallel averages the gradients; each process scales its loss
by ``world_size x its crops / the step's crops``, so the averaged gradient weighs every crop alike even when the
shares differ in size (the last step of an epoch). A process whose share is empty (fewer crops than processes
left) still runs a forward and backward, because every process must take part in every gradient reduction: on no
crops for a semantic model, on one crop counted 0 for Mask R-CNN. Batch norm statistics span the whole step
(:func:`parallel_model`). So a single process is today's run unchanged, and N processes train on the same crops
with the same learning-rate schedule and, to float rounding, the same gradients; the same seed gives the same
model for the same world size. What each process computes over its own share: the Dice term of the semantic loss
(over the classes present in its crops), and dropout and Mask R-CNN's proposal sampling (its own random stream).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """Where this process sits in a run: ``rank`` of ``world_size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size or self.local_rank < 0:
            raise ValueError(f"rank {self.rank} of {self.world_size} processes (local rank {self.local_rank}) is not a place in a run")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """The process that reports progress and writes the checkpoint and the resume state."""
        return self.rank == 0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Ranks:
        """torchrun's ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; a single process when they are absent."""
        environ = os.environ if environ is None else environ
        if "WORLD_SIZE" not in environ:
            return cls()
        values: dict[str, int] = {}
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            text = environ.get(name, "0")
            try:
                values[name] = int(text)
            except ValueError:
                raise ValueError(f"the environment variable {name}={text!r} is not a whole number (set by torchrun)") from None
        return cls(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])


SINGLE = Ranks()


def rank_device(ranks: Ranks, requested: str | None, cuda_available: bool) -> torch.device:
    """The device of this process: its own GPU (``cuda:LOCAL_RANK``) when it trains on CUDA, else the CPU."""
    if not ranks.distributed:
        return torch.device(requested) if requested else torch.device("cuda" if cuda_available else "cpu")
    wanted = torch.device(requested) if requested else torch.device("cuda" if cuda_available else "cpu")
    if wanted.type != "cuda":
        return wanted
    if wanted.index is not None:
        raise ValueError(
            f"--device {requested}: under torchrun each process takes the GPU of its local rank; give --device cuda"
        )
    count = torch.cuda.device_count()
    if ranks.local_rank >= count:
        raise ValueError(f"local rank {ranks.local_rank} has no GPU of its own: this machine has {count}; start at most "
                         f"{count} processes per machine (torchrun --nproc_per_node {count})")
    return torch.device("cuda", ranks.local_rank)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Join the run's process group for the duration (NCCL on CUDA, gloo on the CPU); nothing for one process.

    A group the caller already started is used and left as it is."""
    if not ranks.distributed:
        yield
        return
    if dist.is_initialized():
        if dist.get_world_size() != ranks.world_size or dist.get_rank() != ranks.rank:
            raise ValueError(f"a process group of {dist.get_world_size()} is already running; this run is rank "
                             f"{ranks.rank} of {ranks.world_size}")
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=ranks.rank, world_size=ranks.world_size)
    try:
        yield
    finally:
        dist.destroy_process_group()


@dataclass(frozen=True)
class StepShard:
    """This process's crops of one step: dataset indices and the factor its loss is scaled by."""

    indices: tuple[int, ...]
    weight: float


def step_shard(first: int, stop: int, ranks: Ranks) -> StepShard:
    """The share of the step made of dataset indices ``first .. stop - 1`` that ``ranks`` takes (see the module)."""
    count = stop - first
    if count <= 0:
        raise ValueError(f"a step of no crops ({first}..{stop})")
    # as numpy.array_split: the first (count % world) shares take one crop more
    base, extra = divmod(count, ranks.world_size)
    start = ranks.rank * base + min(ranks.rank, extra)
    size = base + (1 if ranks.rank < extra else 0)
    if size == 0:
        return StepShard((first,), 0.0)
    return StepShard(tuple(range(first + start, first + start + size)), ranks.world_size * size / count)


class StepBatches:
    """A DataLoader batch sampler: this process's share of every step of an epoch of ``length`` indices.

    One process gets ``[0, b), [b, 2b), ...``, as ``DataLoader(batch_size=b)`` does."""

    def __init__(self, length: int, batch_size: int, ranks: Ranks) -> None:
        self.length = int(length)
        self.batch_size = int(batch_size)
        self.ranks = ranks

    def shards(self) -> Iterator[StepShard]:
        for first in range(0, self.length, self.batch_size):
            yield step_shard(first, min(first + self.batch_size, self.length), self.ranks)

    def __iter__(self) -> Iterator[list[int]]:
        for shard in self.shards():
            yield list(shard.indices)

    def __len__(self) -> int:
        return -(-self.length // self.batch_size)


class Agreement:
    """What the processes of a run must decide together, each step and each epoch; trivial for one process."""

    def __init__(self, ranks: Ranks, device: torch.device) -> None:
        self.ranks = ranks
        # gloo reduces CPU tensors, NCCL CUDA ones
        self.device = device if device.type == "cuda" else torch.device("cpu")

    def any_of(self, *flags: bool) -> tuple[bool, ...]:
        """For each flag, whether any process raises it (cancelled, out of time): one reduction for all."""
        if not self.ranks.distributed:
            return tuple(bool(flag) for flag in flags)
        value = torch.tensor([1.0 if flag else 0.0 for flag in flags], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return tuple(bool(v > 0) for v in value.tolist())

    def step_loss(self, weighted_loss: float) -> float:
        """The step's loss over every crop of it: the mean of the processes' weighted losses."""
        if not self.ranks.distributed:
            return weighted_loss
        value = torch.tensor([weighted_loss], dtype=torch.float64, device=self.device)
        dist.all_reduce(value)
        return float(value.item()) / self.ranks.world_size

    def sum_counts(self, counts: np.ndarray) -> np.ndarray:
        """Element-wise sum of an int64 array (a confusion matrix) over the processes."""
        if not self.ranks.distributed:
            return counts
        value = torch.from_numpy(np.ascontiguousarray(counts, dtype=np.int64)).to(self.device)
        dist.all_reduce(value)
        return value.cpu().numpy()

    def gather(self, items: Sequence[Any]) -> list[Any]:
        """Every process's ``items``, concatenated in rank order (pickled: small things only)."""
        if not self.ranks.distributed:
            return list(items)
        gathered: list[Any] = [None] * self.ranks.world_size
        dist.all_gather_object(gathered, list(items))
        return [item for part in gathered for item in part]

    def from_main(self, value: Any) -> Any:
        """The main process's ``value``, on every process."""
        if not self.ranks.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.ranks.distributed:
            dist.barrier()


def shard_of(items: Sequence[Any], ranks: Ranks) -> list[tuple[int, Any]]:
    """Every ``world_size``-th item from ``rank`` on, with its index (validation images)."""
    return [(i, items[i]) for i in range(ranks.rank, len(items), ranks.world_size)]


def parallel_model(model: torch.nn.Module, ranks: Ranks, device: torch.device, *, unused_parameters: bool) -> torch.nn.Module:
    """``model`` wrapped for training by several processes (DistributedDataParallel), or itself for one.

    Batch norm statistics span the whole step's crops, as in one process: torch's SyncBatchNorm on GPUs, the same
    arithmetic through gloo on the CPU (:mod:`segstudio.models.training.shared_batch_norm`). The layers are
    replaced inside ``model`` itself, keeping their tensors, so the optimiser and the checkpoint see no change."""
    if not ranks.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    from segstudio.models.training.shared_batch_norm import share_batch_norm

    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index], find_unused_parameters=unused_parameters)
    return DistributedDataParallel(share_batch_norm(model), find_unused_parameters=unused_parameters)


def rank_seed(seed: int, ranks: Ranks) -> int:
    """The torch seed of a process's training steps (dropout, Mask R-CNN's proposal sampling): its own stream, so
    processes do not drop the same units for different crops."""
    return int(np.random.SeedSequence((seed, ranks.rank, 0xD15)).generate_state(1, dtype=np.uint64)[0] >> 1)
