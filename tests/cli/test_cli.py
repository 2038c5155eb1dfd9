from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import DatasetEvaluator, DatasetScores
from segstudio.io.datasets import open_dataset
from segstudio.io.mask_files import write_class_mask
from segstudio.io.project_file import PROJECT_FILE_NAME, find_project_file
from segstudio.app.project_predictions import PREDICTIONS_FOLDER
from segstudio.app.scoring import dataset_scores, score_image

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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_evaluate_shows_progress_on_a_terminal_only_and_clears_it(
    camvid_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dir, pred_dir = camvid_pair
    args = ["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--num-classes", "11", "--ignore-index", "11"]
    assert main(args) == 0
    notes = capsys.readouterr().err  # captured, so not a terminal: the notes, and no bar in logs or pipes
    assert "predictions: read as class ids" in notes and "scoring" not in notes and "\r" not in notes

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(args) == 0
    shown = terminal.getvalue()
    assert f"scoring:   0%|          | 0/{len(CAMVID_STEMS)}" in shown
    assert shown.endswith("\r") and shown.rstrip("\r").rsplit("\r", 1)[-1].strip() == ""  # the bar is wiped


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
    assert "from the values of its 5 masks): 11 classes (0 background" in captured.err
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
    assert main(["demo", "--folder", str(tmp_path / "demo"), "--synthetic"]) == 0
    printed = capsys.readouterr().out
    assert "12 images, 12 with ground truth, 12 with predictions" in printed
    for name in ("disc", "bar", "ring"):
        assert name in printed
    assert (tmp_path / "demo" / "segstudio.toml").is_file()
    # The synthetic masks are named as what they are, not passed off as a model's.
    assert "scored: the demo's synthetic predictions/ (made by code, not a model) against the ground truth" in printed
    assert "dataset (the demo's synthetic predictions/ (made by code, not a model) vs truth, 12 of 12 images)" in printed


# -- evaluate reads masks the way the app does ---------------------------------------------------------------

ISBI_LABELS = LabelSet.from_names(["background", "foreground"])


def _flipped(classes: np.ndarray, seed: int, share: float = 0.08) -> np.ndarray:
    """A prediction: the truth with some pixels' class flipped."""
    rng = np.random.default_rng(seed)
    prediction = classes.copy()
    flips = rng.random(classes.shape) < share
    prediction[flips] = 1 - prediction[flips]
    return prediction


def _isbi_predictions(isbi: Path, folder: Path, *, stored_like_truth: bool = False) -> dict[str, np.ndarray]:
    """Perturbed ISBI ground truth as class ids (membrane = 1), written as the app writes masks, or stored the
    way ISBI stores its truth (0 = membrane, 255 = cell)."""
    folder.mkdir()
    predictions = {}
    for seed, path in enumerate(sorted((isbi / "train" / "masks").glob("*.png"))):
        classes = _flipped((np.array(Image.open(path)) == 0).astype(np.uint8), seed)
        predictions[path.stem] = classes
        if stored_like_truth:
            Image.fromarray(np.where(classes == 1, 0, 255).astype(np.uint8)).save(folder / path.name)
        else:
            write_class_mask(folder / path.name, classes, ISBI_LABELS)
    return predictions


def _app_scores(isbi: Path, predictions: dict[str, np.ndarray]) -> DatasetScores:
    """The window's dataset metrics for the ISBI training images: the dataset opened as the app opens it."""
    dataset = open_dataset(isbi)
    train = [s for s in dataset.samples if s.split == "train"]
    assert len(train) == len(predictions) == 24
    known = {s.key: score_image(dataset, s, predictions[s.name]) for s in train}
    scores = dataset_scores(dataset, known).scores
    assert scores is not None
    return scores


def _assert_same_figures(data: dict, app: DatasetScores) -> None:
    assert data["confusion_matrix"] == app.overall.confusion.tolist()
    assert data["mean_iou"] == pytest.approx(app.mean_iou)
    assert data["mean_dice"] == pytest.approx(app.mean_dice)
    assert data["pixel_accuracy"] == pytest.approx(app.pixel_accuracy)
    per_image = {key.rpartition("/")[2]: scores.mean_iou for key, scores in app.per_image.items()}
    assert {stem: figures["mean_iou"] for stem, figures in data["per_image"].items()} == pytest.approx(per_image)


@pytest.fixture
def read_only_isbi(shared_data: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of ISBI 2012 marked read-only, as ../shared/data usually is. The shared folder itself may be
    a writable copy (the README allows one), where this or another run has left a project file beside the data:
    whether a project file exists must be up to the test, not to what ran before."""
    root = tmp_path / "isbi2012"
    shutil.copytree(shared_data / "isbi2012", root, ignore=shutil.ignore_patterns(PROJECT_FILE_NAME, "segstudio-*"))
    root.chmod(0o555)
    yield root
    root.chmod(0o755)


@pytest.mark.parametrize("opened_first", [True, False], ids=["project-file", "no-project-file"])
def test_evaluate_isbi_with_no_flags_scores_membrane_as_the_foreground(
    read_only_isbi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], opened_first: bool
) -> None:
    isbi = read_only_isbi
    if opened_first:
        open_dataset(isbi)  # the project file goes to the user data folder (read-only data)
    assert (find_project_file(isbi) is not None) is opened_first
    predictions = _isbi_predictions(isbi, tmp_path / "pred")
    out = tmp_path / "scores.json"
    gt_dir = isbi / "train" / "masks"
    assert main(["evaluate", "--gt", str(gt_dir), "--pred", str(tmp_path / "pred"), "--json", str(out)]) == 0
    captured = capsys.readouterr()

    data = json.loads(out.read_text())
    assert list(data["per_class"]) == ["background", "foreground"]
    assert "class 2" not in captured.out and "class 255" not in captured.out
    membrane = sum(int((np.array(Image.open(p)) == 0).sum()) for p in gt_dir.glob("*.png"))
    assert data["per_class"]["foreground"]["true"] == membrane, "ISBI's membrane (stored 0) is class 1"
    assert ("from mask source 'train:masks' of the project file" in captured.err) is opened_first
    assert "0 = foreground" in captured.err or "project file" in captured.err
    _assert_same_figures(data, _app_scores(isbi, predictions))


def test_evaluate_reads_predictions_stored_like_the_truth_with_its_value_map(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = _isbi_predictions(shared_data / "isbi2012", tmp_path / "pred", stored_like_truth=True)
    out = tmp_path / "scores.json"
    gt_dir = shared_data / "isbi2012" / "train" / "masks"
    assert main(["evaluate", "--gt", str(gt_dir), "--pred", str(tmp_path / "pred"), "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "ground truth's value map" in err
    _assert_same_figures(json.loads(out.read_text()), _app_scores(shared_data / "isbi2012", predictions))


def test_evaluate_value_map_option_overrides_the_detected_one(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _isbi_predictions(shared_data / "isbi2012", tmp_path / "pred")
    gt_dir = shared_data / "isbi2012" / "train" / "masks"
    out = tmp_path / "scores.json"
    args = ["evaluate", "--gt", str(gt_dir), "--pred", str(tmp_path / "pred"), "--json", str(out)]
    assert main([*args, "--num-classes", "2", "--value-map", "0:1,255:0"]) == 0
    assert "--value-map" in capsys.readouterr().err
    as_given = json.loads(out.read_text())
    assert main([*args, "--value-map", "0:0,255:1"]) == 0  # the other reading: membrane as background
    swapped = json.loads(out.read_text())
    assert as_given["per_class"]["class 1"]["true"] == swapped["per_class"]["background"]["true"]
    err = _fails([*args, "--value-map", "0=1"], capsys)
    assert "--value-map" in err and "0=1" in err


def _binary_pair(root: Path, prediction_value: int) -> tuple[Path, Path]:
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for index in range(3):
        truth = np.full((20, 20), 255, np.uint8)
        truth[4 : 8 + index, 3:9] = 0
        Image.fromarray(truth).save(gt_dir / f"m{index}.png")
        Image.fromarray(np.full((20, 20), prediction_value, np.uint8)).save(pred_dir / f"m{index}.png")
    return gt_dir, pred_dir


def test_evaluate_says_how_it_read_ambiguous_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """All-zero predictions fit both the class ids and the truth's 0/255 convention: the note says which."""
    gt_dir, pred_dir = _binary_pair(tmp_path, 0)
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "ambiguous" in err and "class ids" in err
    data = json.loads(out.read_text())
    assert data["per_class"]["foreground"]["predicted"] == 0


@pytest.mark.parametrize("damage", ["stray", "noise"])
def test_evaluate_names_a_mask_whose_values_are_not_classes(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for index in range(6):
        mask = (np.arange(36)[:, None] * 6 // 36).repeat(36, axis=1).astype(np.uint8)  # values 0..5
        Image.fromarray(mask).save(pred_dir / f"m{index}.png")
        if index == 4 and damage == "stray":
            mask[0, 0] = 200
        if index == 4 and damage == "noise":
            mask = np.random.default_rng(0).integers(0, 65536, mask.shape, dtype=np.uint16)
        Image.fromarray(mask).save(gt_dir / f"m{index}.png")
    code = main(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir)])
    captured = capsys.readouterr()
    assert "class 6" not in captured.out and "class 200" not in captured.out
    flagged = [line for line in captured.err.splitlines() if "m4.png" in line]
    assert flagged, captured.err
    if damage == "stray":
        assert any("200 (1 px)" in line for line in flagged)
    else:
        assert any("distinct values" in line and "not a class mask" in line for line in flagged)
    assert code == 2  # the file cannot be scored as it is: the error names it


def test_evaluate_reads_masks_segstudio_wrote_as_class_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_dir, plain = _binary_pair(tmp_path, 0)
    written = tmp_path / PREDICTIONS_FOLDER / "unet"
    shutil.copytree(plain, written)
    assert main(["evaluate", "--gt", str(gt_dir), "--pred", str(written)]) == 0
    err = capsys.readouterr().err
    assert "written by segstudio" in err and "ambiguous" not in err


def test_evaluate_reads_a_project_prediction_folder_with_its_value_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Predictions whose project file gives them a value map are read by that map, not guessed from values."""
    from dataclasses import replace

    from segstudio.core.value_map import ValueMap
    from segstudio.io.project_file import write_project_file

    root = tmp_path / "data"
    root.mkdir()
    _binary_pair(root, 255)
    (root / "gt").rename(root / "masks")
    (root / "pred").rename(root / "predictions")
    for name in ("m0", "m1", "m2"):
        image_path = root / "images" / f"{name}.png"
        image_path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(image_path)
    dataset = open_dataset(root)
    swapped = ValueMap.binary(foreground=255, background=0)  # unlike the truth's {0: 1, 255: 0}
    sources = tuple(replace(s, value_map=swapped) if s.folder == "predictions" else s for s in dataset.spec.mask_sources)
    assert any(s.role.value == "prediction" and s.value_map == swapped for s in sources)
    write_project_file(dataset.project_file, root, replace(dataset.spec, mask_sources=sources))

    out = tmp_path / "scores.json"
    assert main(["evaluate", "--gt", str(root / "masks"), "--pred", str(root / "predictions"), "--json", str(out)]) == 0
    assert "of the project file" in capsys.readouterr().err
    assert json.loads(out.read_text())["per_class"]["foreground"]["predicted"] == 3 * 20 * 20


def test_evaluate_reads_instance_masks_of_a_project_by_their_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Penn-Fudan-like masks (one id per person) whose project says "instance": scored by their ids, as before."""
    root = tmp_path / "peds"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for index in range(3):
        Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(root / "PNGImages" / f"p{index}.png")
        ids = np.zeros((30, 40), np.uint8)
        for person in range(index + 1):
            ids[5:25, 3 + 12 * person : 10 + 12 * person] = person + 1
        Image.fromarray(ids).save(root / "PedMasks" / f"p{index}_mask.png")
    assert open_dataset(root).spec.mask_sources[0].kind.value == "instance"
    assert main(["evaluate", "--gt", str(root / "PedMasks"), "--pred", str(root / "PedMasks"), "--worst", "0"]) == 0
    captured = capsys.readouterr()
    assert "instance masks" in captured.err and "class 3" in captured.out


def test_an_unexpected_error_is_logged_where_the_user_can_find_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_user_data: Path
) -> None:
    from segstudio import cli

    def broken(_args):  # noqa: ANN001, ANN202
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "_run_scan", broken)
    assert cli.main(["scan", "anything"]) == cli.EXIT_CRASH
    message = capsys.readouterr().err
    assert "unexpected error (ZeroDivisionError: a bug)" in message
    (log,) = (isolated_user_data / "logs").glob("crash-*.log")
    assert str(log) in message
    text = log.read_text()
    assert "Traceback" in text and "ZeroDivisionError: a bug" in text and "segstudio 0." in text


@pytest.mark.parametrize("text", ["1600", "1600x", "axb", "10x10", "1600x1000x3", "-1600x1000"])
def test_a_window_size_that_is_not_one_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["open", ".", "--window-size", text])
    assert exit_.value.code == 2
    assert "--window-size" in capsys.readouterr().err


def test_window_size_reads_width_by_height() -> None:
    from segstudio.cli.desktop import window_size

    assert window_size("1600x1000") == (1600, 1000) and window_size("800X600") == (800, 600)
