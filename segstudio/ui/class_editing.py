"""Applying the class panel's edits and showing instance masks, for the main window.

Kept out of ``main_window.py`` so the window only connects signals (see ``MainWindow._wire_class_editing``):

- :func:`apply_labels`: a new :class:`LabelSet` (a class added, renamed or recoloured: ids never shift) is
  written to the dataset's project file (``write_project_file`` with ``dataclasses.replace(spec, labels=...)``),
  becomes the window's dataset spec (so the next sample loads with it), relabels the open session
  (:meth:`ImageSession.relabel`) and redraws the canvas with the new palette.
- :func:`instance_mask_for`: the sample's ground truth read as an :class:`InstanceMask` when its source is an
  instance mask (Penn-Fudan's ``PedMasks``), else None. Read on the GUI thread: instance masks are small PNGs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from segstudio.core.compositing import Palettes
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.io.dataset_spec import MaskKind
from segstudio.io.datasets import Dataset
from segstudio.io.errors import FileProblem
from segstudio.io.mask_files import read_instance_mask
from segstudio.io.project_file import write_project_file


def apply_labels(window: Any, labels: LabelSet) -> None:
    """Make ``labels`` the label set of ``window``'s dataset (project file rewritten), session and canvas."""
    dataset: Dataset | None = window.dataset
    if dataset is not None and dataset.spec.labels != labels and window.saving.read_only_reason is not None:
        window.statusBar().showMessage("cannot change the classes: read-only, this folder is open in another window", 10000)
        window.class_panel.set_labels(dataset.spec.labels)
        return
    if dataset is not None and dataset.spec.labels != labels:
        spec = replace(dataset.spec, labels=labels)
        write_project_file(dataset.project_file, dataset.root, spec)
        window.dataset = replace(dataset, spec=spec)
        window.saving.relabelled(window.dataset)
        window.scores.open_dataset(window.dataset)  # counts of another class count start again
    session = window.canvas.session
    if session is not None and session.labels != labels:
        session.relabel(labels)
        window.canvas.set_palettes(Palettes.for_labels(labels, background=session.background))
        window.metrics_panel.set_session(session)


def instance_mask_for(dataset: Dataset | None, key: str | None) -> InstanceMask | None:
    """The ground truth of sample ``key`` as instances, when its mask source is an instance mask."""
    if dataset is None or key is None:
        return None
    sample = dataset.sample(key)
    source = dataset.ground_truth_source(sample)
    path = dataset.ground_truth(sample)
    if source is None or path is None or source.kind is not MaskKind.INSTANCE:
        return None
    try:
        return read_instance_mask(path)
    except FileProblem:
        return None


def show_instances(window: Any, key: str) -> None:
    """After sample ``key`` loaded: fill (or hide) the class panel's instance list."""
    instances = instance_mask_for(window.dataset, key)
    session = window.canvas.session
    if instances is not None and (session is None or instances.shape != session.shape):
        instances = None
    window.class_panel.set_instances(instances)


def highlight_instance(window: Any, instance_id: int) -> None:
    """Highlight instance ``instance_id`` on the canvas (0: none)."""
    instances = window.class_panel.instance_mask
    if instance_id == 0 or instances is None or window.canvas.session is None:
        window.canvas.set_highlight(None)
        return
    window.canvas.set_highlight(np.asarray(instances.ids) == instance_id)
