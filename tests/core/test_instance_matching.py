"""Per-image matching of predicted to ground-truth instances: COCOeval's greedy rule on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.instance_matching import greedy_match, instance_overlaps, match_instances
from segstudio.core.instances import InstanceMask


def _mask(shape: tuple[int, int], boxes: dict[int, tuple[int, int, int, int]], classes: dict[int, int] | None = None,
          scores: dict[int, float] | None = None) -> InstanceMask:
    ids = np.zeros(shape, dtype=np.uint16)
    for instance, (top, left, bottom, right) in boxes.items():
        ids[top:bottom, left:right] = instance
    return InstanceMask(ids, classes or {i: 1 for i in boxes}, scores)


def test_overlaps_count_every_intersection_in_one_pass() -> None:
    truth = _mask((10, 10), {3: (0, 0, 4, 4), 7: (5, 5, 10, 10)})
    prediction = _mask((10, 10), {2: (0, 0, 4, 2), 9: (4, 4, 10, 10)}, scores={2: 0.5, 9: 0.9})
    overlaps = instance_overlaps(truth, prediction)
    assert overlaps.truth_ids.tolist() == [3, 7] and overlaps.prediction_ids.tolist() == [2, 9]
    assert overlaps.intersections.tolist() == [[8, 0], [0, 25]]
    assert overlaps.truth_areas.tolist() == [16, 25] and overlaps.prediction_areas.tolist() == [8, 36]
    np.testing.assert_allclose(overlaps.ious(), [[0.5, 0.0], [0.0, 25 / 36]])


def test_iou_equals_pycocotools() -> None:
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    truth = InstanceMask(rng.integers(0, 5, (40, 30)).astype(np.uint8), {i: 1 for i in range(1, 5)})
    prediction = InstanceMask(rng.integers(0, 4, (40, 30)).astype(np.uint8), {i: 1 for i in range(1, 4)})
    encode = lambda m, i: mask_utils.encode(np.asfortranarray(m.ids == i, dtype=np.uint8))  # noqa: E731
    expected = mask_utils.iou([encode(prediction, i) for i in range(1, 4)], [encode(truth, i) for i in range(1, 5)], [0] * 4)
    assert np.array_equal(instance_overlaps(truth, prediction).ious(), expected)


def test_higher_score_matches_first_even_at_a_lower_iou() -> None:
    truth = _mask((10, 20), {1: (0, 0, 10, 10)})
    prediction = _mask((10, 20), {1: (0, 0, 10, 6), 2: (0, 6, 10, 10)}, scores={1: 0.4, 2: 0.9})  # IoU 0.6 and 0.4
    matching = match_instances(truth, prediction, threshold=0.3)
    assert [(m.prediction_id, m.truth_id) for m in matching.matches] == [(2, 1)]
    assert matching.matches[0].iou == pytest.approx(0.4)
    assert matching.unmatched_predictions == (1,) and matching.unmatched_best_ious == (pytest.approx(0.6),)
    assert matching.missed_truths == ()


def test_equal_scores_keep_instance_id_order() -> None:
    truth = _mask((10, 20), {1: (0, 0, 10, 10)})
    prediction = _mask((10, 20), {5: (0, 0, 10, 6), 4: (0, 6, 10, 10)}, scores={4: 0.5, 5: 0.5})  # IoU 0.6, 0.4
    matching = match_instances(truth, prediction, threshold=0.3)
    assert matching.matches[0].prediction_id == 4  # the lower id goes first, though 5 overlaps more


def test_prediction_over_two_objects_takes_the_better_and_leaves_the_other_missed() -> None:
    truth = _mask((10, 20), {1: (0, 0, 10, 9), 2: (0, 9, 10, 20)})
    prediction = _mask((10, 20), {1: (0, 0, 10, 16)}, scores={1: 0.8})  # 90/160 with 1 and 70/200 with 2
    matching = match_instances(truth, prediction)
    assert [(m.prediction_id, m.truth_id) for m in matching.matches] == [(1, 1)]
    assert matching.missed_truths == (2,)


def test_equal_ious_go_to_the_later_truth_as_in_cocoeval() -> None:
    truth = _mask((10, 20), {1: (0, 0, 10, 10), 2: (0, 10, 10, 20)})
    prediction = _mask((10, 20), {1: (0, 5, 10, 15)}, scores={1: 1.0})  # IoU 1/3 with both
    assert match_instances(truth, prediction, threshold=0.3).matches[0].truth_id == 2
    assert greedy_match(np.array([[0.6, 0.6, 0.2]]), np.array([0.5])).tolist() == [[1]]


def test_threshold_is_inclusive_and_a_matched_truth_is_taken() -> None:
    ious = np.array([[0.5, 0.7], [0.7, 0.4], [0.9, 0.2]])
    assert greedy_match(ious, np.array([0.5, 0.75])).tolist() == [[1, 0, -1], [-1, -1, 0]]


def test_only_the_same_class_matches() -> None:
    truth = _mask((10, 10), {1: (0, 0, 10, 10)}, {1: 2})
    prediction = _mask((10, 10), {1: (0, 0, 10, 10)}, {1: 3}, {1: 0.9})
    matching = match_instances(truth, prediction)
    assert matching.matches == () and matching.unmatched_predictions == (1,) and matching.missed_truths == (1,)
    assert matching.unmatched_best_ious == (0.0,)


def test_max_detections_leaves_the_lowest_scored_unmatched() -> None:
    truth = _mask((10, 30), {1: (0, 0, 10, 10), 2: (0, 10, 10, 20)})
    prediction = _mask((10, 30), {1: (0, 0, 10, 10), 2: (0, 10, 10, 20)}, scores={1: 0.2, 2: 0.7})
    matching = match_instances(truth, prediction, max_detections=1)
    assert [m.prediction_id for m in matching.matches] == [2] and matching.unmatched_predictions == (1,)
    assert matching.missed_truths == (1,)


def test_unscored_counts_as_one_and_partial_scores_are_refused() -> None:
    truth = _mask((10, 10), {1: (0, 0, 5, 5)})
    assert match_instances(truth, _mask((10, 10), {1: (0, 0, 5, 5)})).matches[0].score == 1.0
    partial = _mask((10, 10), {1: (0, 0, 5, 5), 2: (6, 6, 9, 9)}, scores={1: 0.5})
    with pytest.raises(ValueError, match="no score"):
        match_instances(truth, partial)
    with pytest.raises(ValueError, match="prediction is 4x4"):
        match_instances(truth, _mask((4, 4), {}))


def test_large_ids_are_compacted() -> None:
    ids = np.zeros((6, 6), dtype=np.uint32)
    ids[:3, :3] = 70_000_000
    ids[3:, 3:] = 5
    truth = InstanceMask(ids, {70_000_000: 1, 5: 1})
    overlaps = instance_overlaps(truth, truth)
    assert overlaps.truth_ids.tolist() == [5, 70_000_000] and overlaps.intersections.tolist() == [[9, 0], [0, 9]]
