"""The ``--engine`` options of ``segstudio predict`` and ``segstudio evaluate``: run here (the default) or on a Ray
cluster (:mod:`segstudio.app.ray_cluster`). Ray is imported only when ``--engine ray`` runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segstudio.app.ray_cluster import Cluster, WorkerPool

LOCAL = "local"
RAY = "ray"
_RAY_ONLY = (("address", "--address"), ("workers", "--workers"), ("cpus_per_worker", "--cpus-per-worker"))


def add_engine_options(parser: argparse.ArgumentParser, *, shared_files: str, note: str = "") -> Any:
    """``--engine``, ``--address``, ``--workers``, ``--cpus-per-worker`` in their own help group (returned, for a
    command's own Ray options); ``shared_files`` says which files the workers use by this machine's paths."""
    group = parser.add_argument_group(
        "Ray engine",
        f'--engine ray (needs `pip install "segstudio[ray]"`) shards the work over a Ray cluster with Ray Data; '
        f"the results are those of the local run. Every worker needs segstudio installed and {shared_files} under "
        f"the same paths as here (one machine, or a shared file system){note}.",
    )
    group.add_argument("--engine", choices=(LOCAL, RAY), default=LOCAL,
                       help="local: in this process (default); ray: on a Ray cluster")
    group.add_argument("--address", metavar="ADDR",
                       help="the Ray cluster to join: ray://HOST:10001 (Ray Client), HOST:6379 or auto (run on one of "
                       "its nodes); default: start a local cluster on this machine for this command, shut down after it")
    group.add_argument("--workers", type=int, metavar="N",
                       help="Ray workers running at once (default: one per GPU of the cluster, else one per CPU)")
    group.add_argument("--cpus-per-worker", type=float, metavar="N",
                       help="CPUs each Ray worker reserves and its torch threads (default 1)")
    return group


def uses_ray(args: argparse.Namespace) -> bool:
    """Whether the command runs on Ray; the Ray-only options without ``--engine ray`` are a usage error."""
    if args.engine == RAY:
        return True
    given = [option for name, option in _RAY_ONLY if getattr(args, name, None) is not None]
    if getattr(args, "overwrite", False):
        given.append("--overwrite")
    if given:
        raise ValueError(f"{', '.join(given)} only apply with --engine ray")
    return False


def plan_workers(cluster: Cluster, args: argparse.Namespace, *, model: bool) -> WorkerPool:
    """The pool for this command on ``cluster``, as the options ask; GPUs only for a ``model`` to run."""
    from segstudio.app.ray_cluster import plan_pool

    cpus = 1.0 if args.cpus_per_worker is None else args.cpus_per_worker
    device = getattr(args, "device", None) if model else "cpu"
    return plan_pool(cluster.resources, workers=args.workers, cpus=cpus, device=device)


def describe_cluster(cluster: Cluster, pool: WorkerPool, *, model: bool) -> str:
    """One line for stderr: which cluster, what it has, the pool used."""
    where = "a local Ray cluster started for this command" if cluster.started else f"Ray cluster {cluster.address or '(already connected)'}"
    gpus = f", {cluster.resources.gpus:g} GPUs" if cluster.resources.gpus else ""
    return f"engine: {where} ({cluster.resources.cpus:g} CPUs{gpus}); {pool.describe(model=model)}"
