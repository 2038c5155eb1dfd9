"""A fuzz of the project-file parser (issue 14): a real project file (CamVid's layout, written by segstudio) with
its values replaced by values of any TOML type, hostile paths among them, and arbitrary text. Reading it either gives
a data set whose every folder stays inside the project (relative, no ``..``, no drive), or a FileProblem naming the
file; never another exception."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.io.dataset_spec import DatasetSpec, ImageFolder, Layout, MaskKind, MaskRole, MaskSource
from segstudio.io.project_file import read_project_file, write_project_file

HOSTILE_PATHS = ("..", "../x", "a/../../b", "/etc", "/", "C:\\Windows", "C:/x", "\\\\server\\share", "a\\b", "", "  ",
                 ".", "./", "a/./b", "a\x00b", "~", "~/x", "masks/../../..", "a//b", "con", ".segstudio")

_SCALARS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=True), st.booleans(),
    st.text(max_size=20), st.sampled_from(HOSTILE_PATHS),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                       max_leaves=6)


def _valid_document(tmp_path: Path) -> dict[str, Any]:
    spec = DatasetSpec(
        layout=Layout.CUSTOM,
        image_folders=(ImageFolder("images", "train"), ImageFolder("val", "val")),
        mask_sources=(MaskSource("gt", "masks", "images", MaskRole.GROUND_TRUTH, MaskKind.SEMANTIC, "_L"),
                      MaskSource("pred", "predictions", "val", MaskRole.PREDICTION, MaskKind.SEMANTIC, "")),
        labels=LabelSet.camvid(),
        notes=("written for the fuzz",),
    )
    path = tmp_path / "seed.segstudio.toml"
    write_project_file(path, tmp_path, spec)
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _places(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into ``document`` (tables and arrays), the document itself included."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _places(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _places(value, (*prefix, index))
    return found


def _replaced(document: Any, place: tuple[Any, ...], value: Any) -> Any:
    if not place:
        return value
    head, rest = place[0], place[1:]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _replaced(document[head], rest, value)
    return copy


def _stays_inside(folder: str) -> bool:
    parts = PurePosixPath(folder).parts
    return folder == "." or (bool(parts) and ".." not in parts and not PurePosixPath(folder).is_absolute()
                             and "\\" not in folder and ":" not in parts[0] and "\x00" not in folder)


def _check(path: Path) -> None:
    try:
        spec = read_project_file(path)
    except FileProblem as problem:
        assert problem.path == path
        return
    folders = [f.folder for f in spec.image_folders] + [spec.corrections_folder]
    folders += [folder for s in spec.mask_sources for folder in (s.folder, s.image_folder)]
    assert all(_stays_inside(folder) for folder in folders), folders
    assert spec.corrections_folder != "."


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_value_anywhere_reads_as_a_data_set_inside_the_folder_or_a_named_problem(tmp_path: Path, data) -> None:  # noqa: ANN001
    document = _valid_document(tmp_path)
    for _ in range(data.draw(st.integers(1, 3))):
        place = data.draw(st.sampled_from(_places(document)[1:]))
        document = _replaced(document, place, data.draw(_VALUES))
    if not isinstance(document, dict):
        return
    path = tmp_path / "fuzzed.segstudio.toml"
    try:
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
    except (TypeError, ValueError):  # a value TOML cannot hold (NaN keys...): written as text instead
        path.write_text(repr(document), encoding="utf-8")
    _check(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400), raw=st.binary(max_size=200))
def test_any_text_or_bytes_is_refused_by_name(tmp_path: Path, text: str, raw: bytes) -> None:
    path = tmp_path / "noise.segstudio.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if "\ud800" not in text else path.write_bytes(b"")
    _check(path)
    path.write_bytes(raw)
    _check(path)


def test_every_hostile_folder_is_refused_in_every_folder_field(tmp_path: Path) -> None:
    seed = _valid_document(tmp_path)
    fields = [("image_folders", 0, "folder"), ("mask_sources", 0, "folder"), ("mask_sources", 1, "image_folder"),
              ("corrections_folder",)]
    path = tmp_path / "hostile.segstudio.toml"
    for field in fields:
        for hostile in HOSTILE_PATHS:
            path.write_text(tomli_w.dumps(_replaced(seed, field, hostile)), encoding="utf-8")
            _check(path)


_REVIEW_SEED = {"review": {
    "images/0016E5_07959": {"status": "accepted", "comment": "ok", "changed_at": 1.7e9, "changed_by": "ana",
                            "effort": {"changed_pixels": 120, "total_pixels": 172800,
                                       "confusion": [[1, 2], [3, 4]]}},
    "images/0016E5_07961": {"status": "to do"},
}}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_review_table_reads_as_a_review_or_a_named_problem(tmp_path: Path, data) -> None:  # noqa: ANN001
    """The review table (statuses, comments, effort) with any value anywhere: read, or refused naming the file."""
    from segstudio.io.review_file import read_review

    document = _valid_document(tmp_path) | _REVIEW_SEED
    for _ in range(data.draw(st.integers(1, 3))):
        place = data.draw(st.sampled_from([p for p in _places(document) if p[:1] == ("review",)]))
        document = _replaced(document, place, data.draw(_VALUES))
    path = tmp_path / "review.segstudio.toml"
    try:
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
    except (TypeError, ValueError):
        return
    try:
        read_review(path)  # a review book, whatever it holds
    except FileProblem as problem:
        assert problem.path == path
