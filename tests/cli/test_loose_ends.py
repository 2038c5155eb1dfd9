"""Loose ends of the command line (issue 14 item 3): each bad argument is a one-line usage error naming the
argument and what is wrong, never a traceback, and nothing is written for it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from segstudio.cli import EXIT_CLOSED_OUTPUT, EXIT_CRASH, EXIT_USAGE, _parser, main
from segstudio.core.labels import MAX_MASK_VALUE, LabelSet
from segstudio.io.demo_dataset import write_demo_dataset


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``, expect exit 2 either from argparse (SystemExit) or from the command; return stderr."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert "Traceback" not in err and "unexpected error" not in err
    return err


# -- --device -----------------------------------------------------------------------------------------------


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.usefixtures("no_gpu")
def test_predict_on_cuda_without_a_gpu_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = write_demo_dataset(tmp_path / "demo", count=1) / "images"
    out = tmp_path / "out"
    err = _usage_error(["predict", "--model", str(tmp_path / "m.safetensors"), "--images", str(images),
                        "--out", str(out), "--device", "cuda"], capsys)
    assert err.strip().count("\n") == 0, "one line"
    assert "--device cuda: no CUDA GPU is available on this machine; available devices: cpu" in err
    assert not out.exists()


@pytest.mark.usefixtures("no_gpu")
def test_train_on_cuda_without_a_gpu_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.safetensors"
    err = _usage_error(["train", "--data", str(tmp_path), "--arch", "unet", "--out", str(out), "--device", "cuda:0"], capsys)
    assert "--device cuda:0: no CUDA GPU is available" in err and "available devices: cpu" in err
    assert not out.exists()


def test_a_device_name_torch_does_not_know_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    err = _usage_error(["train", "--data", str(tmp_path), "--arch", "unet", "--out", str(tmp_path / "m.safetensors"),
                        "--device", "gpu"], capsys)
    assert "--device 'gpu' is not a device name" in err and "cpu" in err


def test_a_gpu_index_past_the_last_gpu_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    from segstudio.cli.models import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device("cuda") == "cuda" and check_device("cuda:0") == "cuda:0" and check_device("cpu") == "cpu"
    with pytest.raises(ValueError, match=r"--device cuda:3: this machine has 1 CUDA GPU\(s\), cuda:0\.\.cuda:0"):
        check_device("cuda:3")


# -- stdout closed early (segstudio models | head) -----------------------------------------------------------


class _ClosedPipe(io.StringIO):
    """stdout whose reader has gone: every write and flush fails as a closed pipe does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_ends_the_command_quietly(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["models"]) == EXIT_CLOSED_OUTPUT
    monkeypatch.undo()
    assert capsys.readouterr().err == ""  # no traceback, no crash report


def test_a_broken_pipe_that_is_not_stdout_stays_a_crash(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from segstudio.cli import models

    def broken_worker(_args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # a worker's pipe, say: stdout itself is fine

    monkeypatch.setattr(models, "_run_models", broken_worker)
    assert main(["models"]) == EXIT_CRASH
    assert "BrokenPipeError" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["models"], ["--help"]], ids=["models", "help"])
def test_piping_into_a_reader_that_stops_early_prints_no_traceback(argv: list[str]) -> None:
    """The real thing: stdout is a pipe whose reader has closed it before segstudio writes a line."""
    process = subprocess.Popen([sys.executable, "-m", "segstudio", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == EXIT_CLOSED_OUTPUT, err
    assert err == ""


# -- --tile ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tile", ["0", "1", "31", "-64", "16385", "abc"])
def test_predict_refuses_a_tile_size_outside_its_range(tile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    err = _usage_error(["predict", "--model", str(tmp_path / "m.safetensors"), "--images", str(tmp_path),
                        "--out", str(out), f"--tile={tile}"], capsys)
    assert "argument --tile" in err and tile in err and "32..16384 px" in err
    assert not out.exists()


def test_predict_accepts_tile_sizes_in_range() -> None:
    for tile in ("32", "512", "16384"):
        args = _parser().parse_args(["predict", "--model", "m", "--images", "i", "--out", "o", "--tile", tile])
        assert args.tile == int(tile)


# -- --ignore-index -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-5", "70000", "65536", "1.5"])
def test_evaluate_refuses_an_ignore_index_that_no_mask_can_hold(value: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scores.json"
    err = _usage_error(["evaluate", "--gt", str(tmp_path), "--pred", str(tmp_path), "--num-classes", "3",
                        f"--ignore-index={value}", "--json", str(out)], capsys)
    assert "argument --ignore-index" in err and value in err and "0..65535" in err
    assert not out.exists()


def test_evaluate_accepts_the_ignore_indices_masks_use() -> None:
    for value in ("0", "11", "255", "65535"):
        args = _parser().parse_args(["evaluate", "--gt", "g", "--pred", "p", "--ignore-index", value])
        assert args.ignore_index == int(value)


@pytest.mark.parametrize("ignore", [-5, -1, MAX_MASK_VALUE + 1, 70000])
def test_a_label_set_refuses_an_ignore_id_outside_mask_values(ignore: int) -> None:
    with pytest.raises(ValueError, match=rf"ignore id {ignore} is not a mask value.*3\.\.65535"):
        LabelSet.with_count(3, ignore_index=ignore)
    assert LabelSet.with_count(3, ignore_index=MAX_MASK_VALUE).ignore_index == MAX_MASK_VALUE


# -- --screenshot ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["open", "DATA"], []], ids=["open", "window"])
def test_a_screenshot_into_a_missing_folder_is_refused_and_nothing_created(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_demo_dataset(tmp_path / "demo", count=1)
    shot = tmp_path / "nonexistent" / "deep" / "x.png"
    argv = [str(data) if part == "DATA" else part for part in command]
    err = _usage_error([*argv, "--screenshot", str(shot)], capsys)
    assert str(shot) in err and f"folder {shot.parent} does not exist" in err
    assert not (tmp_path / "nonexistent").exists()


def test_a_screenshot_under_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_demo_dataset(tmp_path / "demo", count=1)
    (tmp_path / "notes").write_text("not a folder")
    err = _usage_error(["open", str(data), "--screenshot", str(tmp_path / "notes" / "x.png")], capsys)
    assert "is not a folder" in err
    assert (tmp_path / "notes").read_text() == "not a folder"
