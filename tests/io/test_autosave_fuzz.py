"""A fuzz of autosave descriptions (issue 14): a real autosave's JSON with any value in any field, or any text.
Listing the pending autosaves never raises; every entry either carries the problem in words or points at a mask
inside the autosave folder (a description cannot name a file elsewhere), and loading an entry without a problem
gives a mask or a FileProblem naming the file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.io.autosave import AutosaveStore

LABELS = LabelSet.with_count(4)
HOSTILE = ("../evil.png", "/etc/passwd", "..", "a/b.png", "C:\\x.png", "", "x.png\x00", "../../segstudio.toml")
_SCALARS = st.one_of(st.integers(min_value=-(2**40), max_value=2**40), st.floats(allow_nan=True), st.booleans(),
                     st.none(), st.text(max_size=20), st.sampled_from(HOSTILE))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                       max_leaves=5)


def _saved(folder: Path) -> tuple[AutosaveStore, Path, dict[str, Any]]:
    store = AutosaveStore(folder)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10] = 2
    store.save("images/a", mask, revision=3, labels=LABELS, image_path=folder.parent / "images" / "a.png")
    [description] = [p for p in folder.iterdir() if p.suffix == ".json"]
    return store, description, json.loads(description.read_text(encoding="utf-8"))


def _check(store: AutosaveStore, folder: Path) -> None:
    for entry in store.pending():
        if entry.problem is not None:
            assert isinstance(entry.problem, str) and entry.problem
            continue
        assert entry.path.parent == folder and entry.path.name not in ("", ".", "..")
        try:
            loaded = store.load(entry)
        except FileProblem as problem:
            assert problem.path in (entry.path, entry.description)
        else:
            assert np.asarray(loaded if not hasattr(loaded, "ids") else loaded.ids).ndim == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_value_in_any_field_is_listed_with_its_problem_or_read_inside_the_folder(tmp_path: Path, data) -> None:  # noqa: ANN001
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "segstudio-autosave"  # one per example: tmp_path is shared
    store, description, document = _saved(folder)
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(sorted(document)))
        document[key] = data.draw(_VALUES)
    description.write_text(json.dumps(document, allow_nan=True), encoding="utf-8")
    _check(AutosaveStore(folder), folder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300), raw=st.binary(max_size=200))
def test_any_text_or_bytes_as_a_description_is_listed_not_raised(tmp_path: Path, text: str, raw: bytes) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "segstudio-autosave"
    store, description, _ = _saved(folder)
    description.write_text(text, encoding="utf-8", errors="replace")
    _check(AutosaveStore(folder), folder)
    description.write_bytes(raw)
    _check(AutosaveStore(folder), folder)
