"""Which instances an image's editing starts from: :class:`InstanceSources` (the ground truth's, the model's, the
saved correction's) and :func:`starting_instances`, the rule that turns the chosen one into the instance layer's
start.

The working class mask is chosen first, by the usual rule (:func:`~segstudio.core.working_source.starting_mask`: the
correction, else the prediction, else the ground truth, else blank); the instances of that same source come with it.
Where that source has no instances (a semantic model's prediction of an instance data set) or has object pixels no
instance holds, :func:`~segstudio.core.instance_carry.carry_instances` groups the loose pixels into new instances, so
every object pixel belongs to an instance from the start and a save can keep them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segstudio.core.instance_carry import carry_instances
from segstudio.core.instance_layer import PLAIN_KEYS
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.working_source import WorkingSource


@dataclass(frozen=True, eq=False)
class InstanceSources:
    """The instance masks one image has (each may be None); their shapes are the image's."""

    truth: InstanceMask | None = None
    prediction: InstanceMask | None = None
    correction: InstanceMask | None = None

    def of(self, source: WorkingSource) -> InstanceMask | None:
        """The instances that go with a working mask started from ``source``."""
        return {
            WorkingSource.CORRECTION: self.correction,
            WorkingSource.PREDICTION: self.prediction,
            WorkingSource.GROUND_TRUTH: self.truth,
        }.get(source)


def instance_editing_problem(labels: LabelSet) -> str | None:
    """Why ``labels`` cannot be edited as instances (None: it can)."""
    if labels.background is None:
        return "the label set has no background class, which a deleted instance's pixels would take"
    if labels.num_classes > PLAIN_KEYS or (labels.ignore_index is not None and labels.ignore_index >= PLAIN_KEYS):
        return f"instance editing supports label sets whose values are below {PLAIN_KEYS}"
    return None


def starting_instances(start: InstanceMask | None, working: np.ndarray, labels: LabelSet) -> InstanceMask:
    """``start``'s instances carried onto the class mask ``working`` (see the module notes); ``start`` None: every
    object region of ``working`` becomes an instance."""
    working = np.asarray(working)
    if start is None:
        start = InstanceMask(np.zeros(working.shape, dtype=np.uint8), {})
    return carry_instances(start, working, background=labels.background, ignore_index=labels.ignore_index).instances


__all__ = ["InstanceSources", "instance_editing_problem", "starting_instances"]
