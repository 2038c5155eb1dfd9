"""A fuzz of label-set files (issue 14): CamVid's label set written as .toml and .json by segstudio, with any value
of any type in any field, and any text as .toml, .json or .txt. Reading gives a label set or a FileProblem naming
the file; never another exception."""

from __future__ import annotations

import json
import tempfile
import tomllib
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.io.labelset_files import read_label_set, write_label_set
from tests.io.test_project_file_fuzz import _VALUES, _places, _replaced


def _read(path: Path) -> None:
    try:
        labels = read_label_set(path)
    except FileProblem as problem:
        assert problem.path == path
    else:
        assert isinstance(labels, LabelSet) and labels.num_classes >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), suffix=st.sampled_from([".toml", ".json"]))
def test_any_value_anywhere_in_a_label_file_is_read_or_refused_by_name(tmp_path: Path, data, suffix: str) -> None:  # noqa: ANN001
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    seed = folder / f"labels{suffix}"
    write_label_set(seed, LabelSet.camvid())
    text = seed.read_text(encoding="utf-8")
    document = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    for _ in range(data.draw(st.integers(1, 3))):
        document = _replaced(document, data.draw(st.sampled_from(_places(document)[1:])), data.draw(_VALUES))
    path = folder / f"fuzzed{suffix}"
    try:
        path.write_text(tomli_w.dumps(document) if suffix == ".toml" else json.dumps(document), encoding="utf-8")
    except (TypeError, ValueError):  # not a TOML document any more (an array at the top): as JSON text instead
        path.write_text(json.dumps(document, default=str), encoding="utf-8")
    _read(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300), suffix=st.sampled_from([".toml", ".json", ".txt"]))
def test_any_text_as_a_label_file_is_read_or_refused_by_name(tmp_path: Path, text: str, suffix: str) -> None:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / f"labels{suffix}"
    path.write_text(text, encoding="utf-8", errors="replace")
    _read(path)


def test_what_the_fuzz_found_is_refused_by_name(tmp_path: Path) -> None:
    """An infinite colour channel raised OverflowError through every reader of label sets (a label file, a project
    file, a checkpoint's metadata); 1.7 became 1 without a word; an infinite ignore id or class id likewise."""
    cases = {
        "inf-colour": {"classes": [{"name": "a", "colour": [0, 0, float("inf")]}, {"name": "b"}]},
        "fraction": {"classes": [{"name": "a", "colour": [0, 1.7, 200]}, {"name": "b"}]},
        "text-channel": {"classes": [{"name": "a", "colour": ["12", 0, 0]}, {"name": "b"}]},
        "inf-ignore": {"classes": ["a", "b"], "ignore_index": float("inf")},
        "inf-id": {"classes": [{"name": "a", "id": float("inf")}, {"name": "b"}]},
    }
    for name, document in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        try:
            read_label_set(path)
        except FileProblem as problem:
            assert problem.path == path and "whole number" in problem.problem, problem
        else:
            raise AssertionError(f"{name} was read")
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps({"classes": [{"name": "a", "colour": [0, 255.0, 3]}, "b"], "ignore_index": 255.0}))
    assert read_label_set(whole).ignore_index == 255 and read_label_set(whole).colours[0].tolist() == [0, 255, 3]
