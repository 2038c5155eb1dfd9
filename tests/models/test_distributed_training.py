"""Training by several processes under torchrun (gloo, CPU): the same crops, gradients and batch norm statistics
as one process with the same global batch; repeatable; resumable; one report and one checkpoint from rank 0.

Real data: six ISBI 2012 slices (semantic) and three Penn-Fudan images (Mask R-CNN, through the command line).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from segstudio.models.registry import ModelConfig, build_model
from segstudio.models.training.distributed import Ranks, StepBatches, rank_seed, step_shard
from tests.real_data import pennfudan_copy

REPO = Path(__file__).resolve().parents[2]
RUN_SCRIPT = REPO / "tests" / "models" / "distributed_run.py"


# -- how a step is shared ----------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 5])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_the_shares_of_a_step_are_its_crops_in_order_and_weigh_every_crop_alike(world: int, count: int) -> None:
    shards = [step_shard(10, 10 + count, Ranks(rank, world)) for rank in range(world)]
    taken = [i for s in shards if s.weight for i in s.indices]
    assert taken == list(range(10, 10 + count))  # contiguous, in rank order: the crops one process would take
    # the averaged gradient sum_r (w_r / world) * mean_r gives each crop 1 / count when the weights add up to world
    assert math.isclose(sum(s.weight for s in shards) / world, 1.0)
    for s in shards:
        if s.weight:
            assert math.isclose(s.weight, world * len(s.indices) / count)
        else:  # an empty share still loads one crop, counted 0, to take part in the gradient reduction
            assert count < world and len(s.indices) == 1


def test_one_process_takes_the_batches_a_plain_data_loader_takes() -> None:
    assert list(StepBatches(10, 4, Ranks())) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(StepBatches(10, 4, Ranks())) == 3
    assert list(StepBatches(10, 4, Ranks(1, 2))) == [[2, 3], [6, 7], [9]]


def test_torchrun_environment() -> None:
    assert Ranks.from_environment({}) == Ranks()
    assert Ranks.from_environment({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Ranks(3, 4, 1)
    with pytest.raises(ValueError, match="RANK"):
        Ranks.from_environment({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="rank 2 of 2"):
        Ranks.from_environment({"RANK": "2", "WORLD_SIZE": "2"})
    assert rank_seed(0, Ranks(0, 2)) != rank_seed(0, Ranks(1, 2))


# -- whole runs under torchrun -------------------------------------------------------------------------------


def _torchrun(*args: str, processes: int = 2, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    environment.pop("WORLD_SIZE", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _single(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        environment.pop(name, None)
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environment, timeout=timeout, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


# SGD keeps the comparison linear (Adam's normalised steps turn float rounding in tiny gradients into whole
# steps); no Dice term, which each process computes over its own share; ISBI masks have no ignore pixels and the
# crops no padding, so the shares' cross-entropy means weigh every pixel alike. 7 crops in steps of 3: shares of
# 2 and 1 crops, and a last step of one crop, where the second process's share is empty.
SETTINGS = {
    "architecture": "unet", "encoder": "classic", "options": {"base_channels": 4}, "epochs": 2, "batch_size": 3,
    "samples_per_epoch": 7, "crop_size": 64, "dice_weight": 0.0, "optimiser": "sgd", "learning_rate": 0.05,
    "seed": 1, "device": "cpu", "val_fraction": 0.34, "keep_resume_state": True,
}  # fmt: skip


@pytest.fixture(scope="module")
def isbi(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = shared_data / "isbi2012" / "train"
    if not (source / "images" / "5.png").is_file():
        pytest.skip("ISBI 2012 is not in the shared data")
    root = tmp_path_factory.mktemp("isbi")
    for folder in ("images", "masks"):
        (root / folder).mkdir()
        for index in range(6):
            (root / folder / f"{index}.png").write_bytes((source / folder / f"{index}.png").read_bytes())
    return root


def _run(tmp: Path, name: str, *, processes: int, **changes: object) -> tuple[dict, dict[str, torch.Tensor]]:
    config = {**SETTINGS, **{k: v for k, v in changes.items() if k not in ("resume", "cancel_after", "data")}}
    out = tmp / f"{name}.safetensors"
    settings = {"data": str(changes.get("data")), "out": str(out), "config": config,
                "resume": changes.get("resume", False), "cancel_after": changes.get("cancel_after")}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(settings))
    if processes == 1:
        _single(str(RUN_SCRIPT), str(path))
    else:
        _torchrun(str(RUN_SCRIPT), str(path), processes=processes)
    outcome = json.loads(Path(str(out) + ".outcome.json").read_text())
    state = torch.load(tmp / f"{name}.resume.pt", weights_only=True)
    return outcome, state["model"]


def _relative_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], start: dict[str, torch.Tensor]) -> float:
    """|a - b| over |b - start|, over the trained parameters: how far apart two runs ended, against how far they went."""
    keys = [k for k in b if b[k].is_floating_point() and "running" not in k]
    apart = sum(float((a[k].double() - b[k].double()).pow(2).sum()) for k in keys)
    travelled = sum(float((b[k].double() - start[k].double()).pow(2).sum()) for k in keys)
    return math.sqrt(apart / travelled)


@pytest.fixture(scope="module")
def two_process_run(isbi: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, torch.Tensor]]:
    tmp = tmp_path_factory.mktemp("two")
    outcome, weights = _run(tmp, "two", processes=2, data=isbi)
    return tmp, outcome, weights


def test_two_processes_train_the_model_one_process_trains_with_the_same_global_batch(
    isbi: Path, two_process_run: tuple[Path, dict, dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    _, two, two_weights = two_process_run
    one, one_weights = _run(tmp_path, "one", processes=1, data=isbi)
    smaller_batch, smaller_weights = _run(tmp_path, "batch2", processes=1, data=isbi, batch_size=2)
    torch.manual_seed(SETTINGS["seed"])
    start = build_model(ModelConfig("unet", 2, 1, "classic", {"base_channels": 4})).state_dict()

    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["progress_reports"] == one["progress_reports"] == 6  # 3 steps per epoch, reported by rank 0 only
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-4)
    np.testing.assert_allclose(two["mean_iou"], one["mean_iou"], rtol=1e-3)
    same_batch = _relative_difference(two_weights, one_weights, start)
    other_batch = _relative_difference(smaller_weights, one_weights, start)
    # float rounding through batch norm's reductions is all that differs; another global batch differs by far more
    assert same_batch < 0.02, same_batch
    assert other_batch > 10 * same_batch, (same_batch, other_batch)


def test_the_same_seed_gives_the_same_model_and_a_cancelled_run_resumes_to_it(
    isbi: Path, two_process_run: tuple[Path, dict, dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    _, straight, straight_weights = two_process_run
    again, again_weights = _run(tmp_path, "again", processes=2, data=isbi)
    assert again["losses"] == straight["losses"]
    assert all(torch.equal(again_weights[k], straight_weights[k]) for k in straight_weights)

    # rank 0 cancels in the second epoch; rank 1 must stop at the same step (or it would wait for ever)
    cancelled = tmp_path / "cut"
    cancelled.mkdir()
    outcome, _ = _run(cancelled, "cut", processes=2, data=isbi, cancel_after=4)
    assert outcome["cancelled_at_step"] == 4
    resumed, resumed_weights = _run(cancelled, "cut", processes=2, data=isbi, resume=True)
    assert resumed["losses"] == straight["losses"]
    assert all(torch.equal(resumed_weights[k], straight_weights[k]) for k in straight_weights)


def test_mask_rcnn_trains_under_torchrun_from_the_command_line(shared_data: Path, tmp_path: Path) -> None:
    root = pennfudan_copy(shared_data, tmp_path / "pennfudan")
    out = tmp_path / "people.safetensors"
    done = _torchrun(
        "-m", "segstudio", "train", "--data", str(root), "--arch", "mask_rcnn", "--encoder", "mobilenet_v3",
        "--option", "min_size=96", "--option", "max_size=160", "--epochs", "1", "--batch-size", "2",
        "--samples-per-epoch", "3", "--device", "cpu", "--out", str(out),
    )  # fmt: skip  3 crops in steps of 2: the second process's share of the last step is empty (one crop, counted 0)
    report = done.stdout
    assert report.count("trained by 2 processes (torchrun), 2 crops per step in all") == 1
    assert report.count("epoch   1: loss") == 1, report  # one report, from rank 0
    assert "mask AP@0.5" in report
    assert out.is_file() and not (tmp_path / "people.resume.pt").exists()
    assert "Traceback" not in done.stderr
