"""Decompression bombs through the commands and the window's load job (issue 14, item 1): no traceback, the file
and its declared size named, nothing written for it, the other files still done where the command skips bad
files, and the process's memory bounded. Large real images (past Qt's 32767-pixel limit) still open.

In-process runs pin the memory the readers see as available, so the outcome does not depend on the machine; the
subprocess run measures the peak memory under an address-space limit (Linux)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.io.demo_dataset import DEMO_LABELS
from tests.io import decompression_bombs as bombs
from tests.io.decompression_bombs import write_png_bomb

GiB = 1 << 30
BOMB_SIDE = 40000
DECLARED = f"{BOMB_SIDE} x {BOMB_SIDE} pixels (PNG, grey, 8-bit)"


budget = bombs.budget  # the fixture, under its name here


def _mask(height: int = 20, width: int = 30) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4 : height // 2] = 1
    return mask


def _photo(height: int = 40, width: int = 60, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _evaluation_folders(root: Path, bomb_in: str) -> tuple[Path, Path, Path]:
    gt, pred = root / "gt", root / "pred"
    for folder in (gt, pred):
        folder.mkdir(parents=True)
        Image.fromarray(_mask()).save(folder / "a.png")
        Image.fromarray(_mask()).save(folder / "bomb.png")
    bomb = write_png_bomb((gt if bomb_in == "gt" else pred) / "bomb.png", BOMB_SIDE, BOMB_SIDE)
    return gt, pred, bomb


def _tiny_checkpoint(path: Path) -> Path:
    pytest.importorskip("torch")
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    config = ModelConfig("unet", DEMO_LABELS.num_classes, 3, "classic", {"base_channels": 4})
    save_checkpoint(path, build_model(config), CheckpointMeta(config, DEMO_LABELS))
    return path


def _dataset_with_a_bomb(root: Path, *, bomb_image: bool) -> tuple[Path, Path]:
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for index in range(3):
        Image.fromarray(_photo(seed=index)).save(root / "images" / f"{index}.png")
        Image.fromarray(_mask(40, 60)).save(root / "masks" / f"{index}.png")
    Image.fromarray(_photo(seed=9)).save(root / "images" / "bomb.png")
    Image.fromarray(_mask(40, 60)).save(root / "masks" / "bomb.png")
    bomb = write_png_bomb(root / ("images" if bomb_image else "masks") / "bomb.png", BOMB_SIDE, BOMB_SIDE)
    return root, bomb


# -- evaluate -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bomb_in", ["gt", "pred"])
@pytest.mark.parametrize("options", [[], ["--num-classes", "2"]], ids=["detected", "given"])
def test_evaluate_stops_at_a_bomb_and_names_it(
    tmp_path: Path, budget: Callable[[int | None], None], capsys: pytest.CaptureFixture[str], bomb_in: str,
    options: list[str],
) -> None:  # fmt: skip
    gt, pred, bomb = _evaluation_folders(tmp_path, bomb_in)
    scores = tmp_path / "scores.json"
    code = main(["evaluate", "--gt", str(gt), "--pred", str(pred), *options, "--json", str(scores)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"segstudio evaluate: error: {bomb}: image too large for the memory available: {DECLARED}" in err
    assert "8.0 GiB is available" in err and "Traceback" not in err and "MemoryError" not in err
    assert not scores.exists()


def test_evaluate_scores_masks_past_qts_limit(tmp_path: Path, budget: Callable[[int | None], None],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    truth = _mask(300, 40000)
    Image.fromarray(truth).save(gt / "wide.png")
    Image.fromarray(truth).save(pred / "wide.png")
    scores = tmp_path / "scores.json"
    assert main(["evaluate", "--gt", str(gt), "--pred", str(pred), "--num-classes", "2", "--json", str(scores)]) == 0
    assert json.loads(scores.read_text())["mean_iou"] == 1.0


# -- predict ------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("one_torch_thread")
def test_predict_skips_a_bomb_names_it_writes_nothing_for_it_and_predicts_the_rest(
    tmp_path: Path, budget: Callable[[int | None], None], capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = _tiny_checkpoint(tmp_path / "model.safetensors")
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(_photo()).save(images / "a.png")
    bomb = write_png_bomb(images / "bomb.png", BOMB_SIDE, BOMB_SIDE)
    Image.fromarray(_photo(seed=1)).save(images / "c.png")
    out = tmp_path / "out"
    code = main(["predict", "--model", str(checkpoint), "--images", str(images), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1  # some images skipped
    assert f"skipped {bomb}: image too large for the memory available: {DECLARED}" in captured.err
    assert "Traceback" not in captured.err and "MemoryError" not in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    assert "wrote 2 masks" in captured.out and "1 images skipped" in captured.out


@pytest.mark.usefixtures("one_torch_thread")
def test_predict_counts_what_an_untiled_model_holds(
    tmp_path: Path, budget: Callable[[int | None], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """Untiled, the whole image goes through the model as float32: a real 2000 x 2000 photo that reads and predicts
    in tiles within 160 MiB is refused whole, with its size, rather than left to run out of memory mid-way."""
    checkpoint = _tiny_checkpoint(tmp_path / "model.safetensors")
    images = tmp_path / "images"
    images.mkdir()
    photo = images / "photo.png"
    Image.fromarray(_photo(2000, 2000)).save(photo, compress_level=1)
    budget(160 << 20)
    out = tmp_path / "out"
    assert main(["predict", "--model", str(checkpoint), "--images", str(images), "--out", str(out)]) == 1
    assert f"skipped {photo}: image too large for the memory available: 2000 x 2000 pixels" in capsys.readouterr().err
    assert not (out / "photo.png").exists()
    tiled = ["predict", "--model", str(checkpoint), "--images", str(images), "--out", str(out), "--tile", "512"]
    assert main(tiled) == 0
    assert (out / "photo.png").is_file()


# -- scan ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [[], ["--check"]], ids=["scan", "scan --check"])
def test_scan_notes_a_bomb_mask_and_reads_the_rest(
    tmp_path: Path, budget: Callable[[int | None], None], capsys: pytest.CaptureFixture[str], check: list[str]
) -> None:
    folder, bomb = _dataset_with_a_bomb(tmp_path / "data", bomb_image=False)
    assert main(["scan", str(folder), *check]) == 0
    printed = capsys.readouterr()
    assert f"sample mask skipped: {bomb}: image too large for the memory available: {DECLARED}" in printed.out
    assert "4 images" in printed.out and "Traceback" not in printed.err


# -- the window's load job ----------------------------------------------------------------------------------------


def test_the_window_says_which_image_is_too_large_and_how_large(
    tmp_path: Path, budget: Callable[[int | None], None]
) -> None:
    from segstudio.app.sample_loader import load_sample
    from segstudio.io.datasets import open_dataset
    from segstudio.ui.worker_jobs import failure_from_exception

    folder, bomb = _dataset_with_a_bomb(tmp_path / "data", bomb_image=True)
    dataset = open_dataset(folder)
    sample = next(s for s in dataset.samples if s.image.name == "bomb.png")
    with pytest.raises(ValueError) as raised:
        load_sample(dataset, sample)
    message = failure_from_exception(raised.value, "load", 1).message  # what the window shows
    assert message.startswith(f"{bomb}: image too large for the memory available: {DECLARED}")
    others = [load_sample(dataset, s) for s in dataset.samples if s is not sample]  # the other images still open
    assert all(loaded.session is not None for loaded in others)


def test_a_bomb_prediction_is_left_out_with_a_note_and_the_image_opens(
    tmp_path: Path, budget: Callable[[int | None], None]
) -> None:
    from segstudio.app.sample_loader import load_sample
    from segstudio.io.datasets import open_dataset

    folder, _ = _dataset_with_a_bomb(tmp_path / "data", bomb_image=False)
    (folder / "masks" / "bomb.png").unlink()
    Image.fromarray(_mask(40, 60)).save(folder / "masks" / "bomb.png")
    (folder / "predictions").mkdir()
    for index in range(3):
        Image.fromarray(_mask(40, 60)).save(folder / "predictions" / f"{index}.png")
    bomb = write_png_bomb(folder / "predictions" / "bomb.png", BOMB_SIDE, BOMB_SIDE)
    dataset = open_dataset(folder)
    sample = next(s for s in dataset.samples if s.image.name == "bomb.png")
    if not dataset.predictions(sample):
        pytest.skip("this layout's detection does not pair predictions/ (the note is then never reached)")
    loaded = load_sample(dataset, sample)
    assert any(f"prediction not shown: {bomb}: image too large" in note and DECLARED in note for note in loaded.notes)


def test_the_window_opens_an_image_past_qts_limit(tmp_path: Path, budget: Callable[[int | None], None]) -> None:
    from segstudio.app.sample_loader import load_sample
    from segstudio.io.datasets import open_dataset

    folder = tmp_path / "wide"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    photo = _photo(300, 40000)
    Image.fromarray(photo).save(folder / "images" / "wide.png", compress_level=1)
    Image.fromarray(_mask(300, 40000)).save(folder / "masks" / "wide.png")
    dataset = open_dataset(folder)
    loaded = load_sample(dataset, dataset.samples[0])
    np.testing.assert_array_equal(loaded.session.image, photo)


# -- memory, measured ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status as Linux has them")
def test_bombs_through_every_command_keep_the_process_small(tmp_path: Path) -> None:
    """The real readers and the real memory figures, in a process limited to 10 GiB of address space (the 40000 x
    40000 bomb needs 22.4 GiB by the rule, so it is refused on any machine): the peak stays under 1.5 GiB."""
    gt, pred, gt_bomb = _evaluation_folders(tmp_path / "evaluate", "gt")
    folder, mask_bomb = _dataset_with_a_bomb(tmp_path / "data", bomb_image=False)
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(_photo()).save(images / "a.png")
    image_bomb = write_png_bomb(images / "bomb.png", BOMB_SIDE, BOMB_SIDE)
    checkpoint = _tiny_checkpoint(tmp_path / "model.safetensors")
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import contextlib, io, json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (10 << 30, resource.RLIM_INFINITY))
        from segstudio.cli import main
        runs = {{}}
        for name, argv in {{
            "evaluate": ["evaluate", "--gt", {str(gt)!r}, "--pred", {str(pred)!r}],
            "scan": ["scan", {str(folder)!r}],
            "predict": ["predict", "--model", {str(checkpoint)!r}, "--images", {str(images)!r}, "--out", {str(out)!r}],
        }}.items():
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(argv)
            runs[name] = [code, stdout.getvalue(), stderr.getvalue()]
        # VmHWM: this process's own peak. ru_maxrss is not: Linux carries the parent's peak across the spawn's
        # exec (vfork shares the parent's memory until then), so under a big pytest it reads pytest's size.
        with open("/proc/self/status") as status:
            runs["max_rss_kib"] = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        print(json.dumps(runs))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    code, _, err = runs["evaluate"]
    assert code == 2 and f"{gt_bomb}: image too large for the memory available: {DECLARED}" in err
    code, printed, _ = runs["scan"]
    assert code == 0 and f"sample mask skipped: {mask_bomb}: image too large" in printed
    code, printed, err = runs["predict"]
    assert code == 1 and f"skipped {image_bomb}: image too large for the memory available: {DECLARED}" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
    assert runs["max_rss_kib"] * 1024 < 1.5 * GiB, f"peak {runs['max_rss_kib'] / 1024:.0f} MiB"
