from __future__ import annotations

import cv2
import numpy as np
import pytest

from segstudio.core.labels import (
    CAMVID_CLASS_NAMES,
    IGNORE_COLOUR,
    VOC_CLASS_NAMES,
    LabelClass,
    LabelSet,
    colour_to_hex,
    default_colours,
    parse_colour,
    voc_palette,
)

# -- palettes -------------------------------------------------------------------------------------------------


def test_voc_palette_matches_the_devkit_colours() -> None:
    palette = voc_palette()
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    assert tuple(palette[0]) == (0, 0, 0)
    assert tuple(palette[1]) == (128, 0, 0)
    assert tuple(palette[15]) == (192, 128, 128)  # person
    assert tuple(palette[255]) == (224, 224, 192)  # the boundary colour
    assert len({tuple(c) for c in palette}) == 256


def test_voc_label_set() -> None:
    labels = LabelSet.voc()
    assert labels.num_classes == 21 and labels.names == VOC_CLASS_NAMES
    assert labels.ignore_index == 255 and labels.ignore_name == "boundary"
    palette = labels.palette()
    np.testing.assert_array_equal(palette[:21], voc_palette()[:21])
    assert not palette[21:255].any()  # unused entries are black
    assert tuple(palette[255]) == IGNORE_COLOUR == tuple(voc_palette()[255])  # VOC's own boundary colour


def test_camvid_label_set() -> None:
    labels = LabelSet.camvid()
    assert labels.names == CAMVID_CLASS_NAMES and labels.num_classes == 11 and labels.ignore_index == 11
    assert labels.is_valid_value(11) and not labels.is_valid_value(12)


def test_palette_lengths_and_ignore_colour() -> None:
    labels = LabelSet.from_names(["a", "b"], colours=[(1, 2, 3), (4, 5, 6)], ignore_index=9)
    table = labels.palette(16)
    assert table.shape == (16, 3)
    assert tuple(table[0]) == (1, 2, 3) and tuple(table[1]) == (4, 5, 6)
    assert tuple(table[9]) == IGNORE_COLOUR and tuple(table[5]) == (0, 0, 0)
    assert labels.palette(1).shape == (1, 3)  # ignore id beyond the table: left out


# -- default colours ------------------------------------------------------------------------------------------


def _lab(colours: np.ndarray) -> np.ndarray:
    # True CIELAB (L* 0..100) through OpenCV's float path, independent of segstudio's own helper.
    return cv2.cvtColor(colours.reshape(1, -1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)


def test_default_colours_are_distinct_for_255_classes() -> None:
    colours = default_colours(255)
    assert colours.shape == (255, 3) and colours.dtype == np.uint8
    assert len({tuple(c) for c in colours}) == 255
    lab = _lab(colours)
    distances = np.linalg.norm(lab[:, None, :] - lab[None, :, :], axis=-1)
    np.fill_diagonal(distances, np.inf)
    # Delta E 1976 above 10 is a plainly visible difference; a dozen classes stay far apart.
    assert distances.min() > 10
    assert distances[:12, :12].min() > 40


def test_default_colours_do_not_change_when_the_count_grows() -> None:
    assert tuple(default_colours(1)[0]) == (0, 0, 0)  # background is black
    np.testing.assert_array_equal(default_colours(5), default_colours(255)[:5])
    np.testing.assert_array_equal(default_colours(30), default_colours(100)[:30])
    assert default_colours(0).shape == (0, 3)
    assert default_colours(600).shape == (600, 3)  # past the sequence: repeats rather than failing


def test_default_colours_are_copies() -> None:
    first = default_colours(4)
    first[:] = 7
    assert tuple(default_colours(4)[1]) != (7, 7, 7)


def test_default_colours_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        default_colours(-1)


# -- validation -----------------------------------------------------------------------------------------------


def test_needs_a_class() -> None:
    with pytest.raises(ValueError, match="at least one class"):
        LabelSet(())


def test_ids_must_run_in_order() -> None:
    with pytest.raises(ValueError, match="run 0..N-1"):
        LabelSet((LabelClass(0, "a", (0, 0, 0)), LabelClass(2, "b", (1, 1, 1))))


def test_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="repeated: cat"):
        LabelSet.from_names(["background", "cat", "cat"])


def test_colours_must_be_bytes() -> None:
    with pytest.raises(ValueError, match="0..255"):
        LabelSet.from_names(["a"], colours=[(0, 0, 256)])


def test_ignore_id_must_not_be_a_class_id() -> None:
    with pytest.raises(ValueError, match="ignore id 1 is also the id of class 'b'"):
        LabelSet.from_names(["a", "b"], ignore_index=1)


def test_too_few_colours() -> None:
    with pytest.raises(ValueError, match="only 1 colours"):
        LabelSet.from_names(["a", "b"], colours=[(0, 0, 0)])


def test_with_count() -> None:
    labels = LabelSet.with_count(3, ignore_index=255)
    assert labels.names == ("background", "class 1", "class 2")
    with pytest.raises(ValueError, match="at least 1"):
        LabelSet.with_count(0)


def test_queries() -> None:
    labels = LabelSet.camvid()
    assert labels.id_of("Car") == 8
    with pytest.raises(KeyError, match="no class named 'car'"):
        labels.id_of("car")
    assert labels.invalid_values([0, 10, 11, 12, 255]) == [12, 255]
    assert labels.colours.shape == (11, 3)


# -- edits ------------------------------------------------------------------------------------------------------


def test_with_class_appends_in_the_next_default_colour() -> None:
    labels = LabelSet.with_count(3)
    bigger = labels.with_class("tumour")
    assert bigger.num_classes == 4 and bigger.names[-1] == "tumour" and bigger.classes[-1].id == 3
    assert bigger.classes[-1].colour == tuple(int(v) for v in default_colours(4)[-1])
    assert labels.num_classes == 3  # values: the original is unchanged
    assert labels.with_class("x", (1, 2, 3)).classes[-1].colour == (1, 2, 3)


def test_with_class_refuses_to_take_the_ignore_id() -> None:
    with pytest.raises(ValueError, match="ignore id"):
        LabelSet.camvid().with_class("Road marking")


def test_renamed_and_recoloured() -> None:
    labels = LabelSet.voc()
    renamed = labels.renamed(15, "human")
    assert renamed.names[15] == "human" and labels.names[15] == "person"
    recoloured = labels.recoloured(1, (1, 2, 3))
    assert recoloured.classes[1].colour == (1, 2, 3) and labels.classes[1].colour == (128, 0, 0)
    with pytest.raises(ValueError, match="no class with id 21"):
        labels.renamed(21, "x")
    with pytest.raises(ValueError, match="repeated: cat"):
        labels.renamed(1, "cat")
    with pytest.raises(ValueError, match="0..255"):
        labels.recoloured(0, (0, 0, 300))


# -- mappings and colours ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels", [LabelSet.voc(), LabelSet.camvid(), LabelSet.with_count(5), LabelSet.from_names(["x"])]
)
def test_mapping_round_trip(labels: LabelSet) -> None:
    assert LabelSet.from_mapping(labels.to_mapping()) == labels


def test_from_mapping_accepts_names_and_american_spelling() -> None:
    labels = LabelSet.from_mapping({"classes": ["bg", {"name": "fg", "color": [255, 0, 0]}], "ignore_index": 255})
    assert labels.names == ("bg", "fg") and labels.classes[1].colour == (255, 0, 0)
    assert labels.classes[0].colour == tuple(int(v) for v in default_colours(2)[0])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "non-empty list"),
        ({"classes": []}, "non-empty list"),
        ({"classes": [{"colour": "#000000"}]}, "entry 0"),
        ({"classes": [{"name": "a", "id": 3}]}, "id 3"),
        ({"classes": [{"name": "a", "colour": "#12345"}]}, "#rrggbb"),
        ({"classes": [{"name": "a", "colour": [1, 2]}]}, "neither"),
    ],
)
def test_from_mapping_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LabelSet.from_mapping(data)


def test_parse_and_format_colours() -> None:
    assert parse_colour("#80FF00") == (128, 255, 0)
    assert parse_colour("80ff00") == (128, 255, 0)
    assert parse_colour([1, 2, 3, 255]) == (1, 2, 3)
    assert colour_to_hex((128, 255, 0)) == "#80ff00"
    with pytest.raises(ValueError, match="0..255"):
        parse_colour([0, 0, 999])


def test_from_palette_reads_an_rgba_colour_table_image() -> None:
    table = np.zeros((1, 256, 4), dtype=np.uint8)
    table[0, :, :3] = voc_palette()
    table[0, :, 3] = 255
    labels = LabelSet.from_palette(table, 21, names=VOC_CLASS_NAMES, ignore_index=255)
    voc_colours = [tuple(int(v) for v in c) for c in voc_palette()[:21]]
    expected = LabelSet.from_names(VOC_CLASS_NAMES, colours=voc_colours, ignore_index=255)  # type: ignore[arg-type]
    assert labels == expected
    floats = LabelSet.from_palette(np.array([[0.0, 0.0, 0.0], [1.0, 0.5, 0.0]]), 2)
    assert floats.classes[1].colour == (255, 128, 0)
    with pytest.raises(ValueError, match="fewer than"):
        LabelSet.from_palette(table, 300)
    with pytest.raises(ValueError, match="3 or 4 channels"):
        LabelSet.from_palette(np.zeros((4, 2)), 2)


# -- what "nothing" is: the eraser's value and the names of values --------------------------------------------


def test_erase_value_is_the_ignore_id_else_the_background_else_none() -> None:
    import dataclasses

    assert LabelSet.camvid().erase_value == 11  # no background class: Unlabelled, never Sky (class 0)
    assert LabelSet.voc().erase_value == 255  # "not annotated" beats "annotated as background"
    assert LabelSet.with_count(3).erase_value == 0
    assert dataclasses.replace(LabelSet.with_count(3), background=2).erase_value == 2
    assert dataclasses.replace(LabelSet.with_count(3), background=None).erase_value is None
    assert LabelSet.camvid().free_values == (11,)
    assert LabelSet.voc().free_values == (0, 255)
    assert dataclasses.replace(LabelSet.with_count(3), background=None).free_values == ()


def test_name_of_names_classes_and_the_ignore_id() -> None:
    labels = LabelSet.camvid()
    assert labels.name_of(0) == "Sky" and labels.name_of(10) == "Bicyclist"
    assert labels.name_of(11) == "Unlabelled"
    assert LabelSet.voc().name_of(255) == "boundary"
    with pytest.raises(KeyError, match="12 is neither a class id"):
        labels.name_of(12)


def test_classes_coloured_like_the_ignore_id_are_found_only_when_there_is_one() -> None:
    from segstudio.core.labels import IGNORE_COLOUR, coloured_like_ignore, refuse_ignore_colour

    voc = LabelSet.voc()
    assert coloured_like_ignore(voc) == []
    refuse_ignore_colour(voc)  # VOC's classes keep clear of its boundary colour
    clashing = voc.recoloured(15, IGNORE_COLOUR)
    assert [label.name for label in coloured_like_ignore(clashing)] == [voc.classes[15].name]
    with pytest.raises(ValueError, match=r"class 'person' \(id 15\) has the colour #e0e0c0 of the ignore id 255"):
        refuse_ignore_colour(clashing)
    assert coloured_like_ignore(LabelSet.from_names(["a", "b"], colours=[(0, 0, 0), IGNORE_COLOUR])) == []
