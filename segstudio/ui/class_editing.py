"""The class panel's edits applied to the open folder, and the shown image's instances in the panel.

A :class:`ClassEditingController` owns what follows a new :class:`LabelSet` from the panel (a class added, renamed
or recoloured: ids never shift): the dataset's project file is rewritten (``write_project_file`` with
``dataclasses.replace(spec, labels=...)``), the folder's dataset gets the new spec (``dataset_changed``: the window
hands it on, so the next image loads with it), the shown session is relabelled (:meth:`ImageSession.relabel`) and
the canvas redraws with the new palette. A read-only window refuses the edit and the panel shows the old classes.
An added class arrives first with the value it is stored as (``ClassPanel.class_added``): where the ground truth is
stored through a value map, the project file records that value for it (:func:`segstudio.app.class_edits.
spec_with_class`), so "Save as ground truth" can write the class and the file reads back as it; the panel is told
how the next class will be stored whenever the folder changes.

It also fills the panel's instance list when an image loads (the instances were read with the image on the load
worker, see ``SaveController.instances_of``: nothing is read again on the GUI thread), has the canvas draw each
instance in its own shade (each list row's swatch in that shade) and highlights the instance chosen there.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from segstudio.app.class_edits import new_class_storage, spec_with_class
from segstudio.core.labels import LabelSet
from segstudio.core.palettes import Palettes
from segstudio.io.datasets import Dataset
from segstudio.io.project_file import write_project_file
from segstudio.ui.canvas import Canvas
from segstudio.ui.class_panel import ClassPanel, swatch
from segstudio.ui.saving import SaveController

REFUSED_MS = 10000


class ClassEditingController(QObject):
    """Class edits and instances of one window (see the module notes).

    ``dataset_changed(Dataset)``: the open folder with its new label set (its project file is written);
    ``session_relabelled(ImageSession)``: the shown session now uses the new label set; ``status(message, ms)``:
    why an edit was refused; ``highlight_changed(mask)``: the canvas highlights this bool mask (None: nothing).
    """

    dataset_changed = Signal(object)
    session_relabelled = Signal(object)
    status = Signal(str, int)
    highlight_changed = Signal(object)

    def __init__(self, panel: ClassPanel, canvas: Canvas, saving: SaveController, parent: QObject | None = None
                 ) -> None:
        super().__init__(parent)
        self._panel = panel
        self._canvas = canvas
        self._saving = saving
        self._dataset: Dataset | None = None
        panel.class_added.connect(self.add_class)
        panel.labels_changed.connect(self.apply_labels)
        panel.instance_selected.connect(self.highlight_instance)

    def open_dataset(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._panel.set_new_class_storage(new_class_storage(dataset.spec))

    def add_class(self, labels: LabelSet, stored_value: int | None) -> None:
        """A class added in the panel: recorded in the project file, with its stored value where the ground truth
        is stored through a value map. Refused (the panel shows the old classes, ``status`` says why) in a
        read-only window or when the value cannot store it; ``labels_changed`` then follows for the session."""
        dataset = self._dataset
        if dataset is None or dataset.spec.labels == labels:
            return
        if self._saving.read_only_reason is not None:
            self._refuse("cannot add a class: read-only, this folder is open in another window", dataset)
            return
        try:
            spec = spec_with_class(dataset.spec, labels, stored_value)
            write_project_file(dataset.project_file, dataset.root, spec)
        except (OSError, ValueError) as error:
            self._refuse(f"cannot add the class: {error}", dataset)
            return
        self._dataset = replace(dataset, spec=spec)
        self.dataset_changed.emit(self._dataset)
        storage = new_class_storage(dataset.spec)
        if storage.needs_value and stored_value is not None:
            added = labels.classes[-1]
            self.status.emit(f"added class {added.id} {added.name!r}, {storage.stored_as(stored_value)} (recorded in "
                             f"{dataset.project_file.name})", 8000)

    def _refuse(self, message: str, dataset: Dataset) -> None:
        self.status.emit(message, REFUSED_MS)
        self._panel.set_labels(dataset.spec.labels)

    def apply_labels(self, labels: LabelSet) -> None:
        """Make ``labels`` the label set of the open folder (project file rewritten), the session and the canvas."""
        dataset = self._dataset
        if dataset is not None and dataset.spec.labels != labels:
            if self._saving.read_only_reason is not None:
                self.status.emit("cannot change the classes: read-only, this folder is open in another window",
                                 REFUSED_MS)
                self._panel.set_labels(dataset.spec.labels)
                return
            spec = replace(dataset.spec, labels=labels)
            write_project_file(dataset.project_file, dataset.root, spec)
            self._dataset = replace(dataset, spec=spec)
            self.dataset_changed.emit(self._dataset)
        session = self._canvas.session
        if session is not None and session.labels != labels:
            session.relabel(labels)
            self._canvas.set_palettes(Palettes.for_labels(labels, background=session.background))
            self.session_relabelled.emit(session)
        self._colour_instance_rows()  # the panel refilled its instance list with the new names

    def show_instances(self, key: str) -> None:
        """After image ``key`` loaded: fill (or hide) the panel's instance list."""
        session = self._canvas.session
        if session is not None and session.instances is not None:
            self._panel.set_instances(None)  # corrected as instances: the Instances panel lists them, editable
            return
        instances = self._saving.instances_of(key)  # read with the image on the worker, carried through saves
        if instances is not None and (session is None or instances.shape != session.shape):
            instances = None
        self._panel.set_instances(instances)
        self._canvas.set_instances(instances)
        self._colour_instance_rows()

    def _colour_instance_rows(self) -> None:
        """Each instance row's swatch in the shade the canvas draws that instance in."""
        rows = self._panel.instances
        for row in range(rows.count()):
            item = rows.item(row)
            colour = self._canvas.instance_colour(int(item.data(Qt.ItemDataRole.UserRole)))
            if colour is not None:
                item.setIcon(swatch(colour))

    def highlight_instance(self, instance_id: int) -> None:
        """Highlight instance ``instance_id`` of the panel's list on the canvas (0: none)."""
        instances = self._panel.instance_mask
        if instance_id == 0 or instances is None or self._canvas.session is None:
            highlight = None
        else:
            highlight = np.asarray(instances.ids) == instance_id
        self._canvas.set_highlight(highlight)
        self.highlight_changed.emit(highlight)


__all__ = ["ClassEditingController"]
