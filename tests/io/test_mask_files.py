from __future__ import annotations

import os
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import IGNORE_COLOUR, LabelSet, voc_palette
from segstudio.core import atomic
from segstudio.core.atomic import atomic_write, write_bytes_atomic
from segstudio.core.errors import FileProblem
from segstudio.core.value_map import ValueMap, value_counts
from segstudio.io.mask_files import (
    INSTANCES_TEXT_KEY,
    RawMask,
    class_mask_dtype,
    read_class_mask,
    read_instance_mask,
    read_raw_mask,
    write_class_mask,
    write_instance_mask,
)

ISBI_MAP = ValueMap.from_pairs({0: 1, 255: 0})  # membrane, stored black, is the foreground


def _voc_masks(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "voc_coco_labelme_example" / "voc" / "SegmentationClass").glob("*.png"))


def _problem(call, *args, **kwargs) -> FileProblem:  # type: ignore[no-untyped-def]
    with pytest.raises(FileProblem) as caught:
        call(*args, **kwargs)
    return caught.value


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(atomic.TEMP_SUFFIX))


# -- VOC: palette PNG -------------------------------------------------------------------------------------------


def test_voc_palette_png_reads_indices_not_colours(shared_data: Path) -> None:
    raw = read_raw_mask(_voc_masks(shared_data)[0])
    assert raw.mode == "P" and raw.values.dtype == np.uint8 and raw.values.ndim == 2
    assert set(np.unique(raw.values)) <= set(range(21)) | {255}
    assert 255 in raw.values  # object boundaries
    assert raw.palette is not None and raw.palette.shape == (256, 3)
    np.testing.assert_array_equal(raw.palette, voc_palette())
    assert not raw.values.flags.writeable


def test_voc_class_mask_round_trip_is_bit_exact(shared_data: Path, tmp_path: Path) -> None:
    labels = LabelSet.voc()
    for path in _voc_masks(shared_data):
        mask = read_class_mask(path, labels)
        assert mask.dtype == np.uint8
        with Image.open(path) as image:
            np.testing.assert_array_equal(mask, np.asarray(image))  # the indices, as Pillow stores them
        out = tmp_path / path.name
        write_class_mask(out, mask, labels)
        raw = read_raw_mask(out)
        assert raw.mode == "P"
        np.testing.assert_array_equal(raw.values, read_raw_mask(path).values)
        np.testing.assert_array_equal(raw.palette[:21], voc_palette()[:21])  # type: ignore[index]
        assert tuple(raw.palette[255]) == IGNORE_COLOUR  # type: ignore[index]
        with Image.open(out) as image:  # any viewer shows it in colour: the colours are the VOC ones
            assert image.mode == "P"
            np.testing.assert_array_equal(np.asarray(image.convert("RGB")), voc_palette()[mask])
    assert _leftovers(tmp_path) == []


# -- CamVid: 8-bit grey, no palette ---------------------------------------------------------------------------------


def test_camvid_annotation(shared_data: Path, tmp_path: Path) -> None:
    path = sorted((shared_data / "camvid" / "trainannot").glob("*.png"))[0]
    raw = read_raw_mask(path)
    assert raw.mode == "L" and raw.palette is None and raw.values.dtype == np.uint8
    assert raw.values.max() <= 11 and raw.size == (480, 360)
    labels = LabelSet.camvid()
    mask = read_class_mask(path, labels, expected_size=(480, 360))
    np.testing.assert_array_equal(mask, raw.values)
    write_class_mask(tmp_path / "m.png", mask, labels)
    np.testing.assert_array_equal(read_class_mask(tmp_path / "m.png", labels), mask)


# -- ISBI: 0/255 with black as the foreground ----------------------------------------------------------------------


def test_isbi_mask_with_value_map(shared_data: Path) -> None:
    path = shared_data / "isbi2012" / "train" / "masks" / "0.png"
    raw = read_raw_mask(path)
    assert raw.mode == "L" and set(np.unique(raw.values)) == {0, 255}
    labels = LabelSet.from_names(["cell", "membrane"])
    mask = read_class_mask(path, labels, value_map=ISBI_MAP)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask == 1, raw.values == 0)
    assert ValueMap.binary(foreground=0, background=255) == ISBI_MAP


def test_isbi_mask_without_value_map_explains_the_fix(shared_data: Path) -> None:
    path = shared_data / "isbi2012" / "train" / "masks" / "0.png"
    problem = _problem(read_class_mask, path, LabelSet.with_count(2))
    count = int((read_raw_mask(path).values == 255).sum())
    assert str(path) in str(problem)
    assert f"value 255 ({count:,} px) is outside the label set (classes 0..1)" in str(problem)
    assert "{0: 0, 255: 1}" in str(problem)


# -- Penn-Fudan: instance ids -------------------------------------------------------------------------------------


def test_penn_fudan_instances(shared_data: Path, tmp_path: Path) -> None:
    for path in sorted((shared_data / "pennfudan" / "PedMasks").glob("*_mask.png"))[:5]:
        instances = read_instance_mask(path)
        raw = read_raw_mask(path)
        top = int(raw.values.max())
        assert instances.instance_ids == tuple(range(1, top + 1))
        assert set(instances.classes.values()) == {1}
        np.testing.assert_array_equal(instances.to_class_mask(), (raw.values > 0).astype(np.uint8))
        # Store with per-instance classes and scores; everything comes back.
        classes = {i: (i % 3) + 1 for i in instances.instance_ids}
        scores = {i: 1.0 / (i + 2) for i in instances.instance_ids}
        edited = InstanceMask(instances.ids, classes, scores)
        write_instance_mask(tmp_path / path.name, edited)
        back = read_instance_mask(tmp_path / path.name)
        assert back == edited
        np.testing.assert_array_equal(back.ids, raw.values)
    assert _leftovers(tmp_path) == []


def test_instance_masks_past_255_ids_are_16_bit(tmp_path: Path) -> None:
    ids = np.arange(600, dtype=np.int32).reshape(20, 30)
    instances = InstanceMask(ids, {i: i % 7 for i in range(1, 600)})
    write_instance_mask(tmp_path / "many.png", instances)
    assert read_raw_mask(tmp_path / "many.png").mode == "I;16"
    assert read_instance_mask(tmp_path / "many.png") == instances
    with pytest.raises(ValueError, match="does not fit a 16-bit PNG"):
        write_instance_mask(tmp_path / "huge.png", InstanceMask.from_ids(np.array([[70000]])))


def test_instance_chunk_that_misses_ids_is_a_problem(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(INSTANCES_TEXT_KEY, '{"version": 1, "classes": {"1": 4}}')
    Image.fromarray(np.array([[0, 1, 2]], np.uint8)).save(tmp_path / "x.png", pnginfo=info)
    problem = _problem(read_instance_mask, tmp_path / "x.png")
    assert "x.png" in str(problem) and "instances 2 have no class" in str(problem)


def test_instance_mask_defaults_and_refusals(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 3, 3]], np.uint8)).save(tmp_path / "plain.png")
    assert dict(read_instance_mask(tmp_path / "plain.png", default_class=15).classes) == {3: 15}
    Image.new("RGB", (2, 2), (1, 2, 3)).save(tmp_path / "colour.png")
    Image.fromarray(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)).save(tmp_path / "colour.png")
    assert "colour-coded instance masks" in str(_problem(read_instance_mask, tmp_path / "colour.png"))
    with pytest.raises(ValueError, match="should end in .png"):
        write_instance_mask(tmp_path / "x.jpg", InstanceMask.from_ids(np.zeros((2, 2), np.uint8)))


# -- 16 bit ---------------------------------------------------------------------------------------------------------


def test_foreign_16_bit_predictions_are_preserved(shared_data: Path) -> None:
    path = shared_data / "isbi2012" / "test" / "foreign_predictions_16bit_256px" / "0_predict.png"
    raw = read_raw_mask(path)
    assert raw.mode == "I;16" and raw.values.dtype == np.uint16 and raw.size == (256, 256)
    np.testing.assert_array_equal(raw.values, cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
    # Probability-like values are not class ids: the problem lists a few with counts, then how many more.
    problem = str(_problem(read_class_mask, path, LabelSet.with_count(2)))
    assert "are outside the label set (classes 0..1)" in problem and "more" in problem and " px)" in problem


def test_wide_label_sets_round_trip_as_16_bit_grey(tmp_path: Path) -> None:
    labels = LabelSet.with_count(300, ignore_index=1000)
    assert class_mask_dtype(labels) == np.uint16
    mask = np.random.default_rng(4).integers(0, 300, (40, 50)).astype(np.uint16)
    mask[0, :5] = 1000
    write_class_mask(tmp_path / "wide.png", mask, labels)
    raw = read_raw_mask(tmp_path / "wide.png")
    assert raw.mode == "I;16" and raw.values.dtype == np.uint16 and raw.palette is None
    back = read_class_mask(tmp_path / "wide.png", labels)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, mask)


def test_class_mask_dtype() -> None:
    assert class_mask_dtype(LabelSet.voc()) == np.uint8
    assert class_mask_dtype(LabelSet.with_count(256)) == np.uint8
    assert class_mask_dtype(LabelSet.with_count(257)) == np.uint16
    assert class_mask_dtype(LabelSet.with_count(3, ignore_index=256)) == np.uint16


# -- TIFF -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_tiff_masks_round_trip(tmp_path: Path, dtype: type) -> None:
    values = np.random.default_rng(5).integers(0, 21, (30, 40)).astype(dtype)
    values[0, 0] = 255
    tifffile.imwrite(tmp_path / "m.tif", values)
    raw = read_raw_mask(tmp_path / "m.tif")
    assert raw.mode == f"tiff-{np.dtype(dtype).name}"
    assert raw.values.dtype == (np.int32 if dtype == np.int32 else dtype)
    np.testing.assert_array_equal(raw.values, values)
    np.testing.assert_array_equal(read_class_mask(tmp_path / "m.tif", LabelSet.voc()), values)


def test_16_bit_tiff_values_are_kept(tmp_path: Path) -> None:
    values = np.random.default_rng(6).integers(0, 65536, (20, 20), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "v.tiff", values, compression="zlib")
    raw = read_raw_mask(tmp_path / "v.tiff")
    assert raw.values.dtype == np.uint16
    np.testing.assert_array_equal(raw.values, values)


def test_float_tiff_masks(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "whole.tif", np.array([[0.0, 1.0], [2.0, 255.0]], np.float32))
    raw = read_raw_mask(tmp_path / "whole.tif")
    assert raw.mode == "tiff-float32" and raw.values.dtype == np.uint8
    np.testing.assert_array_equal(raw.values, [[0, 1], [2, 255]])
    tifffile.imwrite(tmp_path / "soft.tif", np.array([[0.0, 0.25], [0.5, 1.0]], np.float32))
    problem = str(_problem(read_raw_mask, tmp_path / "soft.tif"))
    assert "soft.tif" in problem and "float32 TIFF holds non-integer values (e.g. 0.25, 0.5)" in problem
    tifffile.imwrite(tmp_path / "nan.tif", np.array([[np.nan, 1.0]], np.float32))
    assert "NaN" in str(_problem(read_raw_mask, tmp_path / "nan.tif"))


def test_tiff_stacks_and_colour_tiffs_are_refused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    assert "3 pages" in str(_problem(read_raw_mask, tmp_path / "stack.tif"))
    tifffile.imwrite(tmp_path / "rgb16.tif", np.zeros((8, 8, 3), np.uint16), photometric="rgb")
    assert "one 2-D channel" in str(_problem(read_raw_mask, tmp_path / "rgb16.tif"))
    tifffile.imwrite(tmp_path / "neg.tif", np.array([[-1, 0, 3]], np.int16))
    raw = read_raw_mask(tmp_path / "neg.tif")  # stored values, negatives included: a value map may use them
    assert raw.values.dtype == np.int32 and raw.values.min() == -1
    labels = LabelSet.with_count(4, ignore_index=255)
    mask = read_class_mask(tmp_path / "neg.tif", labels, value_map=ValueMap.from_pairs({-1: 255}, keep_unlisted=True))
    np.testing.assert_array_equal(mask, [[255, 0, 3]])


# -- colour-coded and other PNG storage -----------------------------------------------------------------------------


def test_colour_coded_mask_is_matched_to_the_label_colours(shared_data: Path, tmp_path: Path) -> None:
    labels = LabelSet.camvid()
    source = sorted((shared_data / "camvid" / "trainannot").glob("*.png"))[1]
    ids = read_class_mask(source, labels)
    Image.fromarray(labels.palette()[ids]).save(tmp_path / "colour.png")
    raw = read_raw_mask(tmp_path / "colour.png")
    assert raw.mode == "RGB" and raw.values.dtype == np.int32 and raw.is_colour
    np.testing.assert_array_equal(raw.colours(), labels.palette()[ids])
    np.testing.assert_array_equal(read_class_mask(tmp_path / "colour.png", labels), ids)  # 11 via the ignore colour


def test_unknown_colours_are_named(tmp_path: Path) -> None:
    labels = LabelSet.from_names(["bg", "fg"], colours=[(0, 0, 0), (255, 0, 0)])
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[0, 0] = (1, 2, 3)
    rgb[1:, :] = (255, 0, 0)
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "c.png")
    assert read_raw_mask(tmp_path / "c.png").mode == "RGBA"
    problem = str(_problem(read_class_mask, tmp_path / "c.png", labels))
    assert "c.png" in problem and "colour #010203 (1 px) matches no class colour" in problem


def test_grey_rgb_mask_reads_as_grey(tmp_path: Path) -> None:
    grey = np.array([[0, 1], [2, 1]], np.uint8)
    Image.fromarray(np.repeat(grey[..., None], 3, axis=-1)).save(tmp_path / "g.png")
    raw = read_raw_mask(tmp_path / "g.png")
    assert raw.mode == "RGB-grey" and raw.values.dtype == np.uint8 and not raw.is_colour
    np.testing.assert_array_equal(raw.values, grey)
    np.testing.assert_array_equal(read_class_mask(tmp_path / "g.png", LabelSet.with_count(3)), grey)
    with pytest.raises(ValueError, match="holds values, not colours"):
        raw.colours()


def test_one_bit_png_and_int32_tiff(tmp_path: Path) -> None:
    Image.fromarray(np.array([[True, False]])).save(tmp_path / "bits.png")
    raw = read_raw_mask(tmp_path / "bits.png")
    assert raw.mode == "1" and raw.values.tolist() == [[1, 0]]
    Image.fromarray(np.array([[70000, 3]], np.int32)).save(tmp_path / "i.tif")  # Pillow mode I, written as TIFF
    assert read_raw_mask(tmp_path / "i.tif").values.tolist() == [[70000, 3]]


def test_raw_mask_is_a_value() -> None:
    raw = RawMask(np.zeros((2, 3), np.uint8), None, "L")
    assert raw.size == (3, 2)
    with pytest.raises(AttributeError):
        raw.mode = "P"  # type: ignore[misc]


# -- value maps -----------------------------------------------------------------------------------------------------


def test_value_map_apply() -> None:
    values = np.array([[0, 255], [255, 0]], np.uint8)
    np.testing.assert_array_equal(ISBI_MAP.apply(values), [[1, 0], [0, 1]])
    assert ISBI_MAP.apply(values).dtype == np.uint8
    assert ValueMap.binary().as_dict() == {0: 0, 255: 1}
    identity = ValueMap.identity()
    assert identity.is_identity and identity.apply(values) is values
    partial = ValueMap.from_pairs({255: 21}, keep_unlisted=True)
    np.testing.assert_array_equal(partial.apply(np.array([[3, 255]], np.uint8)), [[3, 21]])
    wide = ValueMap.from_pairs({0: 0, 1000: 300})
    assert wide.apply(np.array([[1000, 0]], np.uint16)).dtype == np.uint16
    assert wide.apply(np.array([[1000, 0]], np.uint16), np.int32).dtype == np.int32
    with pytest.raises(ValueError, match="do not fit in uint8"):
        wide.apply(np.array([[1000]], np.uint16), np.uint8)


def test_value_map_reports_unmapped_values() -> None:
    values = np.array([[0, 7, 7, 9]], np.uint16)
    expected = r"values 7 \(2 px\), 9 \(1 px\) have no entry in the value map \(it maps 0, 255\)"
    with pytest.raises(ValueError, match=expected):
        ISBI_MAP.apply(values)
    assert ISBI_MAP.unmapped_counts(values) == {7: 2, 9: 1}


def test_value_map_with_negative_and_sparse_int32_values() -> None:
    values = np.array([[-1, 5], [2**28, -1]], np.int32)
    mapped = ValueMap.from_pairs({-1: 255, 5: 1, 2**28: 2}).apply(values)
    np.testing.assert_array_equal(mapped, [[255, 1], [2, 255]])


def test_value_map_validation() -> None:
    with pytest.raises(ValueError, match="mapped twice"):
        ValueMap(((0, 1), (0, 2)))
    with pytest.raises(ValueError, match="class ids are 0 or more"):
        ValueMap.from_pairs({0: -1})
    with pytest.raises(ValueError, match="both stored as 0"):
        ValueMap.binary(0, 0)
    with pytest.raises(ValueError, match="must be integers"):
        ISBI_MAP.apply(np.zeros((2, 2), np.float32))
    assert ValueMap(((255, 0), (0, 1))).pairs == ((0, 1), (255, 0))  # sorted, so equal maps compare equal


def test_value_map_mapping_round_trip_through_toml() -> None:
    for value_map in (ISBI_MAP, ValueMap.identity(), ValueMap.from_pairs({255: 21, -1: 0}, keep_unlisted=True)):
        text = tomli_w.dumps({"value_map": value_map.to_mapping()})
        assert ValueMap.from_mapping(tomllib.loads(text)["value_map"]) == value_map
    assert ISBI_MAP.to_mapping() == {"values": {"0": 1, "255": 0}, "keep_unlisted": False}
    colours = ValueMap.from_mapping({"values": {"#ff0000": 1, "#000000": 0}})
    assert colours.as_dict() == {0xFF0000: 1, 0: 0}
    for bad, message in (
        ({"values": {"x": 1}}, "neither an integer"),
        ({"values": {"#12": 1}}, "not #rrggbb"),
        ({"values": {"1": "a"}}, "class ids are integers"),
        ({"values": [1]}, "table"),
        ({"keep_unlisted": "yes"}, "true or false"),
    ):
        with pytest.raises(ValueError, match=message):
            ValueMap.from_mapping(bad)


def test_value_map_from_label_colours_refuses_shared_colours() -> None:
    labels = LabelSet.from_names(["a", "b"], colours=[(1, 1, 1), (1, 1, 1)])
    with pytest.raises(ValueError, match="share colour #010101"):
        ValueMap.from_label_colours(labels)


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(
        st.sampled_from([np.uint8, np.uint16, np.int32]),
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=10),
        elements=st.integers(0, 255),
    ),
    targets=st.lists(st.integers(0, 400), min_size=256, max_size=256),
)
def test_value_map_matches_a_dictionary_lookup(values: np.ndarray, targets: list[int]) -> None:
    mapping = dict(enumerate(targets))
    mapped = ValueMap.from_pairs(mapping).apply(values)
    expected = np.array([mapping[int(v)] for v in values.ravel()]).reshape(values.shape)
    np.testing.assert_array_equal(mapped, expected)
    present, counts = value_counts(values)
    assert counts.sum() == values.size and set(present.tolist()) == set(np.unique(values).tolist())


# -- bad input: every problem names the file -------------------------------------------------------------------------


def test_empty_png(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    problem = _problem(read_class_mask, tmp_path / "empty.png", LabelSet.voc())
    assert str(problem) == f"{tmp_path / 'empty.png'}: file is empty (0 bytes)"


def test_truncated_real_png(shared_data: Path, tmp_path: Path) -> None:
    data = _voc_masks(shared_data)[0].read_bytes()
    (tmp_path / "half.png").write_bytes(data[: len(data) // 2])
    problem = str(_problem(read_raw_mask, tmp_path / "half.png"))
    assert problem.startswith(f"{tmp_path / 'half.png'}: image is truncated")


def test_text_file_renamed_png(tmp_path: Path) -> None:
    (tmp_path / "labels.png").write_text("background\ncat\n")
    problem = str(_problem(read_class_mask, tmp_path / "labels.png", LabelSet.voc()))
    assert problem.startswith(f"{tmp_path / 'labels.png'}: not a readable image")


def test_jpeg_cut_short(shared_data: Path, tmp_path: Path) -> None:
    data = sorted((shared_data / "voc_coco_labelme_example").rglob("*.jpg"))[0].read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    problem = str(_problem(read_raw_mask, tmp_path / "cut.jpg"))
    assert problem.startswith(f"{tmp_path / 'cut.jpg'}: image is truncated")


def test_missing_file(tmp_path: Path) -> None:
    assert str(_problem(read_raw_mask, tmp_path / "gone.png")).endswith("gone.png: file not found")


def test_values_outside_the_label_set(shared_data: Path, tmp_path: Path) -> None:
    path = sorted((shared_data / "camvid" / "trainannot").glob("*.png"))[0]
    bad = read_raw_mask(path).values.copy()
    bad[:3, :401] = 14
    bad[-1, :5] = 200
    Image.fromarray(bad).save(tmp_path / "bad.png")
    problem = str(_problem(read_class_mask, tmp_path / "bad.png", LabelSet.camvid()))
    assert problem == (
        f"{tmp_path / 'bad.png'}: values 14 (1,203 px), 200 (5 px) are outside the label set (classes 0..10, ignore 11)"
    )
    remap = ValueMap.from_pairs({14: 99}, keep_unlisted=True)
    mapped = str(_problem(read_class_mask, tmp_path / "bad.png", LabelSet.camvid(), value_map=remap))
    assert "values 99 (1,203 px), 200 (5 px)" in mapped and "after the value map" in mapped
    unmapped = str(_problem(read_class_mask, tmp_path / "bad.png", LabelSet.camvid(), value_map=ISBI_MAP))
    assert "bad.png" in unmapped and "no entry in the value map (it maps 0, 255)" in unmapped


def test_mask_of_another_size(shared_data: Path) -> None:
    path = sorted((shared_data / "camvid" / "trainannot").glob("*.png"))[0]
    problem = _problem(read_class_mask, path, LabelSet.camvid(), expected_size=(500, 375))
    assert str(problem) == f"{path}: mask is 480x360 but its image is 500x375"


# -- writing safely ---------------------------------------------------------------------------------------------------


@pytest.fixture()
def good_file(shared_data: Path, tmp_path: Path) -> tuple[Path, bytes, np.ndarray]:
    labels = LabelSet.voc()
    mask = read_class_mask(_voc_masks(shared_data)[0], labels)
    path = tmp_path / "good.png"
    write_class_mask(path, mask, labels)
    return path, path.read_bytes(), mask


def test_invalid_mask_never_touches_the_existing_file(good_file: tuple[Path, bytes, np.ndarray]) -> None:
    path, before, mask = good_file
    bad = mask.copy()
    bad[0, 0] = 42
    with pytest.raises(ValueError, match=r"value 42 \(1 px\) is outside the label set \(classes 0..20, ignore 255\)"):
        write_class_mask(path, bad, LabelSet.voc())
    with pytest.raises(ValueError, match="2-D"):
        write_class_mask(path, mask[None], LabelSet.voc())
    with pytest.raises(ValueError, match="integers"):
        write_class_mask(path, mask.astype(np.float32), LabelSet.voc())
    assert path.read_bytes() == before
    assert _leftovers(path.parent) == []


def test_encoder_failing_midway_leaves_the_existing_file(
    good_file: tuple[Path, bytes, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, before, mask = good_file

    def broken_save(self: Image.Image, fp, format=None, **params):  # type: ignore[no-untyped-def]  # noqa: A002
        fp.write(b"\x89PNG\r\n\x1a\n half a file")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_class_mask(path, np.zeros_like(mask), LabelSet.voc())
    assert path.read_bytes() == before
    assert _leftovers(path.parent) == []


def test_failed_rename_leaves_the_existing_file(
    good_file: tuple[Path, bytes, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, before, mask = good_file

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    problem = _problem(write_class_mask, path, np.zeros_like(mask), LabelSet.voc())
    assert "cannot replace the file" in str(problem) and str(path) in str(problem)
    assert path.read_bytes() == before
    assert _leftovers(path.parent) == []


def test_write_needs_an_existing_folder_and_a_png_name(tmp_path: Path) -> None:
    mask = np.zeros((2, 2), np.uint8)
    problem = _problem(write_class_mask, tmp_path / "no" / "such" / "m.png", mask, LabelSet.voc())
    assert "folder" in str(problem) and "does not exist" in str(problem)
    with pytest.raises(ValueError, match="should end in .png"):
        write_class_mask(tmp_path / "m.jpg", mask, LabelSet.voc())


def test_bool_masks_are_written_as_classes_0_and_1(tmp_path: Path) -> None:
    write_class_mask(tmp_path / "b.png", np.array([[True, False]]), LabelSet.with_count(2))
    np.testing.assert_array_equal(read_class_mask(tmp_path / "b.png", LabelSet.with_count(2)), [[1, 0]])


# -- atomic writes ---------------------------------------------------------------------------------------------------


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    write_bytes_atomic(path, b"first")
    os.chmod(path, 0o640)
    with atomic_write(path, text=True) as stream:
        stream.write("second\n")
        assert path.read_bytes() == b"first"  # nothing visible until the end
    assert path.read_text() == "second\n"
    assert os.stat(path).st_mode & 0o777 == 0o640  # permissions kept
    assert _leftovers(tmp_path) == []


def test_atomic_write_cleans_up_after_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(path) as stream:
            stream.write(b"new, partly")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_atomic_write_new_file_permissions(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "n.bin", b"x")
    assert os.stat(tmp_path / "n.bin").st_mode & 0o777 == 0o666 & ~atomic._UMASK


def test_atomic_write_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    assert "a folder of that name exists" in str(_problem(write_bytes_atomic, tmp_path / "d.png", b""))


def test_an_instance_png_segstudio_wrote_reads_as_the_classes_of_its_objects(tmp_path: Path) -> None:
    """segstudio predict writes Mask R-CNN output as instance PNGs; every reader that wants classes (scoring, the
    window, evaluate) gets the objects' classes, never their ids."""
    from segstudio.core.instances import InstanceMask
    from segstudio.io.mask_files import write_instance_mask

    ids = np.zeros((6, 8), np.uint16)
    ids[1:3, 1:4] = 7
    ids[3:5, 4:7] = 300
    write_instance_mask(tmp_path / "p.png", InstanceMask(ids, {7: 2, 300: 1}, {7: 0.9, 300: 0.4}))
    classes = read_class_mask(tmp_path / "p.png", LabelSet.with_count(3), expected_size=(8, 6))
    expected = np.zeros((6, 8), np.uint8)
    expected[1:3, 1:4] = 2
    expected[3:5, 4:7] = 1
    np.testing.assert_array_equal(classes, expected)
    with pytest.raises(FileProblem, match="p.png"):
        read_class_mask(tmp_path / "p.png", LabelSet.with_count(2))  # class 2 is outside a 2-class set
