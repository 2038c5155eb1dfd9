from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.io.dataset_spec import Layout, MaskKind, MaskRole
from segstudio.io.datasets import ProblemKind, check_files, open_dataset
from segstudio.core.errors import FileProblem
from segstudio.io.mask_files import read_class_mask, read_instance_mask
from segstudio.io.project_file import PROJECT_FILE_NAME, find_project_file, read_project_file


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# -- the four real data sets --------------------------------------------------------------------------------


def test_isbi_opens_with_inverted_binary_masks_and_foreign_predictions(
    shared_data: Path, tmp_path: Path, isolated_user_data: Path
) -> None:
    # A private copy marked read-only, as ../shared/data usually is: the shared folder may be a writable copy (the
    # README allows one), which a project file beside the data would make true and the checks below wrong.
    isbi = tmp_path / "isbi2012"
    shutil.copytree(shared_data / "isbi2012", isbi, ignore=shutil.ignore_patterns(PROJECT_FILE_NAME, "segstudio-*"))
    isbi.chmod(0o555)
    try:
        before = _snapshot(isbi)
        dataset = open_dataset(isbi)
        assert _snapshot(isbi) == before, "a read-only data folder must not be written to"
    finally:
        isbi.chmod(0o755)
    assert dataset.project_file.is_relative_to(isolated_user_data)
    assert dataset.spec.layout is Layout.IMAGES_MASKS
    train = [s for s in dataset.samples if s.split == "train"]
    test = [s for s in dataset.samples if s.split == "test"]
    assert len(train) == 24 and len(test) == 30
    assert all(dataset.ground_truth(s) is not None for s in train)
    assert all(dataset.ground_truth(s) is None for s in test)
    assert all(len(dataset.predictions(s)) == 1 for s in test)
    assert dataset.predictions(dataset.sample("test/images/7"))["test:foreign_predictions_16bit_256px"].name == "7_predict.png"
    no_truth = [p for p in dataset.problems if p.kind is ProblemKind.NO_GROUND_TRUTH]
    assert len(no_truth) == 30 and all(p.path.parent.name == "images" for p in no_truth)

    truth_source = dataset.ground_truth_source(train[0])
    assert truth_source is not None and truth_source.value_map is not None
    mask = read_class_mask(dataset.ground_truth(train[0]), dataset.spec.labels, value_map=truth_source.value_map)
    raw = np.array(Image.open(dataset.ground_truth(train[0])))
    assert np.array_equal(mask == 1, raw == 0), "ISBI membrane (stored 0) must become the foreground class 1"
    assert 0.1 < (mask == 1).mean() < 0.4


def test_isbi_size_check_flags_foreign_predictions(shared_data: Path) -> None:
    dataset = open_dataset(shared_data / "isbi2012")
    problems = check_files(dataset)
    mismatched = [p for p in problems if p.kind is ProblemKind.SIZE_MISMATCH]
    assert len(mismatched) == 30
    assert "256x256" in mismatched[0].reason and "512x512" in mismatched[0].reason and "resized" in mismatched[0].reason
    assert not [p for p in problems if p.kind is ProblemKind.UNREADABLE]


def test_camvid_opens_as_segnet_with_camvid_classes(shared_data: Path) -> None:
    dataset = open_dataset(shared_data / "camvid")
    assert dataset.spec.layout is Layout.SEGNET
    assert dataset.spec.splits == ("train", "val")
    assert len(dataset.samples) == 201
    assert all(dataset.ground_truth(s) is not None for s in dataset.samples)
    labels = dataset.spec.labels
    assert labels.num_classes == 11 and labels.ignore_index == 11
    assert labels.names[0] == "Sky" and labels.names[10] == "Bicyclist"
    sample = dataset.sample("val/0016E5_07959")
    assert dataset.ground_truth(sample) == shared_data / "camvid" / "valannot" / "0016E5_07959.png"
    mask = read_class_mask(dataset.ground_truth(sample), labels)
    assert mask.max() <= 11
    assert not dataset.problems
    assert not check_files(dataset)


def test_pennfudan_opens_as_instance_masks_with_suffix(shared_data: Path) -> None:
    dataset = open_dataset(shared_data / "pennfudan")
    assert dataset.spec.layout is Layout.MASK_SUFFIX
    assert len(dataset.samples) == 120
    source = dataset.spec.mask_sources[0]
    assert source.kind is MaskKind.INSTANCE and source.suffix == "_mask" and source.role is MaskRole.GROUND_TRUTH
    sample = dataset.sample("FudanPed00003")
    path = dataset.ground_truth(sample)
    assert path is not None and path.name == "FudanPed00003_mask.png"
    instances = read_instance_mask(path)
    assert len(instances.instance_ids) == len(np.unique(np.array(Image.open(path)))) - 1 >= 1
    assert not dataset.problems


def test_voc_example_opens_class_and_object_masks(shared_data: Path) -> None:
    root = shared_data / "voc_coco_labelme_example"
    dataset = open_dataset(root)
    assert dataset.spec.layout is Layout.VOC
    assert len(dataset.samples) == 3
    assert all(s.image.suffix == ".jpg" for s in dataset.samples)
    labels = dataset.spec.labels
    assert labels.num_classes == 21 and labels.ignore_index == 255 and labels.names[15] == "person"
    kinds = {s.name: s.kind for s in dataset.spec.mask_sources}
    assert kinds == {"voc:SegmentationClass": MaskKind.SEMANTIC, "voc:SegmentationObject": MaskKind.INSTANCE}
    sample = dataset.samples[0]
    assert dataset.ground_truth(sample).parent.name == "SegmentationClass"
    mask = read_class_mask(dataset.ground_truth(sample), labels)
    assert 255 in mask and mask[mask != 255].max() <= 20
    # COCO and labelme copies of the same photos are not pixel masks: left out, and said so.
    assert any("COCO" in n for n in dataset.spec.notes) and any("labelme" in n for n in dataset.spec.notes)


# -- the project file ---------------------------------------------------------------------------------------


def _copy_camvid_subset(shared_data: Path, target: Path, count: int = 4) -> Path:
    for split in ("train", "trainannot"):
        (target / split).mkdir(parents=True)
        for path in sorted((shared_data / "camvid" / split).iterdir())[:count]:
            shutil.copy(path, target / split / path.name)
    return target


def test_project_file_is_written_beside_writable_data_and_reused(shared_data: Path, tmp_path: Path) -> None:
    root = _copy_camvid_subset(shared_data, tmp_path / "camvid")
    first = open_dataset(root)
    assert first.detected_now and first.project_file == root / PROJECT_FILE_NAME
    text = first.project_file.read_text()
    assert "schema = 1" in text and 'layout = "segnet"' in text and "notes" in text

    second = open_dataset(root)
    assert not second.detected_now
    assert second.spec == first.spec
    assert second.samples == first.samples


def test_user_fixes_a_wrong_guess_in_the_project_file(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "isbi"
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
        for name in ("0.png", "1.png"):
            shutil.copy(shared_data / "isbi2012" / "train" / sub / name, root / sub / name)
    dataset = open_dataset(root)
    text = dataset.project_file.read_text()
    assert "\n0 = 1\n255 = 0\n" in text
    fixed = text.replace("\n0 = 1\n255 = 0\n", "\n0 = 0\n255 = 1\n")
    fixed = fixed.replace('name = "foreground"', 'name = "cell"').replace('name = "background"', 'name = "membrane"')
    dataset.project_file.write_text(fixed)

    reopened = open_dataset(root)
    assert reopened.spec.labels.names == ("membrane", "cell")
    source = reopened.ground_truth_source(reopened.samples[0])
    mask = read_class_mask(reopened.ground_truth(reopened.samples[0]), reopened.spec.labels, value_map=source.value_map)
    raw = np.array(Image.open(root / "masks" / "0.png"))
    assert np.array_equal(mask == 1, raw == 255)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("schema = 1\nlayout = [unclosed", "not valid TOML"),
        ("schema = 7\n", "schema 7"),
        ('layout = "voc"\n', "schema"),
        ("schema = 1\n[labels]\nclasses = []\n[[image_folders]]\nfolder = 'train'\n", "malformed"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
    ],
)
def test_broken_project_file_is_a_clear_error_and_left_untouched(
    shared_data: Path, tmp_path: Path, content: str | bytes, expected: str
) -> None:
    root = _copy_camvid_subset(shared_data, tmp_path / "camvid", count=2)
    project = root / PROJECT_FILE_NAME
    if isinstance(content, bytes):
        project.write_bytes(content)
    else:
        project.write_text(content)
    before = project.read_bytes()
    with pytest.raises(FileProblem) as caught:
        open_dataset(root)
    assert str(project) in str(caught.value) and expected in str(caught.value)
    assert project.read_bytes() == before


def test_redetect_replaces_the_project_file(shared_data: Path, tmp_path: Path) -> None:
    root = _copy_camvid_subset(shared_data, tmp_path / "camvid", count=2)
    (root / PROJECT_FILE_NAME).write_text("schema = 1\nlayout = [unclosed")
    dataset = open_dataset(root, redetect=True)
    assert dataset.detected_now
    assert read_project_file(root / PROJECT_FILE_NAME) == dataset.spec


def test_read_only_folder_keeps_its_project_file_in_user_data(shared_data: Path, tmp_path: Path, isolated_user_data: Path) -> None:
    root = _copy_camvid_subset(shared_data, tmp_path / "camvid", count=2)
    root.chmod(0o555)
    try:
        dataset = open_dataset(root)
        assert not (root / PROJECT_FILE_NAME).exists()
        assert dataset.project_file.is_relative_to(isolated_user_data)
        assert find_project_file(root) == dataset.project_file
        assert not open_dataset(root).detected_now
    finally:
        root.chmod(0o755)


# -- pairing problems, with real broken files ---------------------------------------------------------------


def test_unpaired_mis_sized_and_unreadable_files_are_listed_with_reasons(tmp_path: Path) -> None:
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c", "d"):
        _save_png(root / "images" / f"{name}.png", rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    for name in ("a", "b", "e"):
        _save_png(root / "masks" / f"{name}.png", rng.integers(0, 3, (40, 60), dtype=np.uint8))
    _save_png(root / "masks" / "c.png", rng.integers(0, 3, (41, 60), dtype=np.uint8))  # another size
    (root / "images" / "b.png").write_bytes(b"")  # an empty image
    good = (root / "images" / "a.png").read_bytes()
    (root / "images" / "a.png").write_bytes(good[:20])  # truncated inside the header

    dataset = open_dataset(root)
    assert [s.key for s in dataset.samples] == ["images/a", "images/b", "images/c", "images/d"]
    listed = {(p.path.name, p.kind) for p in dataset.problems}
    assert ("d.png", ProblemKind.NO_GROUND_TRUTH) in listed
    assert ("e.png", ProblemKind.UNPAIRED_MASK) in listed

    checked = {p.path.relative_to(root).as_posix(): p for p in check_files(dataset)}
    assert checked["images/b.png"].kind is ProblemKind.UNREADABLE and "empty" in checked["images/b.png"].reason
    assert checked["images/a.png"].kind is ProblemKind.UNREADABLE
    assert checked["masks/c.png"].kind is ProblemKind.SIZE_MISMATCH
    assert "60x41" in checked["masks/c.png"].reason and "60x40" in checked["masks/c.png"].reason


def test_masks_beside_their_images_with_a_suffix(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    rng = np.random.default_rng(1)
    for name in ("x1", "x2", "x3"):
        _save_png(root / f"{name}.png", rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
        _save_png(root / f"{name}_mask.png", rng.integers(0, 2, (20, 30), dtype=np.uint8))
    dataset = open_dataset(root)
    assert dataset.spec.layout is Layout.MASK_SUFFIX
    assert [s.name for s in dataset.samples] == ["x1", "x2", "x3"]
    assert all(dataset.ground_truth(s).name == f"{s.name}_mask.png" for s in dataset.samples)


def test_corrected_keys_lists_the_png_files_under_the_corrections_folder_by_relative_key(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    rng = np.random.default_rng(1)
    for name in ("x1", "x2"):
        _save_png(root / f"{name}.png", rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
        _save_png(root / f"{name}_mask.png", rng.integers(0, 2, (20, 30), dtype=np.uint8))
    dataset = open_dataset(root)
    assert dataset.corrected_keys() == set()  # no corrections folder yet
    corrections = dataset.corrections_dir
    for relative in ("x1.png", "a/b.png", "a/deep/c.png", "a/notes.txt", "upper.PNG", "d.png.bak", "folder.png/e.png"):
        (corrections / relative).parent.mkdir(parents=True, exist_ok=True)
        (corrections / relative).write_bytes(b"")
    (corrections / "empty").mkdir()
    assert dataset.corrected_keys() == {"x1", "a/b", "a/deep/c", "folder.png/e"}


def test_missing_folder_and_file_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileProblem, match="does not exist"):
        open_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileProblem, match="no image files"):
        open_dataset(tmp_path / "empty")


def test_listing_ten_thousand_images_decodes_none(tmp_path: Path) -> None:
    """Every file here is garbage: opening succeeds only because nothing is decoded."""
    root = tmp_path / "big"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(10_000):
        (root / "images" / f"img_{index:05d}.png").write_bytes(b"not really a png")
        (root / "masks" / f"img_{index:05d}.png").write_bytes(b"not really a png")
    started = time.perf_counter()
    dataset = open_dataset(root)
    elapsed = time.perf_counter() - started
    assert len(dataset.samples) == 10_000
    assert all(len(s.masks) == 1 for s in dataset.samples)
    assert any("sample mask skipped" in n for n in dataset.spec.notes)
    assert elapsed < 30, f"listing took {elapsed:.1f} s"  # generous: a sanity bound, the benchmark measures speed


def test_camvid_has_no_background_class(shared_data: Path) -> None:
    """Every CamVid class is something (Sky, Road ...): the error map must not treat Sky as 'nothing there'."""
    assert open_dataset(shared_data / "camvid").spec.labels.background is None
