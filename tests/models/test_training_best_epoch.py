"""Which epoch's weights a training run keeps as its best checkpoint."""

from __future__ import annotations

from segstudio.models.training.runner import keeps_best


def test_the_first_epoch_is_kept_and_a_better_one_replaces_it() -> None:
    assert keeps_best(0.30, None)
    assert keeps_best(0.35, 0.30) and not keeps_best(0.25, 0.30)


def test_a_tie_keeps_the_later_longer_trained_epoch() -> None:
    """Mask R-CNN on Penn-Fudan validated as all background (mean IoU 0.412) every epoch; epoch 1 must not win."""
    assert keeps_best(0.412, 0.412)
    assert keeps_best(-1.0, -1.0)  # n/a every epoch (no class scored): the latest weights
