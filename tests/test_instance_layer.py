"""Instance editing on real Penn-Fudan instance masks: every operation, undo/redo, save and reopen bit-exact, and the
live per-instance figures equal to a full recount after random edits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.core.editing import brush_stamp, eraser_stamp, flood_fill_stamp
from segstudio.core.instance_layer import PLAIN_KEYS, InstanceEditError, InstanceLayer
from segstudio.core.instance_matching import instance_overlaps, match_instances
from segstudio.core.instances import InstanceMask
from segstudio.core.live_instance_figures import LiveInstanceFigures
from segstudio.core.paint_scope import PaintScope
from segstudio.io.mask_files import read_instance_mask, read_tagged_instance_mask, write_instance_mask


@pytest.fixture
def people(shared_data: Path) -> InstanceMask:
    """The first Penn-Fudan mask (in name order) with at least three people (ids 1..n, class 1)."""
    for path in sorted((shared_data / "pennfudan" / "PedMasks").glob("*_mask.png")):
        mask = read_instance_mask(path)
        if mask.num_instances >= 3:
            return mask
    raise AssertionError("no Penn-Fudan mask with three people")


def _round_trip(layer: InstanceLayer, tmp_path: Path) -> InstanceMask:
    path = tmp_path / "saved_mask.png"
    saved = layer.snapshot()
    write_instance_mask(path, saved)
    reopened = read_tagged_instance_mask(path)
    assert reopened is not None
    assert reopened == saved
    assert np.array_equal(reopened.ids, saved.ids) and reopened.ids.dtype == saved.ids.dtype
    return reopened


def _brush(layer: InstanceLayer, start, end, radius: float, key: int, scope: PaintScope = PaintScope()) -> None:
    document = layer.document
    document.apply(brush_stamp(document.mask, start, end, radius, key, scope))


def _centre(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    index = len(rows) // 2
    return float(cols[index]), float(rows[index])


def test_starting_instances_are_kept_exactly(people: InstanceMask, tmp_path: Path) -> None:
    layer = InstanceLayer(people, background=0)
    assert layer.snapshot() == people
    assert [row.instance_id for row in layer.rows()] == list(people.instance_ids)
    assert [row.pixels for row in layer.rows()] == [int((people.ids == i).sum()) for i in people.instance_ids]
    assert np.array_equal(layer.classes, people.to_class_mask())
    assert _round_trip(layer, tmp_path) == people


def test_paint_into_an_instance_and_erase_from_it(people: InstanceMask, tmp_path: Path) -> None:
    layer = InstanceLayer(people, background=0)
    first, second = people.instance_ids[:2]
    layer.select(first)
    key = layer.paint_key(1)
    x, y = _centre(people.ids == second)
    _brush(layer, (x - 4, y), (x + 4, y), 3, key)
    expected = np.array(people.ids)
    painted = layer.pixels_of(first) & (people.ids != first)
    assert painted.any()
    expected[painted] = first
    assert np.array_equal(layer.snapshot().ids, expected)
    # Erase only from the selected instance: the other person's pixels under the eraser stay.
    document = layer.document
    scope = PaintScope(only_over=layer.key_for(first), background=0)
    document.apply(eraser_stamp(document.mask, (x - 30, y), (x + 30, y), 6, scope, 0))
    after = layer.snapshot().ids
    assert not (after[painted] == first).any()
    assert np.array_equal(after[(expected != first)], expected[(expected != first)])
    assert _round_trip(layer, tmp_path) == layer.snapshot()
    document.undo(), document.undo()
    assert layer.snapshot() == people


def test_new_instance_key_and_flood_fill(people: InstanceMask, tmp_path: Path) -> None:
    layer = InstanceLayer(people, background=0)
    new_id = layer.new_instance(1)
    assert new_id == max(people.instance_ids) + 1
    assert layer.current == new_id and not layer.has(new_id)
    _brush(layer, (3, 3), (20, 3), 2, layer.paint_key(1))
    assert layer.has(new_id) and layer.class_of(new_id) == 1
    # A second stroke of the same class goes on into the same instance.
    _brush(layer, (3, 8), (20, 8), 2, layer.paint_key(1))
    assert layer.instance_ids() == (*people.instance_ids, new_id)
    # Flood fill the background with another new instance (class 2): every background pixel 4-connected to (0, 0).
    layer.new_instance(2)
    document = layer.document
    document.apply(flood_fill_stamp(document.mask, (0, 0), layer.paint_key(2)))
    snapshot = _round_trip(layer, tmp_path)
    assert snapshot.class_of(new_id + 1) == 2
    assert np.array_equal(layer.classes, snapshot.to_class_mask())
    while document.undo() is not None:
        pass
    assert layer.snapshot() == people


def test_merge_split_delete_class_and_renumber_round_trip(people: InstanceMask, tmp_path: Path) -> None:
    layer = InstanceLayer(people, background=0)
    ids = people.instance_ids
    first, second = ids[:2]
    document = layer.document
    states: list[InstanceMask] = [layer.snapshot()]

    layer.merge(first, [second])
    merged = np.where(people.ids == second, first, people.ids)
    assert np.array_equal(layer.snapshot().ids, merged)
    states.append(_round_trip(layer, tmp_path))

    _, parts = layer.split_components(first)
    assert len(parts) >= 1  # two people apart are two components
    snapshot = layer.snapshot()
    assert set(snapshot.instance_ids) == set(ids) - {second} | set(parts)
    assert np.array_equal(snapshot.ids > 0, people.ids > 0)  # no pixel lost or gained
    states.append(_round_trip(layer, tmp_path))

    layer.set_class(first, 2)
    assert layer.class_of(first) == 2 and layer.snapshot().class_of(first) == 2
    assert np.array_equal(layer.classes[layer.pixels_of(first)], np.full(int(layer.pixels_of(first).sum()), 2))
    states.append(_round_trip(layer, tmp_path))

    layer.delete([first])
    assert not layer.has(first) and not (layer.classes[people.ids == first] != 0).any()
    states.append(_round_trip(layer, tmp_path))

    layer.renumber()
    renumbered = layer.snapshot()
    assert renumbered.instance_ids == tuple(range(1, renumbered.num_instances + 1))
    order = states[-1].instance_ids
    for number, old in enumerate(order, start=1):
        assert np.array_equal(renumbered.ids == number, states[-1].ids == old)
        assert renumbered.class_of(number) == states[-1].class_of(old)
    states.append(_round_trip(layer, tmp_path))

    # Undo walks back through every state exactly; redo walks forward again.
    for state in reversed(states[:-1]):
        document.undo()
        assert layer.snapshot() == state
    for state in states[1:]:
        document.redo()
        assert layer.snapshot() == state


def test_split_by_line_cuts_one_person_in_two(people: InstanceMask, tmp_path: Path) -> None:
    layer = InstanceLayer(people, background=0)
    target = people.instance_ids[0]
    rows, cols = np.nonzero(people.ids == target)
    middle = float((rows.min() + rows.max()) / 2)
    before = layer.pixels_of(target)
    _, parts = layer.split_by_line(target, [(cols.min() - 5.0, middle), (cols.max() + 5.0, middle)])
    assert len(parts) >= 1
    after = layer.snapshot()
    together = np.zeros_like(before)
    for instance in (target, *parts):
        together |= after.ids == instance
    assert np.array_equal(together, before)  # the line's pixels joined a part: nothing dropped
    top_half = after.ids[: int(middle) - 2][before[: int(middle) - 2]]
    bottom_half = after.ids[int(middle) + 3:][before[int(middle) + 3:]]
    assert not set(np.unique(top_half)) & set(np.unique(bottom_half))
    _round_trip(layer, tmp_path)
    with pytest.raises(InstanceEditError, match="does not cut"):
        layer.split_by_line(target, [(0.0, 0.0), (1.0, 0.0)])


def test_edits_refuse_what_they_cannot_do(people: InstanceMask) -> None:
    layer = InstanceLayer(people, background=0)
    with pytest.raises(InstanceEditError, match="no instance 99"):
        layer.delete([99])
    with pytest.raises(InstanceEditError, match="background"):
        layer.set_class(people.instance_ids[0], 0)
    with pytest.raises(InstanceEditError, match="at least two"):
        layer.merge(people.instance_ids[0], [people.instance_ids[0]])
    assert layer.snapshot() == people
    assert layer.paint_key(0) == 0  # background paints as itself, no instance
    assert layer.paint_key(1) >= PLAIN_KEYS


def test_live_figures_equal_a_full_recount_after_random_edits(people: InstanceMask) -> None:
    rng = np.random.default_rng(7)
    start = InstanceMask(people.ids, dict(people.classes), {i: float(rng.uniform(0.5, 1)) for i in people.instance_ids})
    layer = InstanceLayer(start, background=0)
    live = LiveInstanceFigures(people, layer)
    height, width = people.shape
    document = layer.document
    for step in range(60):
        action = rng.integers(0, 6)
        present = layer.instance_ids()
        if action <= 2 or not present:
            if rng.random() < 0.3:
                layer.new_instance(1)
            elif present:
                layer.select(int(rng.choice(present)))
            key = layer.paint_key(1) if rng.random() < 0.8 else 0
            a = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
            b = (a[0] + float(rng.normal(0, 20)), a[1] + float(rng.normal(0, 20)))
            with document.stroke():
                _brush(layer, a, b, float(rng.uniform(1, 12)), key)
        elif action == 3:
            document.undo()
        elif action == 4 and len(present) >= 2:
            layer.merge(int(present[0]), [int(present[-1])])
        elif action == 5:
            layer.split_components(int(rng.choice(present)))
        snapshot = layer.snapshot()
        figures = live.figures()
        if snapshot.num_instances == 0:
            assert figures.instances == ()
            continue
        expected = match_instances(people, snapshot_with_user_scores(snapshot))
        assert figures.matching == expected, f"step {step}"
        counted = instance_overlaps(people, snapshot_with_user_scores(snapshot))
        assert np.array_equal(live.overlaps().intersections, counted.intersections)
        assert [f.pixels for f in figures.instances] == counted.prediction_areas.tolist()


def snapshot_with_user_scores(snapshot: InstanceMask) -> InstanceMask:
    """The snapshot with score 1.0 for instances the user made (the live figures' rule)."""
    scores = dict(snapshot.scores or {})
    return InstanceMask(snapshot.ids, dict(snapshot.classes), {i: scores.get(i, 1.0) for i in snapshot.instance_ids})


def test_live_figures_list_matches_and_missed_objects(people: InstanceMask) -> None:
    layer = InstanceLayer(people, background=0)
    live = LiveInstanceFigures(people, layer)
    figures = live.figures()
    assert figures.matched == people.num_instances and not figures.missed
    assert all(f.iou == 1.0 and f.truth_id == f.instance_id for f in figures.instances)
    gone = people.instance_ids[0]
    layer.delete([gone])
    figures = live.figures()
    assert [m.truth_id for m in figures.missed] == [gone]
    assert figures.missed[0].pixels == int((people.ids == gone).sum())
    assert np.array_equal(live.truth_pixels(gone), people.ids == gone)
