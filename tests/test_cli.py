from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.metrics import DatasetEvaluator
from segstudio.core.labels import LabelSet

CAMVID_STEMS = ("0016E5_07959", "0016E5_07961", "0016E5_07963", "0016E5_07965", "0016E5_07967")


def _perturbed(mask: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    prediction = np.roll(mask, shift=(3, -5), axis=(0, 1)).copy()
    flips = rng.random(mask.shape) < 0.05
    prediction[flips] = rng.integers(0, 11, int(flips.sum()), dtype=np.uint8)
    prediction[prediction == 11] = 3  # the prediction commits to a class everywhere
    return prediction


@pytest.fixture
def camvid_pair(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for seed, stem in enumerate(CAMVID_STEMS):
        source = shared_data / "camvid" / "valannot" / f"{stem}.png"
        shutil.copy(source, gt_dir / source.name)
        Image.fromarray(_perturbed(np.array(Image.open(source)), seed)).save(pred_dir / f"{stem}.png")
    return gt_dir, pred_dir


def test_evaluate_prints_table_and_writes_json_equal_to_the_core(camvid_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir = camvid_pair
    out = tmp_path / "scores.json"
    code = main(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--num-classes", "11", "--ignore-index", "11", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    for column in ("overlap", "combined", "union", "IoU", "Dice"):
        assert column in printed

    data = json.loads(out.read_text())
    evaluator = DatasetEvaluator(11, 11)
    for stem in CAMVID_STEMS:
        evaluator.add(stem, np.array(Image.open(gt_dir / f"{stem}.png")), np.array(Image.open(pred_dir / f"{stem}.png")))
    expected = evaluator.result()
    assert data["confusion_matrix"] == expected.overall.confusion.tolist()
    assert data["mean_iou"] == pytest.approx(expected.mean_iou)
    assert data["mean_dice"] == pytest.approx(expected.mean_dice)
    assert data["pixel_accuracy"] == pytest.approx(expected.pixel_accuracy)
    assert set(data["per_image"]) == set(CAMVID_STEMS)
    road = data["per_class"]["class 3"]
    assert road["union"] == road["combined"] - road["overlap"]
    assert road["iou"] == pytest.approx(road["overlap"] / road["union"])
    assert road["dice"] == pytest.approx(2 * road["overlap"] / road["combined"])


def test_evaluate_with_a_label_file_names_the_classes(camvid_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir = camvid_pair
    labels = tmp_path / "camvid.toml"
    from segstudio.io.labelset_files import write_label_set

    write_label_set(labels, LabelSet.camvid())
    assert main(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--classes", str(labels)]) == 0
    printed = capsys.readouterr().out
    assert "Bicyclist" in printed and "Sky" in printed


def test_evaluate_infers_the_class_count(camvid_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir = camvid_pair
    assert main(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--ignore-index", "11"]) == 0
    captured = capsys.readouterr()
    assert "classes (0.." in captured.err
    assert "class 10" in captured.out


def _fails(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_missing_prediction_names_the_file_and_writes_nothing(camvid_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir = camvid_pair
    (pred_dir / f"{CAMVID_STEMS[2]}.png").unlink()
    out = tmp_path / "scores.json"
    out.write_text('{"kept": true}\n')
    err = _fails(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--num-classes", "11", "--ignore-index", "11", "--json", str(out)], capsys)
    assert f"{CAMVID_STEMS[2]}.png" in err and "no prediction" in err
    assert out.read_text() == '{"kept": true}\n'


def test_mis_sized_prediction_names_the_file(camvid_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir = camvid_pair
    Image.fromarray(np.zeros((100, 120), np.uint8)).save(pred_dir / f"{CAMVID_STEMS[1]}.png")
    err = _fails(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--num-classes", "11", "--ignore-index", "11"], capsys)
    assert str(pred_dir / f"{CAMVID_STEMS[1]}.png") in err and "120x100" in err and "480x360" in err


def test_values_outside_the_label_set_name_the_file(camvid_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, pred_dir = camvid_pair
    path = pred_dir / f"{CAMVID_STEMS[0]}.png"
    values = np.array(Image.open(path))
    values[:10, :10] = 200
    Image.fromarray(values).save(path)
    err = _fails(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--num-classes", "11", "--ignore-index", "11"], capsys)
    assert str(path) in err and "200" in err


@pytest.mark.parametrize("damage", ["empty", "truncated", "text"])
def test_corrupt_prediction_names_the_file(camvid_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str], damage: str) -> None:
    gt_dir, pred_dir = camvid_pair
    path = pred_dir / f"{CAMVID_STEMS[3]}.png"
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "text": b"this is not an image\n"}[damage])
    err = _fails(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--num-classes", "11", "--ignore-index", "11"], capsys)
    assert str(path) in err


def test_missing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["evaluate", "--gt", str(tmp_path / "nope"), "--pred", str(tmp_path)], capsys)
    assert "nope" in err and "does not exist" in err


def test_scan_describes_a_real_dataset(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(shared_data / "isbi2012"), "--check"]) == 0
    printed = capsys.readouterr().out
    assert "train: 24 images, 24 with ground truth" in printed
    assert "test: 30 images, 0 with ground truth, 30 with predictions" in printed
    assert "0 = foreground (the minority)" in printed
    assert "256x256" in printed


def test_demo_generates_and_scores_its_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--folder", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    assert "12 images, 12 with ground truth, 12 with predictions" in printed
    for name in ("disc", "bar", "ring"):
        assert name in printed
    assert (tmp_path / "demo" / "segstudio.toml").is_file()
