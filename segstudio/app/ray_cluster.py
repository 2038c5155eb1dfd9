"""The Ray cluster the ``--engine ray`` commands run on: Ray imported only here and only when asked for, a local
cluster started (or a running one joined) for the length of one command, and the worker pool sized from what the
cluster has.

Ray is an optional extra (``pip install "segstudio[ray]"``): importing segstudio never imports it.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

RAY_INSTALL = 'pip install "segstudio[ray]"'


class RayMissing(ValueError):
    """``--engine ray`` without Ray installed: a usage error (one line, exit 2), not a traceback."""

    def __init__(self) -> None:
        super().__init__(f"--engine ray needs Ray (with Ray Data), which is not installed: {RAY_INSTALL}")


def import_ray() -> ModuleType:
    """``ray`` with ``ray.data`` loaded, or :class:`RayMissing`."""
    try:
        ray = importlib.import_module("ray")
        importlib.import_module("ray.data")
    except ImportError as error:
        raise RayMissing() from error
    return ray


@dataclass(frozen=True)
class ClusterResources:
    """What the cluster offers (Ray's resource counts, summed over its nodes)."""

    cpus: float
    gpus: float


@dataclass(frozen=True)
class WorkerPool:
    """The actors a command runs on: ``workers`` of them, each reserving ``cpus`` and ``gpus`` (0 or 1) and
    running its model on ``device``."""

    workers: int
    cpus: float
    gpus: float
    device: str

    def describe(self, *, model: bool = True) -> str:
        per = f"{self.cpus:g} CPU" + (f" + {self.gpus:g} GPU" if self.gpus else "")
        return f"{self.workers} Ray worker(s), {per} each" + (f", model on {self.device}" if model else "")


def plan_pool(
    resources: ClusterResources, *, workers: int | None = None, cpus: float = 1.0, device: str | None = None
) -> WorkerPool:
    """Size the pool: one GPU per worker when the cluster has GPUs (unless ``device`` is ``cpu``), else ``cpus``
    per worker; ``workers`` None: as many as the cluster's GPUs (or CPUs) allow. ``ValueError`` when the cluster
    cannot run what was asked (``--device cuda`` on a cluster without GPUs)."""
    if cpus <= 0:
        raise ValueError(f"--cpus-per-worker {cpus:g}: a worker needs more than 0 CPUs")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: at least 1")
    wanted = (device or "").split(":")[0]
    if wanted not in ("", "cpu", "cuda"):
        raise ValueError(f"--device {device}: a Ray worker runs its model on cpu or cuda")
    if wanted == "cuda" and resources.gpus < 1:
        raise ValueError(f"--device {device}: the Ray cluster has no GPU (it has {resources.cpus:g} CPUs)")
    on_gpu = wanted == "cuda" or (wanted == "" and resources.gpus >= 1)
    if on_gpu:
        # Ray sets CUDA_VISIBLE_DEVICES per actor: its one GPU is always "cuda" inside it.
        return WorkerPool(workers or max(int(resources.gpus), 1), cpus, 1.0, "cuda")
    return WorkerPool(workers or max(int(resources.cpus // cpus), 1), cpus, 0.0, "cpu")


@dataclass(frozen=True)
class Cluster:
    """A connection to a Ray cluster for one command: ``started`` when this process started it (a local cluster,
    shut down at the end) rather than joined one."""

    ray: Any
    resources: ClusterResources
    started: bool
    address: str | None


@contextmanager
def ray_cluster(address: str | None = None, init_options: Mapping[str, Any] | None = None) -> Iterator[Cluster]:
    """Connect for the length of the ``with``: to ``address`` (``ray://host:10001``, ``host:6379`` or ``auto``), or,
    with None, a local cluster on this machine that ends with the block. Ray already initialised in this process
    (a test, a notebook) is used as it is and left running. ``init_options`` go to ``ray.init``."""
    ray = import_ray()
    joined_existing = ray.is_initialized()
    address = address or os.environ.get("RAY_ADDRESS") or None  # ray.init joins RAY_ADDRESS's cluster when it is set
    if not joined_existing:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, **(init_options or {})}
        if address is not None:
            options.pop("num_cpus", None)  # resources belong to the cluster's own nodes
            options.pop("num_gpus", None)
            options.pop("object_store_memory", None)
        try:
            ray.init(address=address, **options)
        except ConnectionError as error:
            raise ValueError(f"--address {address}: cannot connect to a Ray cluster: {error}") from error
    try:
        available = ray.cluster_resources()
        resources = ClusterResources(float(available.get("CPU", 0.0)), float(available.get("GPU", 0.0)))
        _quiet_ray_data()
        yield Cluster(ray, resources, started=not joined_existing and address is None, address=address)
    finally:
        if not joined_existing:
            ray.shutdown()  # a local cluster ends; a joined one is only disconnected from


def _quiet_ray_data() -> None:
    """Our own progress bar is the one shown: Ray Data's per-operator bars would draw over it."""
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its notes ("progress bars disabled") are not ours
    context = DataContext.get_current()
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False


__all__ = ["Cluster", "ClusterResources", "RAY_INSTALL", "RayMissing", "WorkerPool", "import_ray", "plan_pool",
           "ray_cluster"]
