"""Applying the class panel's edits and showing instance masks, for the main window.

Kept out of ``main_window.py`` so the window only connects signals (see ``MainWindow._wire_class_editing``):

- :func:`apply_labels`: a new :class:`LabelSet` (a class added, renamed or recoloured: ids never shift) is
  written to the dataset's project file (``write_project_file`` with ``dataclasses.replace(spec, labels=...)``),
  becomes the window's dataset spec (so the next sample loads with it), relabels the open session
  (:meth:`ImageSession.relabel`) and redraws the canvas with the new palette.
- :func:`show_instances`: the shown image's instances (read with the image on the load worker, see
  ``SaveController.instances_of``) in the class panel's list, nothing read again on the GUI thread.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from segstudio.core.compositing import Palettes
from segstudio.core.labels import LabelSet
from segstudio.io.datasets import Dataset
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


def show_instances(window: Any, key: str) -> None:
    """After sample ``key`` loaded: fill (or hide) the class panel's instance list."""
    instances = window.saving.instances_of(key)  # read with the image on the worker, carried through saves
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
