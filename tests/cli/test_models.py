from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from segstudio.cli import main
from segstudio.core.progress import Progress
from segstudio.cli.models import parse_options
from segstudio.io.demo_dataset import DEMO_LABELS, write_demo_dataset
from segstudio.io.mask_files import read_class_mask


pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_TRAIN = ("train", "--arch", "unet", "--option", "base_channels=4", "--size", "64", "--batch-size", "2")


def test_models_lists_every_seed_architecture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    printed = capsys.readouterr().out
    for name in ("fcn32s", "fcn16s", "fcn8s", "segnet", "unet", "pspnet", "mask_rcnn"):
        assert f"{name}  (" in printed
    assert "vgg16, resnet50, mobilenet_v2" in printed


def test_train_then_predict_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_demo_dataset(tmp_path / "demo", count=4)
    checkpoint = tmp_path / "model.safetensors"
    code = main([
        "train", "--data", str(data), "--arch", "unet", "--option", "base_channels=4", "--epochs", "1",
        "--size", "64", "--batch-size", "2", "--out", str(checkpoint),
    ])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert checkpoint.is_file() and "epoch   1:" in printed and "best epoch 1" in printed

    out = tmp_path / "predicted"
    assert main(["predict", "--model", str(checkpoint), "--images", str(data / "images"), "--out", str(out)]) == 0
    written = sorted(out.glob("*.png"))
    assert [p.name for p in written] == sorted(p.name for p in (data / "images").glob("*.png"))
    mask = read_class_mask(written[0], DEMO_LABELS)
    assert mask.shape == (240, 320) and mask.max() < DEMO_LABELS.num_classes

    capsys.readouterr()
    assert main(["evaluate", "--gt", str(data / "masks"), "--pred", str(out), "--classes", str(data / "labels.toml")]) == 0
    assert "mean IoU" in capsys.readouterr().out


def test_train_leaves_only_the_checkpoint_and_says_where_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_demo_dataset(tmp_path / "demo", count=3)
    checkpoint = tmp_path / "runs" / "model.safetensors"
    checkpoint.parent.mkdir()
    assert main([*TINY_TRAIN, "--data", str(data), "--epochs", "2", "--out", str(checkpoint)]) == 0
    printed = capsys.readouterr().out
    assert [p.name for p in checkpoint.parent.iterdir()] == ["model.safetensors"]  # no model.resume.pt
    assert f"checkpoint: {checkpoint} (" in printed and " MB)" in printed
    assert "resume state removed: the run completed all its epochs" in printed


def test_loader_workers_change_nothing_but_who_reads_the_crops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors.torch import load_file

    data = write_demo_dataset(tmp_path / "demo", count=3)
    weights = {}
    for workers in (0, 2):
        out = tmp_path / f"w{workers}.safetensors"
        assert main([*TINY_TRAIN, "--data", str(data), "--epochs", "1", "--loader-workers", str(workers), "--out", str(out)]) == 0
        weights[workers] = load_file(str(out))
    assert weights[0].keys() == weights[2].keys()
    assert all((weights[0][k] == weights[2][k]).all() for k in weights[0])
    capsys.readouterr()
    assert main([*TINY_TRAIN, "--data", str(data), "--loader-workers", "-1", "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "--loader-workers -1: 0 (the training process reads its crops) or more" in capsys.readouterr().err


def test_an_interrupted_train_keeps_its_resume_state_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from segstudio.cli import models

    data = write_demo_dataset(tmp_path / "demo", count=3)
    checkpoint = tmp_path / "model.safetensors"
    resume_state = tmp_path / "model.resume.pt"
    command = [*TINY_TRAIN, "--data", str(data), "--epochs", "2", "--out", str(checkpoint)]
    shown = models._ProgressBar.__call__

    def ctrl_c_after_the_first_epoch(bar: object, progress: Progress) -> None:
        shown(bar, progress)  # type: ignore[arg-type]
        if progress.stage == "validate":
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(models._ProgressBar, "__call__", ctrl_c_after_the_first_epoch)
        assert main(command) == 130
    err = capsys.readouterr().err
    assert resume_state.is_file() and checkpoint.is_file()
    assert f"the resume state of the last finished epoch is kept: {resume_state}" in err and "--resume" in err

    assert main([*command, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "epoch   1:" in printed and "epoch   2:" in printed  # the first epoch's record came back with the state
    assert not resume_state.exists() and "resume state removed" in printed


def test_a_time_budget_keeps_the_resume_state_and_says_how_to_continue(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from segstudio.models.training import runner

    data = write_demo_dataset(tmp_path / "demo", count=3)
    checkpoint = tmp_path / "model.safetensors"
    # Each time the epoch loop looks at its clock, 50 s more have passed: a 2-minute budget ends in epoch 2.
    looks = iter(range(1, 10**6))
    real = time.monotonic
    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=lambda: real() + 50.0 * next(looks)))
    assert main([*TINY_TRAIN, "--data", str(data), "--epochs", "5", "--max-minutes", "2", "--out", str(checkpoint)]) == 0
    printed = capsys.readouterr().out
    assert "stopped: time budget" in printed and "best epoch 1" in printed
    assert f"resume state: {tmp_path / 'model.resume.pt'} (" in printed and "the same command with --resume" in printed
    assert (tmp_path / "model.resume.pt").is_file()


def test_predict_refuses_a_broken_model_file_and_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = write_demo_dataset(tmp_path / "demo", count=1) / "images"
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    assert main(["predict", "--model", str(bad), "--images", str(images), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert not (tmp_path / "out").exists()


def test_train_refuses_a_checkpoint_name_of_another_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path), "--arch", "unet", "--out", str(tmp_path / "model.pth")]) == 2
    assert ".safetensors" in capsys.readouterr().err


def test_unknown_architecture_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_demo_dataset(tmp_path / "demo", count=2)
    assert main(["train", "--data", str(data), "--arch", "deeplab9000", "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "unknown architecture" in capsys.readouterr().err


def test_options_parse_as_json_where_they_can() -> None:
    assert parse_options(["upsampling=bilinear", "bins=[1,2,3,6]", "aux=false", "base_channels=8"]) == {
        "upsampling": "bilinear", "bins": [1, 2, 3, 6], "aux": False, "base_channels": 8,
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options(["novalue"])


def test_predict_with_a_torchvision_weights_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    torch.manual_seed(0)
    weights = tmp_path / "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
    torch.save(maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(), weights)
    images = write_demo_dataset(tmp_path / "demo", count=1) / "images"
    out = tmp_path / "predicted"
    assert main(["predict", "--model", str(weights), "--images", str(images), "--out", str(out)]) == 0
    [written] = sorted(out.glob("*.png"))
    from segstudio.io.mask_files import read_tagged_instance_mask

    instances = read_tagged_instance_mask(written)  # objects with their classes and scores, not a bare class mask
    assert instances is not None and instances.shape == (240, 320)
    assert instances.scores is not None and set(instances.scores) == set(instances.instance_ids)


def test_predict_refuses_a_checkpoint_with_nan_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A diverged training's checkpoint would predict all background and exit 0; it is refused at load."""
    torch = pytest.importorskip("torch")
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    import safetensors
    import safetensors.torch

    config = ModelConfig("unet", DEMO_LABELS.num_classes, 3, "classic", {"base_channels": 4})
    model = build_model(config)
    checkpoint = tmp_path / "diverged.safetensors"
    save_checkpoint(checkpoint, model, CheckpointMeta(config, DEMO_LABELS))
    with torch.no_grad():
        weight = next(model.parameters())
        weight[(0,) * weight.dim()] = float("nan")
    # save_checkpoint refuses NaN weights; another program's file (or a damaged disk) may still hold them.
    with safetensors.safe_open(str(checkpoint), framework="pt") as handle:
        metadata = handle.metadata()
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    checkpoint.write_bytes(safetensors.torch.save(state, metadata=metadata))
    images = write_demo_dataset(tmp_path / "demo", count=1) / "images"
    out = tmp_path / "out"
    assert main(["predict", "--model", str(checkpoint), "--images", str(images), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(checkpoint) in err and "1 NaN" in err and "not loaded" in err
    assert not out.exists()
