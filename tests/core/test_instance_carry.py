"""Instance ids carried through a class-mask edit: kept, grown, shrunk, removed, new; on real Penn-Fudan masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.core.instance_carry import carry_instances
from segstudio.core.instances import InstanceMask

TWO_PEOPLE = "FudanPed00006"  # ids 1 and 2, each about 13,000-14,000 pixels


@pytest.fixture
def people(shared_data: Path) -> InstanceMask:
    from segstudio.io.mask_files import read_instance_mask

    path = shared_data / "pennfudan" / "PedMasks" / f"{TWO_PEOPLE}_mask.png"
    if not path.is_file():
        pytest.skip(f"Penn-Fudan mask {path.name} not found")
    instances = read_instance_mask(path)
    assert instances.instance_ids == (1, 2)
    return instances


def _carry(reference: InstanceMask, working: np.ndarray, ignore_index: int | None = None):  # noqa: ANN202
    return carry_instances(reference, working, background=0, ignore_index=ignore_index)


def test_an_untouched_mask_keeps_every_id_exactly(people: InstanceMask) -> None:
    carry = _carry(people, people.to_class_mask())
    assert carry.instances == people
    assert carry.unchanged == (1, 2) and not carry.changed and not carry.removed and not carry.new
    assert not carry.loses


def test_painting_next_to_a_person_grows_that_person_and_erasing_shrinks_the_other(people: InstanceMask) -> None:
    working = people.to_class_mask()
    kernel = np.ones((3, 3), np.uint8)
    ring = cv2.dilate((people.ids == 1).astype(np.uint8), kernel, iterations=2).astype(bool)
    near_two = cv2.dilate((people.ids == 2).astype(np.uint8), kernel, iterations=4).astype(bool)
    grown = ring & (people.ids == 0) & ~near_two  # a 2-pixel rim around person 1, clear of person 2
    assert grown.any()
    working[grown] = 1
    rows2, cols2 = np.nonzero(people.ids == 2)
    erased = (people.ids == 2) & (np.arange(working.shape[0])[:, None] < int(np.median(rows2)))
    working[erased] = 0

    carry = _carry(people, working)
    ids = carry.instances.ids
    assert carry.instances.instance_ids == (1, 2) and not carry.loses
    assert np.array_equal(ids == 1, (people.ids == 1) | grown)
    assert np.array_equal(ids == 2, (people.ids == 2) & ~erased)
    assert carry.changed == (1, 2) and carry.unchanged == () and carry.new == ()


def test_a_detached_painted_region_becomes_a_new_instance(people: InstanceMask) -> None:
    working = people.to_class_mask()
    free = np.argwhere(people.ids == 0)
    y, x = (int(v) for v in free[0])
    working[y: y + 5, x: x + 5] = 1
    carry = _carry(people, working)
    assert carry.new == (3,) and carry.unchanged == (1, 2) and not carry.loses
    assert carry.instances.class_of(3) == 1
    assert int(np.count_nonzero(carry.instances.ids == 3)) == int(np.count_nonzero(people.ids[y: y + 5, x: x + 5] == 0))


def test_erasing_a_whole_person_is_reported_as_a_loss(people: InstanceMask) -> None:
    working = people.to_class_mask()
    working[people.ids == 2] = 0
    carry = _carry(people, working)
    assert carry.removed == (2,) and carry.loses
    assert "instance(s) 2 removed" in carry.describe()
    assert carry.instances.instance_ids == (1,)


def test_a_region_touching_two_people_joins_neither() -> None:
    ids = np.zeros((10, 12), np.uint8)
    ids[2:8, 1:4] = 1
    ids[2:8, 8:11] = 2
    reference = InstanceMask(ids, {1: 1, 2: 1})
    working = reference.to_class_mask()
    working[4:6, 4:8] = 1  # a bridge between them
    carry = _carry(reference, working)
    assert carry.new == (3,)
    assert np.array_equal(carry.instances.ids[4:6, 4:8], np.full((2, 4), 3))
    assert carry.unchanged == (1, 2)


def test_another_class_painted_over_a_person_leaves_that_person(people: InstanceMask) -> None:
    working = people.to_class_mask()
    working[people.ids == 1] = 2  # a class the instance is not: those pixels leave instance 1
    carry = _carry(people, working)
    assert carry.removed == (1,) and carry.new == (3,)
    assert carry.instances.class_of(3) == 2


def test_unlabelled_pixels_cannot_be_stored_and_say_so(people: InstanceMask) -> None:
    working = people.to_class_mask().astype(np.uint8)
    working[:3, :3] = 255
    carry = _carry(people, working, ignore_index=255)
    assert carry.unlabelled_pixels == 9 and carry.loses
    assert "9 unlabelled pixel(s)" in carry.describe()
    assert int(carry.instances.ids[:3, :3].max()) == 0
