"""InstanceCandidates: resolve() against a brute-force per-pixel reference, monotone thresholds, compact storage."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.instance_candidates import InstanceCandidates, quantise


def random_soft_masks(rng: np.random.Generator, count: int, shape: tuple[int, int]) -> np.ndarray:
    """Overlapping blobs: each a soft disc (0 outside a random box), so crops are real crops."""
    height, width = shape
    masks = np.zeros((count, height, width), dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    for index in range(count):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(2, max(height, width) / 3)
        distance = np.hypot(yy - cy, xx - cx) / radius
        masks[index] = np.clip(1.0 - distance, 0, 1) * rng.uniform(0.3, 1.0)
    return masks


def brute_force(masks: np.ndarray, scores: np.ndarray, classes: np.ndarray, score_threshold: float,
                mask_threshold: float) -> tuple[np.ndarray, dict[int, int], dict[int, float]]:
    """Per pixel: the kept candidate covering it with the highest score, ties by the lower index; ids numbered by
    (descending score, index) among the candidates that own a pixel."""
    stored = quantise(masks).astype(np.int64)
    height, width = masks.shape[1:]
    kept = [i for i in range(len(scores)) if scores[i] >= np.float32(score_threshold)]
    owner = np.full((height, width), -1)
    for y in range(height):
        for x in range(width):
            best = None
            for i in kept:
                if stored[i, y, x] / 255 > mask_threshold + 1e-12 and (
                        best is None or scores[i] > scores[best] or (scores[i] == scores[best] and i < best)):
                    best = i
            if best is not None:
                owner[y, x] = best
    owning = sorted(set(owner[owner >= 0].tolist()), key=lambda i: (-scores[i], i))
    number = {old: new for new, old in enumerate(owning, start=1)}
    ids = np.zeros((height, width), dtype=np.int64)
    for old, new in number.items():
        ids[owner == old] = new
    return ids, {new: int(classes[old]) for old, new in number.items()}, \
        {new: float(scores[old]) for old, new in number.items()}


@pytest.mark.parametrize("seed", range(6))
def test_resolve_equals_a_per_pixel_reference_with_overlaps_and_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count, shape = 9, (23, 31)
    masks = random_soft_masks(rng, count, shape)
    scores = rng.choice(np.float32([0.2, 0.5, 0.7, 0.9]), size=count)  # many ties
    classes = rng.integers(1, 4, size=count)
    candidates = InstanceCandidates.from_soft_masks(masks, scores, classes)
    for score_threshold, mask_threshold in [(0.0, 0.0), (0.5, 0.5), (0.6, 0.25), (0.2, 0.8), (0.95, 0.5)]:
        resolved = candidates.resolve(score_threshold, mask_threshold)
        ids, expected_classes, expected_scores = brute_force(masks, scores, classes, score_threshold, mask_threshold)
        assert np.array_equal(resolved.ids, ids), (score_threshold, mask_threshold)
        assert dict(resolved.classes) == expected_classes
        assert dict(resolved.scores) == pytest.approx(expected_scores)
        assert resolved.instance_ids == tuple(range(1, len(expected_classes) + 1))


def test_ties_go_to_the_lower_index() -> None:
    mask = np.zeros((2, 4, 4), dtype=np.float32)
    mask[:, 1:3, 1:3] = 0.9
    resolved = InstanceCandidates.from_soft_masks(mask, [0.8, 0.8], [1, 2]).resolve(0.5, 0.5)
    assert dict(resolved.classes) == {1: 1}  # the second, fully covered by the first, owns nothing
    assert (resolved.ids[1:3, 1:3] == 1).all()


def test_raising_a_threshold_never_adds_instances_or_pixels() -> None:
    rng = np.random.default_rng(7)
    masks = random_soft_masks(rng, 30, (40, 50))
    candidates = InstanceCandidates.from_soft_masks(masks, rng.uniform(0, 1, 30), rng.integers(1, 3, 30))
    steps = np.linspace(0, 1, 21)
    for mask_threshold in (0.1, 0.5):
        counts = [candidates.resolve(s, mask_threshold).num_instances for s in steps]
        assert counts == sorted(counts, reverse=True)
        kept = [set(map(float, candidates.resolve(s, mask_threshold).scores.values())) for s in steps]
        assert all(later <= earlier for earlier, later in zip(kept, kept[1:]))
    covered = [int((candidates.resolve(0.3, m).ids > 0).sum()) for m in steps]
    assert covered == sorted(covered, reverse=True)


def test_half_down_rounding_keeps_the_default_threshold_exact() -> None:
    probabilities = np.float32([0.0, 0.4999, 0.5, np.nextafter(np.float32(0.5), np.float32(1)), 0.75, 1.0])
    assert quantise(probabilities).tolist() == [0, 127, 127, 128, 191, 255]
    masks = probabilities.reshape(1, 1, -1)
    ids = InstanceCandidates.from_soft_masks(masks, [0.9], [1]).resolve(0.5, 0.5).ids
    assert ids.tolist() == [(probabilities > 0.5).astype(int).tolist()]


def test_storage_is_cropped_to_each_mask() -> None:
    masks = np.zeros((3, 200, 300), dtype=np.float32)
    masks[0, 10:20, 30:45] = 0.8
    masks[1, 150:151, 0:300] = 0.6
    candidates = InstanceCandidates.from_soft_masks(masks, [0.9, 0.8, 0.7], [1, 1, 2])
    assert candidates.boxes.tolist() == [[10, 30, 20, 45], [150, 0, 151, 300], [0, 0, 0, 0]]
    assert [m.shape for m in candidates.masks] == [(10, 15), (1, 300), (0, 0)]
    assert candidates.nbytes < 1000
    resolved = candidates.resolve()
    assert resolved.shape == (200, 300) and dict(resolved.classes) == {1: 1, 2: 1}


def test_no_candidates_and_bad_thresholds() -> None:
    empty = InstanceCandidates.from_soft_masks(np.zeros((0, 5, 6), dtype=np.float32), [], [])
    assert len(empty) == 0
    resolved = empty.resolve(0.0, 0.0)
    assert resolved.shape == (5, 6) and resolved.num_instances == 0
    with pytest.raises(ValueError, match="score_threshold"):
        empty.resolve(1.5, 0.5)
    with pytest.raises(ValueError, match="mask_threshold"):
        empty.resolve(0.5, -0.1)
    with pytest.raises(ValueError, match="must agree"):
        InstanceCandidates.from_soft_masks(np.zeros((2, 5, 6), dtype=np.float32), [0.5], [1, 1])


def test_resolve_matches_mask_rcnn_instances_from_prediction() -> None:
    torch = pytest.importorskip("torch")
    from segstudio.models.architectures.mask_rcnn import instances_from_prediction
    from segstudio.models.predictor import candidates_from_detections

    rng = np.random.default_rng(3)
    masks = random_soft_masks(rng, 12, (37, 41))
    scores = rng.choice(np.float32([0.3, 0.55, 0.8]), size=12)
    labels = rng.integers(1, 5, size=12)
    detections = {"masks": torch.from_numpy(masks[:, None]), "scores": torch.from_numpy(scores),
                  "labels": torch.from_numpy(labels)}
    candidates = candidates_from_detections(detections)
    assert candidates is not None
    for score_threshold in (0.0, 0.5, 0.6):
        expected = instances_from_prediction(detections, score_threshold=score_threshold, mask_threshold=0.5)
        assert candidates.resolve(score_threshold, 0.5) == expected
