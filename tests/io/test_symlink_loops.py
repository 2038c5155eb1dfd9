"""Symbolic link loops in a dataset folder: skipped and listed, never a traceback, never the whole folder lost.

Each test builds its folder under tmp_path with real links: ``a -> a`` (a link to itself), ``a -> b -> a`` (two
links to each other) and ``back -> ..`` (a folder link leading to a folder above it).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.io.datasets import ProblemKind, open_dataset
from segstudio.io.folder_listing import SYMLINK_LOOP, SkippedEntry, folders_with_images, image_files, skipped_entries

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix", reason="needs POSIX symbolic links")


def _dataset(root: Path, count: int = 3) -> Path:
    """images/ + masks/ (two classes), ``count`` pairs of 32x48 PNGs."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(root / "images" / f"{index}.png")
        mask = np.zeros((32, 48), np.uint8)
        mask[4 : 12 + index, 6:30] = 1
        Image.fromarray(mask).save(root / "masks" / f"{index}.png")
    return root


def _loops(root: Path) -> dict[str, Path]:
    """Every kind of loop, at the top and among the images and masks; returns them by what they are."""
    links = {
        "top self": root / "itself",
        "top pair a": root / "loop_a",
        "top pair b": root / "loop_b",
        "image named link": root / "images" / "loop.png",
        "mask named link": root / "masks" / "loop.png",
        "folder above": root / "images" / "back",
    }
    os.symlink("itself", links["top self"])
    os.symlink("loop_b", links["top pair a"])
    os.symlink("loop_a", links["top pair b"])
    os.symlink("loop.png", links["image named link"])
    os.symlink("loop.png", links["mask named link"])
    os.symlink("..", links["folder above"])
    return links


def test_an_image_name_that_loops_is_skipped_and_recorded(tmp_path: Path) -> None:
    folder = _dataset(tmp_path / "data") / "images"
    os.symlink("7.png", folder / "7.png")
    skipped: list[SkippedEntry] = []
    assert list(image_files(folder, skipped)) == ["0.png", "1.png", "2.png"]
    assert skipped == [SkippedEntry(folder / "7.png", SYMLINK_LOOP)]
    assert skipped_entries(folder) == skipped
    assert "symbolic link loop" in str(skipped[0]) and str(folder / "7.png") in str(skipped[0])


def test_loops_anywhere_leave_every_real_folder_listed_once(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    links = _loops(root)
    skipped: list[SkippedEntry] = []
    found = {folder.relative_to(root).as_posix(): sorted(files) for folder, files in folders_with_images(root, skipped=skipped)}
    # Before: a loop at the top made the whole listing of the top folder fail (no image folder at all), and
    # images/back -> .. listed the same images again at every depth.
    assert found == {"images": ["0.png", "1.png", "2.png"], "masks": ["0.png", "1.png", "2.png"]}
    assert {entry.path for entry in skipped} == set(links.values())
    assert all(entry.reason == SYMLINK_LOOP for entry in skipped)


def test_a_dataset_with_loops_opens_and_lists_them(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    links = _loops(root)
    dataset = open_dataset(root)
    assert [sample.key for sample in dataset.samples] == ["images/0", "images/1", "images/2"]
    assert all(dataset.ground_truth(sample) is not None for sample in dataset.samples)
    listed = {problem.path: problem for problem in dataset.problems if problem.kind is ProblemKind.SKIPPED_ENTRY}
    assert set(listed) == {links["image named link"], links["mask named link"]}
    assert all("symbolic link loop" in problem.reason for problem in listed.values())
    # The detection notes (kept in the project file) name every loop it stepped over.
    notes = "\n".join(dataset.spec.notes)
    for link in links.values():
        assert f"{link.relative_to(root).as_posix()}: {SYMLINK_LOOP}" in notes
    # Opened again from its project file: the same, no traceback.
    again = open_dataset(root)
    assert again.samples == dataset.samples and not again.detected_now


def test_a_folder_holding_only_loops_says_so(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    os.symlink("a.png", root / "a.png")
    assert main(["scan", str(root)]) == 2  # a usage error naming the folder, not a crash


def test_scan_lists_the_loops_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _dataset(tmp_path / "data")
    links = _loops(root)
    assert main(["scan", str(root), "--check"]) == 0
    out = capsys.readouterr().out
    assert "3 images, 3 with ground truth" in out
    assert "skipped entry (2):" in out
    assert f"{links['mask named link']}: {SYMLINK_LOOP}" in out


def test_evaluate_skips_loops_in_both_folders_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _dataset(tmp_path / "data")
    links = _loops(root)
    code = main(["evaluate", "--gt", str(root / "masks"), "--pred", str(root / "masks"), "--num-classes", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 images" in captured.out and "mean IoU 1.0000" in captured.out
    assert f"note: {links['mask named link']}: {SYMLINK_LOOP}" in captured.err
    assert "Traceback" not in captured.err and "unexpected error" not in captured.err


def test_predict_skips_a_looping_image_name_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from segstudio.core.labels import LabelSet
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    labels = LabelSet.with_count(2)
    config = ModelConfig("unet", labels.num_classes, 3, "classic", {"base_channels": 4})
    checkpoint = tmp_path / "tiny.safetensors"
    save_checkpoint(checkpoint, build_model(config), CheckpointMeta(config, labels))
    root = _dataset(tmp_path / "data", count=2)
    links = _loops(root)
    out = tmp_path / "predicted"
    code = main(["predict", "--model", str(checkpoint), "--images", str(root / "images"), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png"]
    assert f"note: {links['image named link']}: {SYMLINK_LOOP}" in captured.err


def test_the_window_opens_a_folder_with_loops(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The window opened nothing when the top folder held a loop: detection lost the whole listing."""
    pytest.importorskip("PySide6")
    from segstudio.ui.main_window import MainWindow

    root = _dataset(tmp_path / "data")
    _loops(root)
    window = MainWindow(interactive=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(root)
    assert window.dataset is not None and len(window.dataset.samples) == 3
    window.pool.shutdown(5000)


def test_loops_in_the_corrections_and_predictions_folders_hide_nothing(tmp_path: Path) -> None:
    """A ``..`` link in the corrections folder is walked once (it used to recurse until the system stopped it), and
    a link loop beside the model folders of segstudio-predictions/ leaves every model's predictions found."""
    from segstudio.app.project_predictions import PREDICTIONS_FOLDER, app_predictions

    root = _dataset(tmp_path / "data")
    dataset = open_dataset(root)
    sample = dataset.samples[0]
    correction = dataset.correction_path(sample)
    correction.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((32, 48), np.uint8)).save(correction)
    os.symlink("..", correction.parent / "up")  # corrections/images/up -> corrections/
    assert dataset.corrected_keys() == {sample.key}

    predictions = dataset.project_file.parent / PREDICTIONS_FOLDER
    model = predictions / "model" / "images"
    model.mkdir(parents=True)
    Image.fromarray(np.zeros((32, 48), np.uint8)).save(model / "0.png")
    os.symlink("loop", predictions / "loop")  # a link to itself, next to the model's folder
    assert app_predictions(dataset) == {sample.key: model / "0.png"}
