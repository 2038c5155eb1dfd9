"""Saving a corrected mask: into the project's corrections folder, atomically, never over the ground truth."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.io.autosave import AutosaveStore
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.errors import FileProblem
from segstudio.io.mask_files import write_class_mask


def save_correction(
    dataset: Dataset,
    sample: Sample,
    mask: np.ndarray,
    labels: LabelSet,
    *,
    autosave: AutosaveStore | None = None,
) -> Path:
    """Write ``mask`` as the correction of ``sample`` (a palette PNG at ``dataset.correction_path(sample)``,
    folders created as needed, replaced atomically) and then discard the sample's autosave, now redundant.
    Returns the path written.

    Refuses (:class:`FileProblem`) when that path is one of the sample's own mask files (the ground truth or a
    prediction), e.g. after a project file pointed the corrections folder at the masks: overwriting the truth
    takes an explicit choice elsewhere, never a plain save. ``autosave`` defaults to
    :meth:`AutosaveStore.for_dataset`. Invalid mask values raise ``ValueError`` before anything is written.
    """
    path = dataset.correction_path(sample)
    for source, mask_path in sample.masks.items():
        if _same_file(path, mask_path):
            raise FileProblem(
                path,
                f"is the {source!r} mask of {sample.key}, not a corrections file; set corrections_folder in "
                f"{dataset.project_file} to a folder of its own",
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileProblem(path.parent, f"cannot create the corrections folder: {exc.strerror or exc}") from exc
    write_class_mask(path, mask, labels)
    (autosave if autosave is not None else AutosaveStore.for_dataset(dataset)).discard(sample.key)
    return path


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.normcase(first.resolve()) == os.path.normcase(second.resolve())
