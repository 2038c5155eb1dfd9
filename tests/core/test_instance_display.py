"""InstanceDisplay: each instance in its own shade of its class colour, drawn through codes past the label set's
values (issue 10: Penn-Fudan's people were one green)."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.compositing import composite
from segstudio.core.geometry import Rect
from segstudio.core.instance_display import MIN_SHADE_DELTA_E, InstanceDisplay, instance_shades
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet, cielab
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes

LABELS = LabelSet.from_names(["background", "person", "bike"], ignore_index=3)


def people() -> InstanceMask:
    ids = np.zeros((20, 30), np.uint16)
    ids[2:10, 2:8] = 1
    ids[2:10, 8:14] = 2  # touching the first
    ids[12:18, 20:28] = 7
    ids[12:18, 2:6] = 40
    return InstanceMask(ids, {1: 1, 2: 1, 7: 1, 40: 2})


def delta_e(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    lab = cielab(np.array([a, b], np.uint8))
    return float(np.linalg.norm(lab[0] - lab[1]))


@pytest.mark.parametrize("colour", [(0, 255, 0), (128, 128, 128), (230, 25, 75), (0, 130, 200), (255, 255, 255)])
def test_shades_start_at_the_class_colour_and_stay_apart(colour: tuple[int, int, int]) -> None:
    shades = instance_shades(colour, 40)
    assert shades[0] == colour
    distinct = shades.index(colour, 1)  # where the sequence starts again
    assert distinct >= 3 and shades[distinct:] == shades[: 40 - distinct]
    for i, first in enumerate(shades[:distinct]):
        for second in shades[i + 1 : distinct]:
            assert delta_e(first, second) >= MIN_SHADE_DELTA_E, (first, second)
    assert instance_shades(colour, 5) == shades[:5]


def test_codes_skip_class_ids_and_the_ignore_id_and_draw_each_instance_apart() -> None:
    instances = people()
    display = InstanceDisplay.build(instances, LABELS)
    codes = sorted(display.colours)
    assert codes == [4, 5, 6, 7]  # past classes 0..2, skipping the ignore id 3
    assert display.codes.dtype == np.uint8 and not display.codes.flags.writeable
    for instance in (1, 2, 7, 40):
        pixels = instances.ids == instance
        code = int(display.codes[pixels][0])
        assert (display.codes[pixels] == code).all() and display.instance_of[code] == instance
        assert display.class_of[code] == instances.class_of(instance)
    assert (display.codes[instances.ids == 0] == 0).all()
    assert display.instance_at(3, 3) == 1 and display.instance_at(3, 9) == 2 and display.instance_at(0, 0) == 0
    people_colours = {display.colour_of(i) for i in (1, 2, 7)}
    assert len(people_colours) == 3 and tuple(LABELS.colours[1]) in people_colours  # the class colour comes first
    assert display.colour_of(40) == tuple(LABELS.colours[2]) and display.colour_of(99) is None


def test_the_truth_and_the_working_mask_are_drawn_in_instance_shades() -> None:
    instances = people()
    display = InstanceDisplay.build(instances, LABELS)
    truth = instances.to_class_mask()
    truth[0, :] = 3  # an unlabelled row stays unlabelled
    working = truth.copy()
    working[2:10, 2:5] = 2  # part of person 1 repainted as a bike: no longer that person
    working[0:2, 20:30] = 1  # new paint outside every instance: the plain class colour
    shown_truth = display.truth_codes(truth)
    np.testing.assert_array_equal(shown_truth, np.where(display.codes != 0, display.codes, truth))
    out = np.zeros(truth.shape, dtype=display.code_dtype(working.dtype))
    display.working_codes(working, Rect.full(truth.shape), out)
    assert (out[2:10, 2:5] == 2).all() and (out[0:2, 20:30] == 1).all() and (out[0, :20] == 3).all()
    person = instances.ids == 2
    assert (out[person] == display.codes[person]).all()
    # Rewriting one rectangle after an edit gives what a full rewrite gives.
    working[12:18, 20:24] = 0
    display.working_codes(working, Rect(12, 20, 18, 24), out)
    again = np.zeros_like(out)
    display.working_codes(working, Rect.full(truth.shape), again)
    np.testing.assert_array_equal(out, again)

    palettes = Palettes.for_labels(LABELS).with_classes(display.colours)
    rgba = np.zeros((*truth.shape, 4), np.uint8)
    composite(rgba, Rect.full(truth.shape), image=None, layers=[(LayerKind.WORKING, out, LayerStyle())],
              palettes=palettes)
    assert tuple(rgba[5, 10, :3]) == display.colour_of(2) != tuple(rgba[5, 6, :3]) == display.colour_of(1)
    assert tuple(rgba[1, 25, :3]) == tuple(LABELS.colours[1])


def test_many_instances_and_sparse_ids_use_16_bit_codes() -> None:
    ids = np.arange(1, 301, dtype=np.uint32).reshape(15, 20) * 100_000
    display = InstanceDisplay.build(InstanceMask.from_ids(ids), LABELS)
    assert display.codes.dtype == np.uint16 and len(display.colours) == 300
    assert display.instance_at(14, 19) == 30_000_000
    assert display.code_dtype(np.dtype(np.uint8)) == np.uint16
