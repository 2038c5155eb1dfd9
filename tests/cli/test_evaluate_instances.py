"""``segstudio evaluate --instances``: COCO mask AP of folders of instance masks, equal to pycocotools' COCOeval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.instances import InstanceMask
from segstudio.io.mask_files import write_instance_mask
from tests.core.test_instance_ap import coco_stats, perturb

IMAGES = 8


@pytest.fixture
def folders(shared_data: Path, tmp_path: Path) -> tuple[Path, Path, list[tuple[InstanceMask, InstanceMask]]]:
    """Penn-Fudan ground truth (copied as written, no tag) and perturbed predictions written with their scores."""
    source = shared_data / "pennfudan" / "PedMasks"
    if not source.is_dir():
        pytest.skip(f"Penn-Fudan not found under {source}")
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    rng = np.random.default_rng(11)
    pairs = []
    for path in sorted(source.glob("*_mask.png"))[:IMAGES]:
        truth = np.asarray(Image.open(path))
        Image.fromarray(truth).save(gt_dir / path.name)
        prediction = perturb(truth, rng)
        write_instance_mask(pred_dir / path.name, prediction)
        pairs.append((InstanceMask.from_ids(truth), prediction))
    return gt_dir, pred_dir, pairs


def test_instances_print_and_write_cocoeval_ap(folders, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir, pairs = folders
    out = tmp_path / "out.json"
    assert main(["evaluate", "--instances", "--gt", str(gt_dir), "--pred", str(pred_dir), "--json", str(out)]) == 0
    stats, _ = coco_stats(pairs)
    data = json.loads(out.read_text())
    assert data["ap"] == pytest.approx(stats[0], abs=1e-12)
    assert data["ap50"] == pytest.approx(stats[1], abs=1e-12)
    assert data["ap75"] == pytest.approx(stats[2], abs=1e-12)
    assert data["images"] == IMAGES and len(data["per_image"]) == IMAGES
    assert data["truth_objects"] == sum(p[0].num_instances for p in pairs)
    assert data["predicted_objects"] == sum(p[1].num_instances for p in pairs)
    assert [c["class_id"] for c in data["classes"]] == [1]
    first = data["per_image"][sorted(data["per_image"])[0]]
    assert set(first) == {"matches", "unmatched_predictions", "missed_truths"}
    printed = capsys.readouterr().out
    overall = next(line for line in printed.splitlines() if line.startswith("overall"))
    assert overall.split()[1:4] == [f"{stats[1]:.4f}", f"{stats[2]:.4f}", f"{stats[0]:.4f}"]
    assert "class 1" in printed


def test_unscored_predictions_are_noted(folders, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, _, _ = folders
    assert main(["evaluate", "--instances", "--gt", str(gt_dir), "--pred", str(gt_dir)]) == 0
    captured = capsys.readouterr()
    assert "carry no scores" in captured.err and "ranks nothing" in captured.err
    overall = next(line for line in captured.out.splitlines() if line.startswith("overall"))
    assert overall.split()[1:4] == ["1.0000", "1.0000", "1.0000"]


def test_broken_prediction_exits_2_naming_it(folders, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir, _ = folders
    broken = sorted(pred_dir.iterdir())[2]
    broken.write_bytes(b"not a png")
    assert main(["evaluate", "--instances", "--gt", str(gt_dir), "--pred", str(pred_dir)]) == 2
    assert broken.name in capsys.readouterr().err


def test_mis_sized_prediction_exits_2_naming_it(folders, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir, _ = folders
    small = sorted(pred_dir.iterdir())[0]
    write_instance_mask(small, InstanceMask(np.zeros((5, 5), np.uint8), {}))
    assert main(["evaluate", "--instances", "--gt", str(gt_dir), "--pred", str(pred_dir)]) == 2
    err = capsys.readouterr().err
    assert small.name in err and "5x5" in err


def test_classes_file_names_the_instance_classes(folders, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir, pairs = folders
    labels = tmp_path / "labels.txt"
    labels.write_text("background\npedestrian\n")
    out = tmp_path / "named.json"
    args = ["evaluate", "--instances", "--gt", str(gt_dir), "--pred", str(pred_dir), "--classes", str(labels)]
    assert main([*args, "--json", str(out)]) == 0
    captured = capsys.readouterr()
    rows = [line.split() for line in captured.out.splitlines()]
    assert any(row[0] == "pedestrian" for row in rows if row) and "class 1" not in captured.out
    data = json.loads(out.read_text())
    assert [(c["class_id"], c["name"]) for c in data["classes"]] == [(1, "pedestrian")]
    # Naming changes no figure: the AP is still COCOeval's.
    stats, _ = coco_stats(pairs)
    assert data["ap"] == pytest.approx(stats[0], abs=1e-12) and data["notes"] == []


def test_classes_file_without_an_instance_class_keeps_its_id(
    folders, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt_dir, pred_dir, _ = folders
    labels = tmp_path / "only-background.txt"
    labels.write_text("background\n")
    args = ["evaluate", "--instances", "--gt", str(gt_dir), "--pred", str(pred_dir), "--classes", str(labels)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "class 1" in captured.out
    assert "class id(s) 1 are not in --classes" in captured.err and labels.name in captured.err


def test_unreadable_classes_file_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.yaml"
    labels.write_text("background: 0\n")
    args = ["evaluate", "--instances", "--gt", str(tmp_path), "--pred", str(tmp_path), "--classes", str(labels)]
    assert main(args) == 2
    assert labels.name in capsys.readouterr().err


def test_semantic_options_are_refused_with_instances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--instances", "--gt", str(tmp_path), "--pred", str(tmp_path), "--num-classes", "3"]) == 2
    assert "--num-classes" in capsys.readouterr().err
    for option, value in (("--ignore-index", "255"), ("--value-map", "0:0,255:1"), ("--pred-value-map", "0:0,1:1")):
        assert main(["evaluate", "--instances", "--gt", str(tmp_path), "--pred", str(tmp_path), option, value]) == 2
        err = capsys.readouterr().err
        assert option in err and "--instances" in err
