"""Which existing pixels an edit may overwrite: :class:`PaintScope`, the rule every editing operation applies.

A scope is a frozen value: "only over class k", "keep the classes someone annotated", and which values count as
free to overwrite (the background class and the ignore id, those that exist). The operations in
:mod:`segstudio.core.editing` apply it inside the stamp they compute, so a protected pixel is never in a stamp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segstudio.core.labels import free_values_for


@dataclass(frozen=True, slots=True)
class PaintScope:
    """Which existing pixels an edit may overwrite.

    ``only_over``: paint only where the current value is this class (e.g. "recolour class 3 only").
    ``keep_other_classes``: never overwrite a class someone annotated; only the *free* values may be painted
    over: ``background`` (the "nothing there" class, None when the label set has none, as in CamVid) and
    ``unlabelled`` (the ignore id, None when there is none). So painting class 2 fills gaps around class 5
    without eating into it, and on CamVid fills Unlabelled without eating into Sky (class 0).

    The defaults (background 0, no unlabelled value) suit a bare mask; an
    :class:`~segstudio.core.session.ImageSession` replaces both with its label set's values, so tools need not
    know them.
    """

    only_over: int | None = None
    keep_other_classes: bool = False
    background: int | None = 0
    unlabelled: int | None = None

    def __post_init__(self) -> None:
        if self.background is not None and self.background < 0:
            raise ValueError(f"background must be a class index >= 0 or None, got {self.background}")
        if self.unlabelled is not None and self.unlabelled < 0:
            raise ValueError(f"unlabelled must be a mask value >= 0 or None, got {self.unlabelled}")
        if self.only_over is not None and self.only_over < 0:
            raise ValueError(f"only_over must be a class index >= 0 or None, got {self.only_over}")

    @property
    def free_values(self) -> tuple[int, ...]:
        """What ``keep_other_classes`` lets an edit overwrite (:func:`~segstudio.core.labels.free_values_for`)."""
        return free_values_for(self.unlabelled, self.background)

    def writable(self, current: np.ndarray, value: int) -> np.ndarray:
        """Bool array: where ``current`` may become ``value`` under this scope and would actually change."""
        allowed = current != value
        if self.only_over is not None:
            allowed &= current == self.only_over
        if self.keep_other_classes:
            free = np.zeros_like(allowed)  # no free values (no background, no ignore id): every pixel is kept
            for kept in self.free_values:
                free |= current == kept
            allowed &= free  # current == value is already excluded above
        return allowed

    def allows(self, current: int, value: int) -> bool:
        """The scalar form of :meth:`writable`, for regions known to hold a single value."""
        if current == value:
            return False
        if self.only_over is not None and current != self.only_over:
            return False
        return not (self.keep_other_classes and current not in self.free_values)
