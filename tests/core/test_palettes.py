"""Palettes: the error colours a label set gets (never close to a class colour) and class-table entries added for
instance shades (the blend tables themselves: test_compositing.py)."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.error_map import MARKED_KINDS, ErrorKind
from segstudio.core.labels import IGNORE_COLOUR, LabelSet, cielab
from segstudio.core.palettes import DISTINCT_DELTA_E, Palettes, error_colours_for
from segstudio.io.demo_dataset import DEMO_LABELS

CMY_CLASSES = LabelSet.from_mapping({"classes": [
    {"name": "background", "colour": "#000000"},
    {"name": "cyan thing", "colour": "#00e5ff"},
    {"name": "magenta thing", "colour": "#ff00dc"},
    {"name": "yellow thing", "colour": "#ffe600"},
]})


def drawn_colours(palettes: Palettes, labels: LabelSet) -> np.ndarray:
    top = max(labels.num_classes, (labels.ignore_index or 0) + 1)
    table = palettes.classes[:top]
    return table[table[:, 3] > 0, :3]


def nearest_delta_e(colour: np.ndarray, others: np.ndarray) -> float:
    return float(np.linalg.norm(cielab(others) - cielab(colour[None, :3])[0], axis=1).min())


@pytest.mark.parametrize("labels", [DEMO_LABELS, LabelSet.camvid(), LabelSet.voc(), LabelSet.with_count(2), CMY_CLASSES],
                         ids=["demo", "camvid", "voc", "binary", "cmy"])
def test_error_colours_stay_clear_of_every_class_colour_drawn(labels: LabelSet) -> None:
    """Issue 10: the demo's disc (red) and ring (blue) were drawn next to a magenta and a blue error colour."""
    palettes = Palettes.for_labels(labels)
    classes = drawn_colours(palettes, labels)
    marks = [palettes.errors[kind] for kind in MARKED_KINDS]
    for kind, colour in zip(MARKED_KINDS, marks, strict=True):
        assert colour[3] == 255, kind
        assert nearest_delta_e(colour, classes) >= DISTINCT_DELTA_E, (labels.names, kind, colour)
    for i, first in enumerate(marks):  # and the three marks apart from each other
        for second in marks[i + 1 :]:
            assert nearest_delta_e(first, second[None, :3]) >= DISTINCT_DELTA_E
    assert not palettes.errors[[ErrorKind.TRUE_NEGATIVE, ErrorKind.TRUE_POSITIVE, ErrorKind.IGNORED], 3].any()


def test_the_usual_colours_when_nothing_collides_and_the_choice_is_deterministic() -> None:
    colours = error_colours_for(np.zeros((0, 3), np.uint8))
    assert colours[ErrorKind.FALSE_NEGATIVE][:3] == (0, 229, 255)  # cyan: missed
    assert colours[ErrorKind.FALSE_POSITIVE][:3] == (255, 0, 220)  # magenta: extra
    assert colours[ErrorKind.WRONG_CLASS][:3] == (255, 230, 0)  # yellow: wrong class
    moved = error_colours_for(CMY_CLASSES.colours[1:])
    assert moved == error_colours_for(CMY_CLASSES.colours[1:])
    assert all(moved[kind][:3] not in {tuple(c) for c in CMY_CLASSES.colours.tolist()} for kind in MARKED_KINDS)


def test_the_ignore_colour_counts_as_a_class_colour() -> None:
    near_ignore = np.array([IGNORE_COLOUR], np.uint8)
    colours = error_colours_for(near_ignore)
    assert all(nearest_delta_e(np.array(colours[kind]), near_ignore) >= DISTINCT_DELTA_E for kind in MARKED_KINDS)


def test_with_classes_adds_entries_and_grows_the_table_when_needed() -> None:
    palettes = Palettes.for_labels(LabelSet.with_count(3))
    more = palettes.with_classes({5: (1, 2, 3, 255)})
    assert more.classes.shape == (256, 4) and tuple(more.classes[5]) == (1, 2, 3, 255)
    np.testing.assert_array_equal(more.classes[:3], palettes.classes[:3])
    np.testing.assert_array_equal(more.errors, palettes.errors)
    wide = palettes.with_classes({300: (9, 9, 9, 255)})
    assert wide.classes.shape == (65536, 4) and tuple(wide.classes[300]) == (9, 9, 9, 255)
    with pytest.raises(ValueError):
        palettes.with_classes({70000: (0, 0, 0, 255)})
