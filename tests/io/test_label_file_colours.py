"""A label file in which two classes share a colour is refused, naming the file and both classes (issue 14 item 3):
a colour-coded mask could not tell those classes apart. Label sets that merely spell out default colours, and the
label files of the real data sets, still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segstudio.cli import main
from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet, shared_colours
from segstudio.io.labelset_files import read_label_set, write_label_set


def _refusal(path: Path) -> str:
    with pytest.raises(FileProblem) as caught:
        read_label_set(path)
    assert caught.value.path == path
    return str(caught.value)


def test_two_classes_of_one_colour_in_toml_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.toml"
    path.write_text(
        '[[classes]]\nname = "background"\ncolour = "#000000"\n'
        '[[classes]]\nname = "road"\ncolour = "#ff0000"\n'
        '[[classes]]\nname = "car"\ncolour = "#FF0000"\n'
    )
    message = _refusal(path)
    assert str(path) in message
    assert "'road' (id 1) and 'car' (id 2) share the colour #ff0000" in message


def test_a_chosen_colour_equal_to_another_class_default_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"classes": ["background", {"name": "shadow", "colour": [0, 0, 0]}]}))
    message = _refusal(path)
    assert "'background' (id 0, its default colour) and 'shadow' (id 1) share the colour #000000" in message


def test_every_pair_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"classes": [{"name": n, "colour": "#102030"} for n in ("a", "b", "c")]}))
    assert "'a' (id 0) and 'b' (id 1)" in _refusal(path) and "(1 more pair(s) share a colour)" in _refusal(path)


def test_evaluate_with_such_a_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"classes": [{"name": "a", "colour": "#ffffff"}, {"name": "b", "colour": "#ffffff"}]}))
    assert main(["evaluate", "--gt", str(tmp_path), "--pred", str(tmp_path), "--classes", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: classes 'a' (id 0) and 'b' (id 1) share the colour #ffffff" in err


@pytest.mark.parametrize("labels", [LabelSet.voc(), LabelSet.camvid(), LabelSet.with_count(300)], ids=["voc", "camvid", "300"])
def test_label_sets_the_app_writes_read_back(labels: LabelSet, tmp_path: Path) -> None:
    """Files written by write_label_set spell out every colour; default colours repeat beyond 256 classes,
    which is no choice of the file's and stays readable."""
    for suffix in (".toml", ".json"):
        path = tmp_path / f"labels{suffix}"
        write_label_set(path, labels)
        assert read_label_set(path) == labels


def test_shared_colours_lists_pairs_once() -> None:
    labels = LabelSet.from_names(["a", "b", "c", "d"], colours=[(1, 2, 3), (1, 2, 3), (9, 9, 9), (1, 2, 3)])
    assert [(x.name, y.name) for x, y in shared_colours(labels)] == [("a", "b"), ("a", "d")]
    assert [(x.name, y.name) for x, y in shared_colours(labels, given=[3])] == [("a", "d")]
    assert shared_colours(labels, given=[2]) == []


def test_the_real_data_sets_label_files_read(shared_data: Path) -> None:
    """No shipped label file relies on shared colours (VOC's and labelme's lists get VOC's distinct colours)."""
    files = sorted(p for pattern in ("*.txt", "*.toml", "*.json") for p in shared_data.glob(f"*/{pattern}")
                   if p.name in ("labels.txt", "class_names.txt", "classes.txt", "labels.toml", "labels.json"))
    files += sorted(shared_data.glob("*/voc/class_names.txt"))
    assert files, "expected labelme's labels.txt and VOC's class_names.txt"
    for path in files:
        labels = read_label_set(path)
        assert shared_colours(labels) == [], path


# -- a class coloured like the ignore id: VOC's boundary colour (224, 224, 192) is how colour masks draw "ignore"


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_class_coloured_like_the_ignore_id_is_refused(tmp_path: Path, suffix: str) -> None:
    data = {"classes": [{"name": "background", "colour": "#000000"}, {"name": "fence", "colour": "#E0E0C0"}],
            "ignore_index": 255, "ignore_name": "boundary"}
    path = tmp_path / f"labels{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        write_label_set(path, LabelSet.from_mapping(data))  # the writer spells the same colours out
    message = _refusal(path)
    assert str(path) in message
    assert "class 'fence' (id 1) has the colour #e0e0c0 of the ignore id 255 ('boundary')" in message


def test_the_ignore_colour_is_only_taken_when_there_is_an_ignore_id(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"classes": [{"name": "background", "colour": "#000000"},
                                            {"name": "fence", "colour": [224, 224, 192]}]}))
    assert read_label_set(path).classes[1].colour == (224, 224, 192)  # no ignore id: nothing is drawn in it


def test_a_project_file_with_a_class_coloured_like_the_ignore_id_still_opens(tmp_path: Path) -> None:
    """The project file is the app's own state: refusing it would lock the user out of the folder whose Classes
    panel fixes the colour (the panel itself refuses to make such a colour: tests/ui/test_class_editing.py)."""
    from segstudio.io.dataset_spec import DatasetSpec, ImageFolder, Layout
    from segstudio.io.project_file import read_project_file, write_project_file

    labels = LabelSet.camvid()  # ignore id 11, "Unlabelled"
    path = tmp_path / "segstudio.toml"
    clashing = labels.recoloured(3, (224, 224, 192))
    write_project_file(path, tmp_path, DatasetSpec(layout=Layout.CUSTOM, image_folders=(ImageFolder("images", "all"),),
                                                   mask_sources=(), labels=clashing))
    assert read_project_file(path).labels == clashing
