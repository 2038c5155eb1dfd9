"""``segstudio evaluate --report``: the dataset view's figures written as PNG or SVG from the numbers the JSON holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import LabelSet
from segstudio.io.labelset_files import write_label_set

STEMS = ("0016E5_07959", "0016E5_07961", "0016E5_07963", "0016E5_07965", "0016E5_07967", "0016E5_07969")
SVG = "{http://www.w3.org/2000/svg}"


def _made_up(truth: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    prediction = truth.copy()
    prediction[(truth == 8) & (rng.random(truth.shape) < 0.3 * seed / len(STEMS))] = 9  # some cars called pedestrians
    prediction[truth == 11] = 3  # a model commits to a class everywhere
    flips = rng.random(truth.shape) < 0.03
    prediction[flips] = rng.integers(0, 11, int(flips.sum()))
    return prediction


@pytest.fixture
def camvid(shared_data: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Six CamVid val masks, made-up predictions and the CamVid label file."""
    source = shared_data / "camvid" / "valannot"
    if not source.is_dir():
        pytest.skip(f"CamVid not found under {source}")
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for seed, stem in enumerate(STEMS):
        shutil.copy(source / f"{stem}.png", gt_dir / f"{stem}.png")
        Image.fromarray(_made_up(np.array(Image.open(source / f"{stem}.png")), seed)).save(pred_dir / f"{stem}.png")
    labels = tmp_path / "camvid.toml"
    write_label_set(labels, LabelSet.camvid())
    return gt_dir, pred_dir, labels


def _evaluate(camvid: tuple[Path, Path, Path], *extra: str) -> int:
    gt_dir, pred_dir, labels = camvid
    return main(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--classes", str(labels), *extra])


def test_the_report_is_drawn_from_the_json_s_numbers(camvid, tmp_path: Path, qapp, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001, ARG001
    import segstudio.ui.report_files as figures
    from segstudio.ui.figure_data import HISTOGRAM_BINS, compact_count, score_text, share_text
    from segstudio.ui.report_files import report_size

    drawn = []
    original = figures.render_report
    monkeypatch.setattr(figures, "render_report", lambda data, path, title: (drawn.append(data), original(data, path, title)))
    report, scores = tmp_path / "out.png", tmp_path / "out.json"
    assert _evaluate(camvid, "--json", str(scores), "--report", str(report)) == 0
    data = json.loads(scores.read_text())
    (figure,) = drawn

    names = LabelSet.camvid().names
    assert figure.class_names == tuple(data["class_names"]) == names
    assert [list(row) for row in figure.confusion] == data["confusion_matrix"]
    assert figure.iou == tuple(data["per_class"][n]["iou"] for n in names)
    assert figure.dice == tuple(data["per_class"][n]["dice"] for n in names)
    assert (figure.mean_iou, figure.mean_dice, figure.pixel_accuracy) == (data["mean_iou"], data["mean_dice"], data["pixel_accuracy"])
    assert figure.image_keys == tuple(data["per_image"]) == STEMS
    assert figure.image_iou == tuple(data["per_image"][k]["mean_iou"] for k in STEMS)
    assert figure.images_mean_iou == data["mean_of_images"]["mean_iou"]
    expected, _ = np.histogram([data["per_image"][k]["mean_iou"] for k in STEMS], bins=HISTOGRAM_BINS, range=(0, 1))
    assert figure.histogram_counts == tuple(expected.tolist())
    assert figure.ignore_index == data["ignore_index"] == 11

    from PySide6.QtGui import QImage

    image = QImage(str(report))
    size = report_size(len(names))
    assert (image.width(), image.height()) == (size.width(), size.height())

    # The same numbers as text in the SVG: every cell's count and row share, every class's IoU and Dice.
    svg = tmp_path / "out.svg"
    assert _evaluate(camvid, "--report", str(svg)) == 0
    texts = [(t.text or "").strip() for t in ET.parse(svg).getroot().iter(f"{SVG}text")]
    matrix = np.array(data["confusion_matrix"])
    shares = matrix / matrix.sum(axis=1, keepdims=True)
    for value in matrix[matrix > 0].tolist():
        assert compact_count(value) in texts
    for value in shares[shares > 0].tolist():
        assert share_text(value) in texts
    for name in names:
        assert score_text(data["per_class"][name]["iou"]) in texts and score_text(data["per_class"][name]["dice"]) in texts
    assert any(f"mean IoU {data['mean_iou']:.4f}, mean Dice {data['mean_dice']:.4f}" in t for t in texts)


def test_an_svg_report_is_xml_naming_the_classes_and_what_was_scored(camvid, tmp_path: Path, qapp, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001, ARG001
    gt_dir, pred_dir, _ = camvid
    report = tmp_path / "figures.SVG"
    assert _evaluate(camvid, "--report", str(report)) == 0
    assert f"wrote {report}" in capsys.readouterr().out
    root = ET.parse(report).getroot()
    assert root.tag == f"{SVG}svg"
    texts = [(t.text or "").strip() for t in root.iter(f"{SVG}text")]
    for name in LabelSet.camvid().names:
        assert texts.count(name) >= 5  # rows and columns of both heat maps, and the bars
    title = f"predictions {pred_dir} vs ground truth {gt_dir}"
    assert root.find(f"{SVG}title").text == title
    assert texts[:2] == [title, "6 images, 11 classes (Unlabelled = 11 not scored)"]


@pytest.mark.parametrize("name", ["report.pdf", "report", "report.png.txt"])
def test_a_report_name_without_png_or_svg_is_a_usage_error_before_scoring(camvid, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    path = tmp_path / name
    assert _evaluate(camvid, "--report", str(path)) == 2
    captured = capsys.readouterr()
    assert f"segstudio evaluate: error: --report {path}: the name must end in .png or .svg" in captured.err
    assert captured.out == "" and not path.exists()  # refused before anything was scored or printed


def test_a_report_that_cannot_be_written_is_a_usage_error_naming_it(camvid, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    missing = tmp_path / "no-such-folder" / "r.png"
    assert _evaluate(camvid, "--report", str(missing)) == 2
    assert f"{missing}: cannot write the report: folder {missing.parent} does not exist" in capsys.readouterr().err
    folder = tmp_path / "taken.png"
    folder.mkdir()
    assert _evaluate(camvid, "--report", str(folder)) == 2
    assert f"{folder}: cannot write the report: a folder of that name exists" in capsys.readouterr().err
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert _evaluate(camvid, "--report", str(locked / "r.svg")) == 2
        assert f"{locked / 'r.svg'}: cannot write the report: folder {locked} is not writable" in capsys.readouterr().err


def test_evaluate_loads_qt_only_for_a_report(camvid, tmp_path: Path) -> None:  # noqa: ANN001
    gt_dir, pred_dir, labels = camvid
    code = (
        "import sys\nfrom segstudio.cli import main\n"
        f"args = ['evaluate', '--gt', {str(gt_dir)!r}, '--pred', {str(pred_dir)!r}, '--classes', {str(labels)!r}]\n"
        "assert main(args) == 0 and 'PySide6' not in sys.modules, 'Qt loaded without --report'\n"
        f"assert main(args + ['--report', {str(tmp_path / 'r.png')!r}]) == 0 and 'PySide6' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # the CLI sets offscreen itself
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
