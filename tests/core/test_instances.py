from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from segstudio.core.instances import InstanceMask


def _ids() -> np.ndarray:
    return np.array([[0, 1, 1], [2, 0, 3], [3, 3, 0]], dtype=np.uint8)


def test_from_ids_gives_every_instance_the_default_class() -> None:
    mask = InstanceMask.from_ids(_ids())
    assert mask.instance_ids == (1, 2, 3) and mask.num_instances == 3
    assert dict(mask.classes) == {1: 1, 2: 1, 3: 1}
    assert mask.scores is None
    np.testing.assert_array_equal(mask.to_class_mask(), (_ids() > 0).astype(np.uint8))
    assert InstanceMask.from_ids(_ids(), default_class=15).class_of(2) == 15


def test_to_class_mask_uses_each_instance_class() -> None:
    mask = InstanceMask(_ids(), {1: 15, 2: 7, 3: 300})
    classes = mask.to_class_mask(np.uint16)
    assert classes.dtype == np.uint16
    np.testing.assert_array_equal(classes, [[0, 15, 15], [7, 0, 300], [300, 300, 0]])
    with pytest.raises(ValueError, match="does not fit in uint8"):
        mask.to_class_mask(np.uint8)
    with pytest.raises(ValueError, match="integer dtype"):
        mask.to_class_mask(np.float32)


def test_classes_accept_pairs_and_are_immutable() -> None:
    mask = InstanceMask(_ids(), ((3, 2), (1, 1), (2, 1)))
    assert list(mask.classes.items()) == [(1, 1), (2, 1), (3, 2)]
    with pytest.raises(TypeError):
        mask.classes[1] = 5  # type: ignore[index]
    with pytest.raises(AttributeError):
        mask.classes = {}  # type: ignore[misc]


def test_ids_are_copied_and_read_only() -> None:
    ids = _ids()
    mask = InstanceMask.from_ids(ids)
    ids[0, 0] = 9  # the caller's array stays theirs
    assert mask.ids[0, 0] == 0
    with pytest.raises(ValueError, match="read-only"):
        mask.ids[0, 0] = 1


def test_every_instance_needs_a_class() -> None:
    with pytest.raises(ValueError, match="instances 2, 3 have no class"):
        InstanceMask(_ids(), {1: 1})


def test_extra_classes_for_erased_instances_are_kept() -> None:
    mask = InstanceMask(_ids(), {1: 1, 2: 1, 3: 1, 9: 4})
    assert mask.instance_ids == (1, 2, 3) and mask.class_of(9) == 4
    with pytest.raises(KeyError, match="no instance with id 5"):
        mask.class_of(5)


@pytest.mark.parametrize(
    ("ids", "classes", "message"),
    [
        (np.zeros((2, 2, 2), np.uint8), {}, "2-D"),
        (np.zeros((2, 2), np.float32), {}, "integers"),
        (np.zeros((2, 2), bool), {}, "integers"),
        (np.array([[0, -1]], np.int32), {}, "positive"),
        (np.array([[0, 1]]), {0: 1, 1: 1}, "0 is background"),
        (np.array([[0, 1]]), {1: -1}, "class ids are 0 or more"),
        (np.array([[0, 1]]), ((1, 1), (1, 2)), "two classes"),
        (np.array([[0, 1]]), {"a": 1}, "integer ids"),
    ],
)
def test_validation(ids: np.ndarray, classes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InstanceMask(ids, classes)


def test_scores() -> None:
    mask = InstanceMask(_ids(), {1: 1, 2: 1, 3: 2}, scores={3: 0.5, 1: 0.25})
    assert list(mask.scores.items()) == [(1, 0.25), (3, 0.5)]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="score but no class"):
        InstanceMask(_ids(), {1: 1, 2: 1, 3: 2}, scores={4: 0.1})
    with pytest.raises(ValueError, match="finite"):
        InstanceMask(_ids(), {1: 1, 2: 1, 3: 2}, scores={1: float("nan")})


def test_equality() -> None:
    a = InstanceMask(_ids(), {1: 1, 2: 1, 3: 2})
    assert a == InstanceMask(_ids().astype(np.int32), {3: 2, 2: 1, 1: 1})
    assert a != InstanceMask(_ids(), {1: 1, 2: 1, 3: 3})
    assert a != InstanceMask(_ids(), {1: 1, 2: 1, 3: 2}, scores={1: 0.5})
    assert a != "not a mask"


def test_huge_ids_do_not_build_a_huge_lookup_table() -> None:
    ids = np.array([[0, 2**30], [7, 2**30]], dtype=np.int64)
    mask = InstanceMask.from_ids(ids, default_class=3)
    assert mask.instance_ids == (7, 2**30)
    np.testing.assert_array_equal(mask.to_class_mask(), [[0, 3], [3, 3]])


def test_empty_mask() -> None:
    mask = InstanceMask.from_ids(np.zeros((0, 0), np.uint8))
    assert mask.instance_ids == () and mask.to_class_mask().shape == (0, 0)


@settings(max_examples=60, deadline=None)
@given(
    ids=hnp.arrays(np.uint16, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12), elements=st.integers(0, 40)),
    seed=st.integers(0, 2**16),
)
def test_to_class_mask_matches_a_pixel_loop(ids: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = {int(i): int(rng.integers(0, 256)) for i in np.unique(ids) if i}
    mask = InstanceMask(ids, classes)
    expected = np.array([[classes.get(int(v), 0) for v in row] for row in ids], dtype=np.uint8).reshape(ids.shape)
    np.testing.assert_array_equal(mask.to_class_mask(), expected)


def test_penn_fudan_instance_ids(shared_data: Path) -> None:
    from PIL import Image

    path = sorted((shared_data / "pennfudan" / "PedMasks").glob("*_mask.png"))[0]
    with Image.open(path) as image:
        ids = np.asarray(image)
    mask = InstanceMask.from_ids(ids)
    assert mask.instance_ids == tuple(range(1, int(ids.max()) + 1))
    np.testing.assert_array_equal(mask.to_class_mask(), (ids > 0).astype(np.uint8))
