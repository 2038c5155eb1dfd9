from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from PIL import Image

from segstudio.core.labels import LabelSet
from segstudio.io.autosave import AutosaveStore
from segstudio.io.autosave_files import AUTOSAVE_FOLDER, Recoverable, file_stem
from segstudio.io.corrections import save_correction
from segstudio.io.datasets import open_dataset
from segstudio.core.errors import FileProblem
from segstudio.io.mask_files import read_class_mask

LABELS = LabelSet.from_names(["background", "road", "car"], ignore_index=255)
KEY = "train/images/0"


def a_mask(seed: int = 0, shape: tuple[int, int] = (40, 56), labels: LabelSet = LABELS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if labels.num_classes <= 256 else np.uint16
    mask = rng.integers(0, labels.num_classes, shape).astype(dtype)
    if labels.ignore_index is not None:
        mask[rng.random(shape) < 0.05] = labels.ignore_index
    return mask


def only(entries: list[Recoverable]) -> Recoverable:
    assert len(entries) == 1, entries
    return entries[0]


def test_save_pending_load_discard_round_trip(tmp_path: Path) -> None:
    store = AutosaveStore(tmp_path / AUTOSAVE_FOLDER)
    assert store.pending() == []  # no folder yet: nothing pending, no error
    mask = a_mask()
    before = time.time()
    path = store.save(KEY, mask, revision=7, labels=LABELS, image_path=tmp_path / "train/images/0.png")
    assert path.parent == store.folder and "/" not in path.name and path.name.startswith("train%2Fimages%2F0.")

    entry = only(store.pending())
    assert entry.recoverable and entry.problem is None
    assert (entry.sample_key, entry.revision, entry.shape, entry.path) == (KEY, 7, (40, 56), path)
    assert entry.image == tmp_path / "train/images/0.png"
    assert before - 1 <= entry.saved_at <= time.time() + 1  # type: ignore[operator]
    description = json.loads(entry.description.read_text())
    assert description["sample_key"] == KEY and description["shape"] == [40, 56]
    loaded = store.load(entry)
    assert loaded.dtype == np.uint8 and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, mask)

    # A newer save replaces the old one: one description, one PNG.
    newer = a_mask(1)
    store.save(KEY, newer, revision=9, labels=LABELS)
    entry = only(store.pending())
    assert entry.revision == 9 and entry.image is None
    np.testing.assert_array_equal(store.load(entry), newer)
    assert len(list(store.folder.iterdir())) == 2

    store.save("val/images/3", mask, revision=1, labels=LABELS)
    assert [e.sample_key for e in store.pending()] == [KEY, "val/images/3"]
    store.discard(KEY)
    assert [e.sample_key for e in store.pending()] == ["val/images/3"]
    store.discard(KEY)  # twice is fine
    store.discard("val/images/3")
    assert store.pending() == [] and list(store.folder.iterdir()) == []


def test_wide_label_sets_round_trip_as_16_bit(tmp_path: Path) -> None:
    labels = LabelSet.with_count(300)
    store = AutosaveStore(tmp_path)
    mask = a_mask(2, labels=labels)
    assert mask.max() > 255
    store.save("a", mask, revision=1, labels=labels)
    loaded = store.load(only(store.pending()))
    assert loaded.dtype == np.uint16
    np.testing.assert_array_equal(loaded, mask)


def test_sample_keys_map_to_distinct_safe_file_names() -> None:
    keys = ["train/images/0", "train%2Fimages%2F0", "a.b", "a", "..", ".hidden", "x" * 400, "x" * 399 + "y", "C:\\odd:name?"]
    stems = [file_stem(k) for k in keys]
    assert len(set(stems)) == len(keys)
    for stem in stems:
        assert "/" not in stem and "\\" not in stem and ":" not in stem and not stem.startswith(".")
        assert len(stem) <= 160
    with pytest.raises(ValueError, match="non-empty"):
        file_stem("")


def test_a_save_killed_mid_write_leaves_the_previous_autosave_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = AutosaveStore(tmp_path)
    first = a_mask(3)
    store.save(KEY, first, revision=1, labels=LABELS)
    files = sorted(p.name for p in tmp_path.iterdir())

    real_save = Image.Image.save

    def killed_while_encoding(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG\r\n\x1a\n half a file")  # type: ignore[attr-defined]
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(Image.Image, "save", killed_while_encoding)
    with pytest.raises(KeyboardInterrupt):
        store.save(KEY, a_mask(4), revision=2, labels=LABELS)
    monkeypatch.setattr(Image.Image, "save", real_save)
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no half-written or temporary file left
    entry = only(store.pending())
    assert entry.revision == 1
    np.testing.assert_array_equal(store.load(entry), first)

    # Killed after the PNG, while writing the description: the description is the commit point.
    def killed_while_describing(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr("segstudio.io.autosave.write_text_atomic", killed_while_describing)
    with pytest.raises(KeyboardInterrupt):
        store.save(KEY, a_mask(5), revision=3, labels=LABELS)
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    np.testing.assert_array_equal(store.load(only(store.pending())), first)


def test_a_truncated_autosave_is_listed_with_its_path_and_reason_and_kept(tmp_path: Path) -> None:
    store = AutosaveStore(tmp_path)
    path = store.save(KEY, a_mask(6), revision=4, labels=LABELS)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    entry = only(store.pending())  # never raises
    assert not entry.recoverable and entry.path == path
    assert "truncated" in entry.problem  # type: ignore[operator]
    assert str(path) in str(entry)
    with pytest.raises(FileProblem) as caught:
        store.load(entry)
    assert caught.value.path == path and "truncated" in caught.value.problem
    assert path.exists()  # never deleted behind the user's back

    # Truncated on disk after pending() looked: load() still reports it as a FileProblem.
    path.write_bytes(data)
    fresh = only(store.pending())
    path.write_bytes(data[:100])
    with pytest.raises(FileProblem, match="unreadable"):
        store.load(fresh)

    store.discard(KEY)
    assert store.pending() == [] and not path.exists()


def test_a_corrupt_description_or_a_lone_mask_is_listed_not_raised(tmp_path: Path) -> None:
    store = AutosaveStore(tmp_path)
    store.save(KEY, a_mask(7), revision=1, labels=LABELS)
    description = tmp_path / f"{file_stem(KEY)}.json"
    description.write_text(description.read_text()[:20])
    store.save("other", a_mask(8), revision=1, labels=LABELS)
    (tmp_path / f"{file_stem('other')}.json").unlink()  # as if killed between the two writes of the first save

    first, second = store.pending()
    assert first.sample_key == "other" and first.problem and "description" in first.problem
    assert first.path.suffix == ".png"
    assert second.sample_key == KEY and second.path == description and "not JSON" in second.problem  # type: ignore[operator]
    for entry in (first, second):
        with pytest.raises(FileProblem):
            store.load(entry)
    store.discard(KEY)
    store.discard("other")
    assert list(tmp_path.iterdir()) == []


def test_pending_leaves_out_autosaves_older_than_the_saved_correction(tmp_path: Path) -> None:
    corrections = tmp_path / "corrections"
    corrections.mkdir()
    store = AutosaveStore(tmp_path / "autosave", correction_path=lambda key: corrections / f"{key}.png")
    store.save("a", a_mask(9), revision=1, labels=LABELS)
    assert [e.sample_key for e in store.pending()] == ["a"]  # no correction saved: pending

    saved = corrections / "a.png"
    saved.write_bytes(b"not read")
    later = time.time() + 60
    os.utime(saved, (later, later))
    assert store.pending() == []  # the saved correction is newer
    earlier = time.time() - 3600
    os.utime(saved, (earlier, earlier))
    assert [e.sample_key for e in store.pending()] == ["a"]  # the autosave is newer


def _small_dataset(root: Path) -> Path:
    rng = np.random.default_rng(10)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(root / "images" / f"{name}.png")
        Image.fromarray(rng.integers(0, 3, (20, 30)).astype(np.uint8)).save(root / "masks" / f"{name}.png")
    return root


def test_save_correction_writes_the_corrections_folder_never_the_truth(tmp_path: Path) -> None:
    dataset = open_dataset(_small_dataset(tmp_path / "data"))
    labels = dataset.spec.labels
    sample = dataset.samples[0]
    truth_path = dataset.ground_truth(sample)
    assert truth_path is not None
    truth_bytes, truth_mtime = truth_path.read_bytes(), truth_path.stat().st_mtime_ns
    assert not dataset.corrections_dir.exists()

    store = AutosaveStore.for_dataset(dataset)
    assert store.folder == dataset.project_file.parent / AUTOSAVE_FOLDER
    mask = read_class_mask(truth_path, labels)
    mask[5:10, 5:20] = 1
    store.save(sample.key, mask, revision=3, labels=labels, image_path=sample.image)
    assert [e.sample_key for e in store.pending()] == [sample.key]

    written = save_correction(dataset, sample, mask, labels)
    assert written == dataset.correction_path(sample) and written.is_file()
    assert dataset.corrections_dir.is_dir()
    np.testing.assert_array_equal(read_class_mask(written, labels), mask)
    assert truth_path.read_bytes() == truth_bytes and truth_path.stat().st_mtime_ns == truth_mtime
    assert store.pending() == []  # the autosave went with the save

    # A later autosave is pending again only once it is newer than the correction.
    store.save(sample.key, mask, revision=4, labels=labels)
    assert [e.sample_key for e in store.pending()] == [sample.key]

    # Pointed at the truth itself, saving refuses and leaves it alone.
    clash = dataclasses.replace(sample, masks=MappingProxyType({"ground truth": dataset.correction_path(sample)}))
    before = written.read_bytes()
    with pytest.raises(FileProblem, match="not a corrections file"):
        save_correction(dataset, clash, np.zeros_like(mask), labels)
    assert written.read_bytes() == before
    with pytest.raises(ValueError, match="cannot write"):
        save_correction(dataset, sample, np.full_like(mask, 77), labels)  # bad values: refused before writing
    assert written.read_bytes() == before


def test_another_writers_autosave_is_set_aside_never_replaced(tmp_path: Path) -> None:
    """A crashed window's unsaved work on an image stays on offer while a new window autosaves the same image."""
    crashed, current = AutosaveStore(tmp_path), AutosaveStore(tmp_path)
    theirs, ours = np.zeros((6, 8), np.uint8), np.ones((6, 8), np.uint8)
    crashed.save(KEY, theirs, revision=5, labels=LABELS, session="a")
    current.save(KEY, ours, revision=1, labels=LABELS, session="b")
    entries = current.pending()
    assert [e.sample_key for e in entries] == [KEY, KEY]
    masks = sorted((current.load(e) for e in entries), key=lambda m: int(m.sum()))
    np.testing.assert_array_equal(masks[0], theirs)
    np.testing.assert_array_equal(masks[1], ours)

    current.save(KEY, ours, revision=2, labels=LABELS, session="b")  # our next autosave replaces only ours
    assert len(current.pending()) == 2
    assert current.discard_saved(KEY, session="b", revision=2)  # our save removes our autosave only
    (left,) = current.pending()
    np.testing.assert_array_equal(current.load(left), theirs)

    current.adopt(left)  # recovered into our work: the next save holds it
    current.save(KEY, theirs, revision=3, labels=LABELS, session="c")
    assert current.discard_saved(KEY, session="c", revision=3)
    assert current.pending() == [] and list(tmp_path.iterdir()) == []


def test_a_corrupt_autosave_is_set_aside_not_overwritten(tmp_path: Path) -> None:
    store = AutosaveStore(tmp_path)
    (tmp_path / f"{file_stem(KEY)}.json").write_text("{ not json", encoding="utf-8")
    store.save(KEY, np.ones((6, 8), np.uint8), revision=1, labels=LABELS, session="s")
    entries = store.pending()
    problems = [e for e in entries if e.problem is not None]
    assert len(entries) == 2 and len(problems) == 1 and "corrupt" in problems[0].problem
    store.discard_entry(problems[0])  # the user's explicit choice removes that one only
    (only_left,) = store.pending()
    assert only_left.problem is None
