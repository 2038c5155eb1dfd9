from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.core.labels import CAMVID_CLASS_NAMES, LabelSet, voc_palette
from segstudio.core.errors import FileProblem
from segstudio.io.labelset_files import (
    label_set_from_colour_table,
    read_label_set,
    write_label_set,
)


def _problem(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(FileProblem) as caught:
        call(*args, **kwargs)
    return str(caught.value)


# -- labelme's labels.txt -----------------------------------------------------------------------------------------


def test_labelme_labels_txt(shared_data: Path) -> None:
    labels = read_label_set(shared_data / "voc_coco_labelme_example" / "labels.txt")
    assert labels.num_classes == 21
    assert labels.names[0] == "background"  # labelme's _background_
    assert labels.names[1] == "aeroplane" and labels.names[16] == "potted plant" and labels.names[20] == "tv/monitor"
    assert labels.ignore_index == 255  # labelme's __ignore__ (-1, stored as 255 in its PNGs)
    np.testing.assert_array_equal(labels.colours, voc_palette()[:21])  # labelme paints with the VOC colour map


def test_txt_comments_blank_lines_and_plain_names(tmp_path: Path) -> None:
    path = tmp_path / "classes.txt"
    path.write_text("# my classes\n\nbackground\n  road  \n\ncar\n", encoding="utf-8")
    labels = read_label_set(path)
    assert labels.names == ("background", "road", "car") and labels.ignore_index is None


def test_txt_problems(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("_background_\n__ignore__\ncat\n")
    assert "__ignore__ must be the first line" in _problem(read_label_set, path)
    path.write_text("a\nb\na\n")
    problem = _problem(read_label_set, path)
    assert problem.startswith(str(path)) and "repeated: a" in problem
    path.write_text("# only a comment\n")
    assert "no class names" in _problem(read_label_set, path)
    path.write_bytes(b"\xff\xfe\x00bad")
    assert "not UTF-8 text" in _problem(read_label_set, path)


# -- TOML and JSON ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".toml", ".json"])
@pytest.mark.parametrize(
    "labels", [LabelSet.voc(), LabelSet.camvid(), LabelSet.with_count(300), LabelSet.from_names(["ü-class"])]
)
def test_round_trip(tmp_path: Path, suffix: str, labels: LabelSet) -> None:
    path = tmp_path / f"labels{suffix}"
    write_label_set(path, labels)
    assert read_label_set(path) == labels
    write_label_set(path, labels.renamed(0, "void"))  # overwrite in place
    assert read_label_set(path).names[0] == "void"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_toml_written_is_readable_by_people(tmp_path: Path) -> None:
    write_label_set(tmp_path / "voc.toml", LabelSet.voc())
    text = (tmp_path / "voc.toml").read_text()
    assert '{ id = 1, name = "aeroplane", colour = "#800000" }' in text.splitlines()[2]  # one class a line
    assert "ignore_index = 255" in text


def test_short_forms(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(["bg", "fg"]))
    assert read_label_set(tmp_path / "a.json").names == ("bg", "fg")
    (tmp_path / "b.toml").write_text('classes = ["bg", "fg"]\nignore_index = 255\n')
    labels = read_label_set(tmp_path / "b.toml")
    assert labels.names == ("bg", "fg") and labels.ignore_index == 255
    (tmp_path / "c.JSON").write_text('{"classes": [{"name": "x", "color": "#0000ff"}]}')
    assert read_label_set(tmp_path / "c.JSON").classes[0].colour == (0, 0, 255)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.toml", "classes = [\n", "not valid TOML"),
        ("bad.json", '{"classes": ["a",]}', "not valid JSON: Expecting value at line 1, column 18"),
        ("dup.json", '{"classes": ["a", "a"]}', "repeated: a"),
        ("colour.toml", '[[classes]]\nname = "a"\ncolour = "red"\n', "colour 'red' is not #rrggbb"),
        ("ignore.json", '{"classes": ["a", "b"], "ignore_index": 1}', "ignore id 1 is also the id of class 'b'"),
        ("noclasses.toml", 'name = "x"\n', "'classes' must be a non-empty list"),
        ("scalar.json", "3", "expected a table"),
        ("empty.toml", "", "file is empty"),
        ("blank.json", "  \n", "only blank space"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    problem = _problem(read_label_set, path)
    assert problem.startswith(f"{path}: ") and message in problem, problem


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    assert _problem(read_label_set, tmp_path / "none.toml").endswith("none.toml: file not found")
    (tmp_path / "x.yaml").write_text("classes: [a]")
    assert "unknown label-set format '.yaml'" in _problem(read_label_set, tmp_path / "x.yaml")
    with pytest.raises(ValueError, match="written as .toml or .json"):
        write_label_set(tmp_path / "x.txt", LabelSet.voc())
    assert "does not exist" in _problem(write_label_set, tmp_path / "no" / "x.toml", LabelSet.voc())


# -- colour tables ---------------------------------------------------------------------------------------------------


def test_camvid_colour_lut(shared_data: Path) -> None:
    path = shared_data / "camvid" / "colour_lut.png"
    labels = label_set_from_colour_table(path, 11, names=CAMVID_CLASS_NAMES, ignore_index=11, ignore_name="Unlabelled")
    # A colour table says nothing of which class is "background": it stays class 0; the CamVid preset has none.
    assert labels.background == 0
    assert dataclasses.replace(labels, background=None) == LabelSet.camvid()
    np.testing.assert_array_equal(labels.colours, LabelSet.camvid().colours)
    unnamed = label_set_from_colour_table(path, 3)
    assert unnamed.names == ("background", "class 1", "class 2")


def test_colour_table_is_not_a_label_set_file(shared_data: Path) -> None:
    problem = _problem(read_label_set, shared_data / "camvid" / "colour_lut.png")
    assert "label_set_from_colour_table" in problem


def test_colour_table_problems(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "camvid" / "colour_lut.png"
    assert "256 entries, fewer than the 300 classes" in _problem(label_set_from_colour_table, path, 300)
    assert "3 names given for 2 classes" in _problem(label_set_from_colour_table, path, 2, names=["a", "b", "c"])
    Image.new("L", (4, 1)).save(tmp_path / "grey.png")
    assert "this one is grey" in _problem(label_set_from_colour_table, tmp_path / "grey.png", 2)
    (tmp_path / "empty.png").write_bytes(b"")
    assert "file is empty (0 bytes)" in _problem(label_set_from_colour_table, tmp_path / "empty.png", 2)


def test_square_colour_table_reads_row_by_row(tmp_path: Path) -> None:
    Image.fromarray(voc_palette().reshape(16, 16, 3)).save(tmp_path / "square.png")
    labels = label_set_from_colour_table(tmp_path / "square.png", 21, ignore_index=255)
    np.testing.assert_array_equal(labels.colours, voc_palette()[:21])


def test_background_class_is_stored_only_when_not_zero() -> None:
    assert "background" not in LabelSet.voc().to_mapping()
    assert LabelSet.camvid().background is None
    assert LabelSet.camvid().to_mapping()["background"] == "none"
    assert LabelSet.from_mapping(LabelSet.camvid().to_mapping()) == LabelSet.camvid()
    custom = dataclasses.replace(LabelSet.with_count(3), background=2)
    assert LabelSet.from_mapping(custom.to_mapping()) == custom
    assert LabelSet.from_mapping({"classes": ["a", "b"]}).background == 0
    with pytest.raises(ValueError, match="background class 5"):
        dataclasses.replace(LabelSet.with_count(3), background=5)
    with pytest.raises(ValueError, match="'background'"):
        LabelSet.from_mapping({"classes": ["a", "b"], "background": "sky"})


def test_background_round_trips_through_label_set_files(tmp_path: Path) -> None:
    for name in ("camvid.toml", "camvid.json"):
        write_label_set(tmp_path / name, LabelSet.camvid())
        assert read_label_set(tmp_path / name) == LabelSet.camvid()
