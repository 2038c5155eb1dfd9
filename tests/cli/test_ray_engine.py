"""``--engine ray`` (issue 15): ``segstudio predict`` and ``segstudio evaluate`` on a local Ray cluster of two
workers give the local run's files and figures, skip and list bad images, resume, and leave no Ray process behind.

One cluster for the module (started here, small, shut down and checked at the end); one more started by a
``segstudio predict --engine ray`` process of its own, to check the command shuts down what it started. Skipped
without Ray (``pip install "segstudio[ray]"``) or without CamVid in ../shared/data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main

IMAGES = 6
OBJECT_STORE_BYTES = 200 * 1024 * 1024  # small: the runs hold one model and a few masks
RAY_PROCESSES = ("raylet", "gcs_server", "plasma_store", "default_worker", "ray::")


def _ray_or_skip() -> object:
    return pytest.importorskip("ray.data", reason='Ray is not installed (pip install "segstudio[ray]")')


@dataclass(frozen=True)
class CamvidRun:
    """A tmp copy of CamVid val images (and one broken file), their ground truth, and a random-weight model."""

    images: Path
    truth: Path
    labels: Path
    model: Path
    local_out: Path


@pytest.fixture(scope="module")
def camvid_run(tmp_path_factory: pytest.TempPathFactory) -> CamvidRun:
    from tests.conftest import SHARED_DATA

    source = SHARED_DATA / "camvid"
    if not (source / "val").is_dir():
        pytest.skip(f"CamVid not found at {source} (set SEGSTUDIO_SHARED_DATA to point at it)")
    import torch

    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import write_label_set
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    root = tmp_path_factory.mktemp("camvid-ray")
    images, truth = root / "images", root / "truth"
    images.mkdir()
    truth.mkdir()
    for path in sorted((source / "val").glob("*.png"))[:IMAGES]:
        shutil.copyfile(path, images / path.name)
        shutil.copyfile(source / "valannot" / path.name, truth / path.name)
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"cut short")  # a PNG's signature, then nothing
    labels = LabelSet.camvid()
    write_label_set(root / "labels.toml", labels)
    torch.manual_seed(0)
    config = ModelConfig("unet", labels.num_classes, 3, "classic", {"base_channels": 4})
    model = root / "tiny-camvid.safetensors"
    save_checkpoint(model, build_model(config), CheckpointMeta(config, labels))
    local_out = root / "local"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray worker runs (one CPU each)
    try:
        code = main(["predict", "--model", str(model), "--images", str(images), "--out", str(local_out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 1  # the broken image is skipped
    return CamvidRun(images, truth, root / "labels.toml", model, local_out)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Path]:
    """A local cluster of 2 CPUs for the module; the commands join it (and leave it running). Yields its temp
    folder, whose path every one of its processes carries; at the end none of them may be left."""
    _ray_or_skip()
    import ray

    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process")
    temp = Path(tempfile.mkdtemp(prefix="sgray", dir="/tmp"))  # short: Ray's socket paths live under it
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, log_to_driver=False,
             _temp_dir=str(temp))
    try:
        yield temp
    finally:
        ray.shutdown()
        survivors = _wait_for_no_processes_of(temp)
        shutil.rmtree(temp, ignore_errors=True)
    assert not survivors, f"Ray processes left running after shutdown: {survivors}"


def _ray_processes_of(temp: Path) -> list[str]:
    """``pid: command`` of every process whose command line names ``temp`` (Ray's own processes all do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(temp) in command and int(entry.name) != os.getpid():
            found.append(f"{entry.name}: {command[:120]}")
    return found


def _wait_for_no_processes_of(temp: Path, seconds: float = 15.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := _ray_processes_of(temp)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


def _predict(run: CamvidRun, out: Path, *extra: str) -> int:
    return main(["predict", "--model", str(run.model), "--images", str(run.images), "--out", str(out),
                 "--engine", "ray", "--workers", "2", *extra])


def _same_files(left: Path, right: Path) -> None:
    names = sorted(p.name for p in left.iterdir())
    assert names == sorted(p.name for p in right.iterdir())
    for name in names:
        assert (left / name).read_bytes() == (right / name).read_bytes(), name


def test_predict_on_ray_writes_the_local_masks_and_lists_the_broken_image(
    camvid_run: CamvidRun, ray_cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ray"
    assert _predict(camvid_run, out) == 1  # as locally: an image skipped is exit 1
    printed = capsys.readouterr()
    assert len(list(out.glob("*.png"))) == IMAGES
    _same_files(camvid_run.local_out, out)  # byte for byte
    assert f"skipped {camvid_run.images / 'broken.png'}: " in printed.err
    assert f"wrote {IMAGES} masks to {out}; 1 images skipped" in printed.out
    assert "2 Ray worker(s)" in printed.err


def test_a_second_run_predicts_only_what_is_missing(
    camvid_run: CamvidRun, ray_cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ray"
    out.mkdir()
    for path in sorted(camvid_run.local_out.glob("*.png"))[1:]:  # all but the first already written
        shutil.copyfile(path, out / path.name)
    first = sorted(camvid_run.local_out.glob("*.png"))[0].name
    # A run killed while writing the first mask leaves only its atomic write's temporary file: not a mask.
    (out / f".{first}.segstudio-999999-abcdefgh.tmp").write_bytes(b"\x89PNG\r\n\x1a\nhalf")
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    assert _predict(camvid_run, out) == 1
    printed = capsys.readouterr()
    assert f"note: {IMAGES - 1} masks already in {out} are kept" in printed.err
    assert f"wrote 1 masks to {out} ({IMAGES - 1} kept from before); 1 images skipped" in printed.out
    assert (out / first).read_bytes() == (camvid_run.local_out / first).read_bytes()
    assert all((out / name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())  # untouched

    assert _predict(camvid_run, out, "--overwrite") == 1
    assert f"wrote {IMAGES} masks to {out}; 1 images skipped" in capsys.readouterr().out
    (out / f".{first}.segstudio-999999-abcdefgh.tmp").unlink()
    _same_files(camvid_run.local_out, out)


def test_predict_on_ray_takes_a_list_of_images(
    camvid_run: CamvidRun, ray_cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = sorted(p.name for p in camvid_run.local_out.glob("*.png"))[:3]
    listing = tmp_path / "list" / "images.txt"
    listing.parent.mkdir()
    shutil.copyfile(camvid_run.images / names[0], listing.parent / names[0])
    listing.write_text(f"# a comment\n{names[0]}\n\n{camvid_run.images / names[1]}\n{camvid_run.images / names[2]}\n"
                       f"{camvid_run.images / 'missing.png'}\n")  # relative, absolute, and a file that is not there
    out = tmp_path / "out"
    assert main(["predict", "--model", str(camvid_run.model), "--images", str(listing), "--out", str(out),
                 "--engine", "ray", "--workers", "2"]) == 1
    printed = capsys.readouterr()
    assert f"wrote 3 masks to {out}; 1 images skipped" in printed.out
    assert f"skipped {camvid_run.images / 'missing.png'}: " in printed.err
    for name in names:
        assert (out / name).read_bytes() == (camvid_run.local_out / name).read_bytes()


def test_evaluate_on_ray_prints_and_writes_the_local_figures(
    camvid_run: CamvidRun, ray_cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["evaluate", "--gt", str(camvid_run.truth), "--pred", str(camvid_run.local_out),
              "--classes", str(camvid_run.labels)]
    capsys.readouterr()
    assert main([*common, "--json", str(tmp_path / "local.json")]) == 0
    local = capsys.readouterr().out
    assert main([*common, "--json", str(tmp_path / "ray.json"), "--engine", "ray", "--workers", "2"]) == 0
    printed = capsys.readouterr()
    on_ray = printed.out
    assert "engine: Ray cluster" in printed.err
    assert "mean IoU" in local and f"{IMAGES} images, counts summed" in local
    assert on_ray.replace("ray.json", "local.json") == local
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "local.json").read_bytes()


def _refusals_here_and_on_ray(command: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The last error line of ``command`` run here and on the Ray cluster; both must exit 2."""
    assert main(command) == 2
    local = capsys.readouterr().err.strip().splitlines()[-1]
    assert main([*command, "--engine", "ray"]) == 2
    said = capsys.readouterr().err
    assert "engine: Ray cluster" in said  # it did run on the cluster
    return local, said.strip().splitlines()[-1]


def test_evaluate_on_ray_refuses_a_bad_mask_as_locally(
    camvid_run: CamvidRun, ray_cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = tmp_path / "pred"
    shutil.copytree(camvid_run.local_out, predictions)
    names = sorted(p.name for p in predictions.glob("*.png"))
    # Masks of the wrong size: read when deciding how to read the folder, refused only when scored (on the workers)
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(predictions / names[2])
    Image.fromarray(np.zeros((20, 8), np.uint8)).save(predictions / names[4])  # the first in order is reported
    common = ["evaluate", "--gt", str(camvid_run.truth), "--pred", str(predictions), "--classes", str(camvid_run.labels)]
    capsys.readouterr()
    local, on_ray = _refusals_here_and_on_ray(common, capsys)
    assert on_ray == local and names[2] in local and "12x10" in local

    (predictions / names[1]).write_bytes(b"not a mask")  # now refused earlier: when its values are counted
    local, on_ray = _refusals_here_and_on_ray(common, capsys)
    assert on_ray == local and names[1] in local and "12x10" not in local


def test_evaluate_instances_on_ray_prints_and_writes_the_local_figures(
    shared_data: Path, ray_cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Penn-Fudan's pedestrians against the same masks moved 6 px, one person dropped and one image broken in
    turn: the AP table and JSON equal the local run's, and the broken file is refused as locally."""
    from tests.real_data import pennfudan_copy

    root = pennfudan_copy(shared_data, tmp_path / "pennfudan", count=5, shrink=2)
    truth, predictions = root / "PedMasks", tmp_path / "moved"
    predictions.mkdir()
    for index, path in enumerate(sorted(truth.glob("*.png"))):
        ids = np.array(Image.open(path))
        moved = np.roll(ids, 6, axis=1)
        if index == 1:
            moved[moved == moved.max()] = 0  # a missed person
        Image.fromarray(moved).save(predictions / path.name)
    common = ["evaluate", "--instances", "--gt", str(truth), "--pred", str(predictions)]
    capsys.readouterr()
    assert main([*common, "--json", str(tmp_path / "local.json")]) == 0
    local = capsys.readouterr().out
    assert main([*common, "--json", str(tmp_path / "ray.json"), "--engine", "ray", "--workers", "2"]) == 0
    printed = capsys.readouterr()
    assert "engine: Ray cluster" in printed.err
    assert "AP@0.5" in local and "5 images" in local
    assert printed.out.replace("ray.json", "local.json") == local
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "local.json").read_bytes()

    broken = sorted(predictions.glob("*.png"))[3]
    broken.write_bytes(b"not a mask")
    refused, on_ray = _refusals_here_and_on_ray(common, capsys)
    assert on_ray == refused and broken.name in refused


def test_the_command_shuts_down_the_cluster_it_started(camvid_run: CamvidRun, tmp_path: Path) -> None:
    _ray_or_skip()
    temp = Path(tempfile.mkdtemp(prefix="sgray", dir="/tmp"))
    out = tmp_path / "own-cluster"
    environment = {**os.environ, "RAY_TMPDIR": str(temp), "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "segstudio", "predict", "--model", str(camvid_run.model), "--images",
             str(camvid_run.images), "--out", str(out), "--engine", "ray", "--workers", "2"],
            capture_output=True, text=True, env=environment, timeout=240,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "a local Ray cluster started for this command" in done.stderr
        _same_files(camvid_run.local_out, out)
        assert list(temp.iterdir()), "the command's cluster did not use RAY_TMPDIR: the check below would prove nothing"
        survivors = _wait_for_no_processes_of(temp)
        assert not survivors, f"Ray processes left running by the command: {survivors}"
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def test_without_ray_the_engine_is_a_one_line_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" raises ImportError, as when it is not installed
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"")
    for command in (
        ["predict", "--model", str(tmp_path / "m.safetensors"), "--images", str(images), "--out", str(tmp_path / "o"),
         "--engine", "ray"],
        ["evaluate", "--gt", str(images), "--pred", str(images), "--engine", "ray"],
    ):
        assert main(command) == 2
        error = capsys.readouterr().err.strip()
        assert error.count("\n") == 0 and 'pip install "segstudio[ray]"' in error, error


def test_ray_options_need_the_ray_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--gt", str(tmp_path), "--pred", str(tmp_path), "--workers", "2"]) == 2
    assert "--workers only apply with --engine ray" in capsys.readouterr().err


def test_the_pool_takes_a_gpu_per_worker_where_the_cluster_has_gpus() -> None:
    from segstudio.app.ray_cluster import ClusterResources, WorkerPool, plan_pool

    gpus = ClusterResources(cpus=32, gpus=4)
    assert plan_pool(gpus) == WorkerPool(4, 1.0, 1.0, "cuda")
    assert plan_pool(gpus, workers=2, cpus=4, device="cuda:1") == WorkerPool(2, 4.0, 1.0, "cuda")
    assert plan_pool(gpus, device="cpu") == WorkerPool(32, 1.0, 0.0, "cpu")
    cpus = ClusterResources(cpus=8, gpus=0)
    assert plan_pool(cpus, cpus=3) == WorkerPool(2, 3.0, 0.0, "cpu")
    for wrong, words in ((dict(device="cuda"), "has no GPU"), (dict(device="mps"), "cpu or cuda"),
                         (dict(workers=0), "at least 1"), (dict(cpus=0), "more than 0")):
        with pytest.raises(ValueError, match=words):
            plan_pool(cpus, **wrong)  # type: ignore[arg-type]


def test_importing_segstudio_never_imports_ray() -> None:
    code = ("import sys, segstudio.cli, segstudio.app.ray_prediction, segstudio.app.ray_evaluation; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
