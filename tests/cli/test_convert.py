"""``segstudio convert``: the same conversions and self-check as the window's export, with a summary that never
says success on a mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segstudio.cli import main
from segstudio.cli.convert import FORMAT_NAMES
from segstudio.io.exchange import ExchangeFormat, import_annotations
from segstudio.io.labelset_files import read_label_set

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture
def example(shared_data: Path) -> Path:
    folder = shared_data / "voc_coco_labelme_example"
    if not folder.is_dir():
        pytest.skip(f"real data not found at {folder}")
    return folder


def test_the_cli_lists_every_format() -> None:
    assert FORMAT_NAMES == tuple(f.value for f in ExchangeFormat)


def test_labelme_to_coco_is_exact_and_says_so(example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "coco"
    assert main(["convert", "--from", "labelme", "--to", "coco", str(example / "labelme_json"), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "read back bit-exact" in printed and "NOT EXACT" not in printed
    data = json.loads((out / "annotations.json").read_text())
    assert len(data["images"]) == 3 and (out / "JPEGImages" / "2011_000003.jpg").is_file()
    labels = read_label_set(example / "labels.txt")
    original = import_annotations("labelme", example / "labelme_json", labels=labels)
    converted = import_annotations("coco", out, labels=labels)
    for image in original.images:
        assert np.array_equal(converted.image(image.name).classes, image.classes)


def test_a_lossy_target_prints_not_exact_with_the_differences(example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["convert", "--from", "auto", "--to", "yolo", "--labels", str(example / "labels.txt"), str(example / "voc"), str(tmp_path / "y")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "reading" in captured.err and "PASCAL VOC" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].startswith("YOLO segmentation: NOT EXACT: 2 of 3 image(s)") and "17575 px in all" in lines[0]
    assert "bit-exact" not in captured.out
    assert any(line.strip().startswith("2011_000006: 8071 px differ (background 266, person 1, sofa 6895, ignore 909)")
               for line in lines)  # fmt: skip
    assert "266 px in holes YOLO segmentation cannot store" in captured.out
    assert main([*args[:-1], str(tmp_path / "z"), "--require-exact"]) == 1


def test_bad_input_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "labelme"
    source.mkdir()
    (source / "a.json").write_text('{"shapes": [')
    assert main(["convert", "--from", "labelme", "--to", "png", str(source), str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"segstudio convert: error: {source / 'a.json'}: not valid JSON: Expecting value at line 1, column 13"
    )


def test_convert_refuses_to_overwrite_unless_asked(example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["convert", "--from", "coco", "--to", "png", "--labels", str(example / "labels.txt"), str(example / "coco"), str(tmp_path)]
    assert main(args) == 0
    assert main(args) == 2
    assert "exists; the export does not replace files unless asked" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
