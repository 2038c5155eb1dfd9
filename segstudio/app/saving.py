"""Saving one image's work: as its correction file or as its ground truth, with the checks that keep other work safe.

:func:`save_work` is the "save" job the window runs on a worker: it writes nothing over a file somebody else
changed since it was read (a :class:`~segstudio.io.file_state.SaveConflict` comes back as the outcome), carries an
instance sample's instances through (and asks before a save would drop some), and removes the autosave the save
covers. Qt-free: the window's :class:`~segstudio.ui.saving.SaveController` asks the user and shows the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segstudio.core.instance_carry import InstanceCarry, edited_instances
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.io.autosave import AutosaveStore
from segstudio.io.corrections import InstanceLoss, SavedWork, plan_instances, save_as_ground_truth, save_correction
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.file_state import Expected, FileState, SaveConflict


@dataclass(frozen=True, eq=False)
class SaveRequest:
    """One save: ``mask`` (a copy of the working mask at ``work.revision``) of ``sample`` as its correction, or as
    its ground truth when ``ground_truth``.

    ``expected``: the target file's state when it was read (a save over a changed file is a conflict);
    ``reference``: the instances an instance sample started from; ``store``: the autosaves to clean up.
    """

    dataset: Dataset
    sample: Sample
    mask: np.ndarray
    labels: LabelSet
    work: SavedWork
    expected: Expected
    ground_truth: bool = False
    reference: InstanceMask | None = None
    store: AutosaveStore | None = None
    allow_instance_loss: bool = False
    instances: InstanceMask | None = None  # an instance session's objects: written exactly, ``reference`` the previous


@dataclass(frozen=True)
class SaveOutcome:
    """What a save did: wrote ``path`` (now in ``state``), or found a ``conflict`` and wrote nothing."""

    key: str
    revision: int
    ground_truth: bool
    path: Path | None = None
    state: FileState | None = None
    conflict: SaveConflict | None = None
    carry: InstanceCarry | None = None  # instance samples: the instances written (or, with ``lost``, not written)
    lost: bool = False  # nothing written: the save would drop instances and the user has not agreed yet


def save_work(request: SaveRequest) -> SaveOutcome:
    """Write the request's mask; a conflict or an instance loss comes back as the outcome, nothing written."""
    key, revision, ground_truth = request.sample.key, request.work.revision, request.ground_truth
    carry = None
    try:
        if ground_truth:
            path = save_as_ground_truth(request.dataset, request.sample, request.mask, request.labels, expected=request.expected)
            if request.store is not None:
                request.store.discard_saved(key, session=request.work.session, revision=revision)
        else:
            if request.instances is not None:
                carry = edited_instances(request.reference, request.instances, request.mask,
                                         ignore_index=request.labels.ignore_index)
            else:
                carry = plan_instances(request.dataset, request.sample, request.mask, request.labels,
                                       reference=request.reference)
            path = save_correction(
                request.dataset, request.sample, request.mask, request.labels, autosave=request.store, work=request.work,
                expected=request.expected, carry=carry, allow_instance_loss=request.allow_instance_loss,
            )  # fmt: skip
    except SaveConflict as conflict:
        return SaveOutcome(key, revision, ground_truth, conflict=conflict)
    except InstanceLoss as loss:
        return SaveOutcome(key, revision, ground_truth, carry=loss.carry, lost=True)
    return SaveOutcome(key, revision, ground_truth, path, FileState.of(path), carry=carry)
