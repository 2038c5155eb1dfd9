"""Scoring a folder's pairs on a Ray cluster (``segstudio evaluate --engine ray``): each worker counts the confusion
matrices of its shard of pairs with :func:`~segstudio.app.folder_evaluation.pair_confusion` (the local run's own
step), and this machine adds them, in the plan's order, into one :class:`~segstudio.core.metrics.DatasetEvaluator`.
The dataset's matrix is the int64 sum of the images' (per-image matrices are kept, as locally, for the per-image
means, the worst images and the JSON), so every figure is the local run's.

Deciding how to read the folders, which counts every mask's values when no project file or option says it, runs
on the workers too (:func:`ray_value_counter`, the local count's own step).

A pair that cannot be scored fails the run as locally: the first such pair in the plan's order, with the same
:class:`~segstudio.core.errors.FileProblem` (its file and reason). Workers read the masks from the paths this
machine sees: one machine, or a shared file system.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segstudio.app.folder_evaluation import SCORING, MaskReading, ValueCounter, new_evaluator, pair_confusion
from segstudio.app.instance_evaluation import PairCounter, PairOverlaps, pair_overlaps
from segstudio.app.ray_cluster import Cluster, WorkerPool
from segstudio.core.errors import FileProblem
from segstudio.core.metrics import DatasetScores
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.io.mask_convention import MaskValues
from segstudio.io.mask_files import read_raw_mask

PAIRS_PER_TASK = 64  # reading two masks takes milliseconds: bigger shards than prediction's, fewer task round trips


def score_pairs_on_ray(
    cluster: Cluster, pool: WorkerPool, pairs: Sequence[tuple[str, Path, Path]], reading: MaskReading, *,
    progress: ProgressCallback | None = None, batch_size: int = PAIRS_PER_TASK,
) -> DatasetScores:
    """The scores :func:`~segstudio.app.folder_evaluation.score_pairs` gives for ``pairs``, counted on ``pool``'s
    workers (``pool.workers`` tasks at a time, ``pool.cpus`` each)."""
    evaluator = new_evaluator(reading)
    if not pairs:
        return evaluator.result()
    rows = [{"index": index, "truth": str(truth), "prediction": str(prediction)}
            for index, (_stem, truth, prediction) in enumerate(pairs)]
    classes = reading.labels.num_classes
    results = _in_order(_mapped(cluster, pool, rows, count_confusions, batch_size, {"reading": reading}))
    for done, (index, row) in enumerate(results, start=1):
        # added as soon as every earlier pair is in: the evaluator's order is the plan's, and what waits is only
        # what came back early
        evaluator.add_confusion(pairs[index][0], np.asarray(row["confusion"], dtype=np.int64).reshape(classes, classes))
        report(progress, Progress(SCORING, done, len(pairs), pairs[index][0]))
    return evaluator.result()


def _mapped(
    cluster: Cluster, pool: WorkerPool, rows: list[dict[str, Any]], function: Any, batch_size: int,
    fn_kwargs: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """``function`` over ``rows`` in shards on ``pool``'s workers (``pool.workers`` tasks at a time); the result rows
    as they come back, in any order."""
    ray = cluster.ray
    per_task = max(1, min(batch_size, math.ceil(len(rows) / pool.workers)))  # every worker gets a shard
    dataset = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / per_task))
    return dataset.map_batches(
        function, fn_kwargs=fn_kwargs or {}, batch_size=per_task, batch_format="numpy", num_cpus=pool.cpus,
        **_task_pool(ray, min(pool.workers, len(rows))),
    ).iter_rows()  # fmt: skip


def _in_order(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, row)`` in index order (0, 1, ...) from rows coming back in any order. The first row in order with a
    problem fails the run as locally (:class:`FileProblem`), as soon as every row before it is in."""
    waiting: dict[int, dict[str, Any]] = {}
    following = 0
    for row in rows:
        waiting[int(row["index"])] = row
        while following in waiting:
            ready = waiting.pop(following)
            if ready["problem"]:
                raise _problem(str(ready["problem"]))
            yield following, ready
            following += 1


def _task_pool(ray: Any, size: int) -> dict[str, Any]:
    """At most ``size`` tasks at a time: ``compute=TaskPoolStrategy`` where Ray has it, else ``concurrency``."""
    strategy = getattr(ray.data, "TaskPoolStrategy", None)
    return {"compute": strategy(size=size)} if strategy is not None else {"concurrency": size}


def ray_value_counter(cluster: Cluster, pool: WorkerPool, *, batch_size: int = PAIRS_PER_TASK) -> ValueCounter:
    """A :data:`~segstudio.app.folder_evaluation.ValueCounter` that counts on ``pool``'s workers: deciding how to
    read a folder of millions of masks reads every one of them once, as scoring does."""

    def count(paths: Sequence[Path], stage: str, progress: ProgressCallback | None) -> list[MaskValues]:
        if not paths:
            return []
        rows = [{"index": index, "path": str(path)} for index, path in enumerate(paths)]
        found: list[MaskValues] = []
        for index, row in _in_order(_mapped(cluster, pool, rows, count_values_of_batch, batch_size)):
            found.append(pickle.loads(row["values"]))
            report(progress, Progress(stage, len(found), len(paths), paths[index].name))
        return found

    return count


def ray_pair_counter(cluster: Cluster, pool: WorkerPool, *, batch_size: int = PAIRS_PER_TASK) -> PairCounter:
    """A :data:`~segstudio.app.instance_evaluation.PairCounter` whose pairs are read and their objects' overlaps
    counted on ``pool``'s workers (``evaluate --instances --engine ray``); the overlaps come back in order."""

    def count(pairs: Sequence[tuple[str, Path, Path]], cancel: CancelToken | None) -> Iterator[PairOverlaps]:
        if not pairs:
            return
        rows = [{"index": index, "truth": str(truth), "prediction": str(prediction)}
                for index, (_stem, truth, prediction) in enumerate(pairs)]
        for _index, row in _in_order(_mapped(cluster, pool, rows, count_instance_overlaps, batch_size)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            yield pickle.loads(row["overlaps"])

    return count


def count_instance_overlaps(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A Ray Data batch of instance mask pairs -> each pair's pickled :class:`PairOverlaps` (the local step's own),
    or the problem that stopped it."""
    pairs = zip(batch["truth"], batch["prediction"], strict=True)
    return _pickled_per_row(batch["index"], "overlaps", [lambda t=t, p=p: pair_overlaps(Path(str(t)), Path(str(p)))
                                                         for t, p in pairs])


def count_values_of_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A Ray Data batch of mask paths -> each one's pickled :class:`MaskValues` (the local count's own), or the
    problem that stopped it."""
    paths = [Path(str(text)) for text in batch["path"]]
    return _pickled_per_row(batch["index"], "values", [lambda p=p: MaskValues.of(p.name, read_raw_mask(p)) for p in paths])


def _pickled_per_row(index: np.ndarray, column: str, steps: Sequence[Callable[[], object]]) -> dict[str, np.ndarray]:
    """Each row's step result pickled into ``column``, or the FileProblem that stopped it in ``problem``."""
    results: list[bytes] = []
    problems: list[str] = []
    for step in steps:
        try:
            results.append(pickle.dumps(step()))
            problems.append("")
        except FileProblem as problem:
            results.append(b"")
            problems.append(_problem_text(problem))
    return {"index": np.asarray(index), column: np.array(results, dtype=object),
            "problem": np.array(problems, dtype=object)}


def _problem_text(problem: FileProblem) -> str:
    return f"{problem.path}{_SEPARATOR}{problem.problem}"


def _problem(text: str) -> FileProblem:
    path, _, reason = text.partition(_SEPARATOR)
    return FileProblem(Path(path), reason)


_SEPARATOR = "\0"  # path and reason of a FileProblem in one string column (neither holds a NUL)


def count_confusions(batch: dict[str, np.ndarray], reading: MaskReading) -> dict[str, np.ndarray]:
    """A Ray Data batch of pairs -> each pair's flattened confusion matrix, or the problem that stopped it."""
    classes = reading.labels.num_classes
    confusions = np.zeros((len(batch["index"]), classes * classes), dtype=np.int64)
    problems: list[str] = []
    for row, (truth, prediction) in enumerate(zip(batch["truth"], batch["prediction"], strict=True)):
        try:
            confusions[row] = pair_confusion(Path(str(truth)), Path(str(prediction)), reading).ravel()
            problems.append("")
        except FileProblem as problem:
            problems.append(_problem_text(problem))
    return {"index": np.asarray(batch["index"]), "confusion": confusions, "problem": np.array(problems, dtype=object)}


__all__ = ["PAIRS_PER_TASK", "count_confusions", "count_values_of_batch", "ray_value_counter", "score_pairs_on_ray"]
