"""The classes of the label set: colour swatch and name, one selected (click, or keys 1..9 via the window);
adding, renaming (double-click or F2) and recolouring classes; and, for instance masks, the list of instances.

Editing never mutates a :class:`LabelSet` (they are immutable): each edit builds a new one (``with_class``,
``renamed``, ``recoloured``: ids never shift) and emits ``labels_changed(LabelSet)``; the window applies it
(session, canvas palettes, project file) and calls :meth:`set_labels` back. An added class is announced first
with the value it will be stored as (``class_added``): on a data set whose ground truth is stored through a value
map (ISBI), Add asks for that value (:class:`~segstudio.ui.add_class_dialog.AddClassDialog`), from the rule the
window hands in with :meth:`set_new_class_storage`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from segstudio.app.class_edits import NewClassStorage
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import Colour, LabelSet, colour_clash
from segstudio.ui.add_class_dialog import AddClassDialog


def swatch(colour: tuple[int, int, int], size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


SHOWN_CLASS_ROWS = 12  # the class list never shrinks below this many rows (fewer when there are fewer classes)


def _compact(button: QPushButton) -> None:
    """As wide as its text needs, not the style's minimum: three buttons in a row fit the narrow Classes panel."""
    button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 18)


class _ClassList(QListWidget):
    """The class list; F2 asks to rename the current class."""

    rename_requested = Signal(int)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_F2 and self.currentRow() >= 0:
            self.rename_requested.emit(self.currentRow())
            return
        super().keyPressEvent(event)


class ClassPanel(QWidget):
    """Signals: ``class_selected(int)`` when the user picks a class here (:meth:`select` sets it from elsewhere);
    ``labels_changed(LabelSet)`` after an add, rename or recolour; ``class_added(LabelSet, stored value or
    None)`` just before an add's ``labels_changed`` (a slot that refuses the add calls :meth:`set_labels` with the
    old classes, and ``labels_changed`` is not emitted); ``instance_selected(int)`` with an instance id (0: none)
    when the user picks an instance in the instance list."""

    class_selected = Signal(int)
    labels_changed = Signal(object)
    class_added = Signal(object, object)
    instance_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = _ClassList(self)
        self.list.currentRowChanged.connect(self._on_row)
        self.list.itemDoubleClicked.connect(lambda item: self.ask_rename(self.list.row(item)))
        self.list.rename_requested.connect(self.ask_rename)
        self.add_button = QPushButton("Add", self)
        self.add_button.setToolTip("add a class at the end, in the next default colour")
        self.add_button.clicked.connect(self.ask_add)
        self.rename_button = QPushButton("Rename", self)
        self.rename_button.setToolTip("rename the selected class (F2, or double-click it)")
        self.rename_button.clicked.connect(lambda: self.ask_rename(self.selected))
        self.colour_button = QPushButton("Colour...", self)
        self.colour_button.setToolTip("change the selected class's colour")
        self.colour_button.clicked.connect(lambda: self.ask_colour(self.selected))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.add_button, self.rename_button, self.colour_button):
            _compact(button)
            buttons.addWidget(button)
        self.instances_label = QLabel("Instances", self)
        self.instances = QListWidget(self)
        self.instances.setToolTip("instances of the ground truth: id, class, pixels; select one to highlight it")
        self.instances.currentRowChanged.connect(self._on_instance_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.instances_label)
        layout.addWidget(self.instances, 1)
        self._labels: LabelSet | None = None
        self._storage: NewClassStorage | None = None
        self._instances: InstanceMask | None = None
        self.set_instances(None)

    # -- classes ---------------------------------------------------------------------------------------

    @property
    def labels(self) -> LabelSet | None:
        return self._labels

    def set_labels(self, labels: LabelSet) -> None:
        if labels == self._labels:
            return
        self._labels = labels
        current = max(0, self.list.currentRow())
        self.list.blockSignals(True)
        self.list.clear()
        for label in labels.classes:
            key = f"  [{label.id}]" if 1 <= label.id <= 9 else ""
            item = QListWidgetItem(swatch(tuple(int(v) for v in label.colour)), f"{label.id}  {label.name}{key}")
            item.setData(Qt.ItemDataRole.UserRole, label.id)
            self.list.addItem(item)
        self.list.setCurrentRow(min(current, labels.num_classes - 1))
        self.list.blockSignals(False)
        rows = min(self.list.count(), SHOWN_CLASS_ROWS)
        row_height = max(self.list.sizeHintForRow(0), 1) if rows else 0
        self.list.setMinimumHeight(rows * row_height + 2 * self.list.frameWidth())
        if self._instances is not None:
            self.set_instances(self._instances)  # class names may have changed

    @property
    def selected(self) -> int:
        return max(0, self.list.currentRow())

    def select(self, class_id: int) -> None:
        """Select ``class_id`` (ignored when out of range) and emit ``class_selected`` if it changed."""
        if 0 <= class_id < self.list.count() and class_id != self.list.currentRow():
            self.list.setCurrentRow(class_id)

    def _on_row(self, row: int) -> None:
        if row >= 0:
            self.class_selected.emit(row)

    # -- editing (no dialogs: used by the dialogs, the tests and scripts) --------------------------------

    def set_new_class_storage(self, storage: NewClassStorage | None) -> None:
        """How the next class added will be stored (from the open data set; None: class ids, nothing to ask)."""
        self._storage = storage
        asks = storage is not None and storage.needs_value
        self.add_button.setToolTip(
            "add a class at the end, in the next default colour"
            + ("; the ground truth stores values through a value map, so you pick the value it is stored as" if asks else "")
        )

    def new_class_storage(self) -> NewClassStorage | None:
        """The storage rule for the next class of the shown label set, when its ground truth needs a value."""
        storage, labels = self._storage, self._labels
        if storage is None or labels is None or not storage.needs_value:
            return None
        return storage if storage.labels == labels else None  # handed in for another label set: not this one's

    def add_class(self, name: str | None = None, colour: Colour | None = None, stored_value: int | None = None
                  ) -> LabelSet:
        """Add a class at the end (default name "class N", default colour next in the sequence) and return the
        label set shown afterwards. Where the ground truth is stored through a value map, ``stored_value`` is the
        value the class is written as (default: the proposed free value); a taken or unfitting value is a
        ``ValueError`` that says why, and nothing changes."""
        labels = self._require_labels()
        name = (name or "").strip() or f"class {labels.num_classes}"
        added = labels.with_class(name, colour)
        storage = self.new_class_storage()
        if storage is not None:
            stored_value = storage.check(storage.proposed if stored_value is None else stored_value)
        else:
            stored_value = None
        self.set_labels(added)
        self.class_added.emit(added, stored_value)
        if self._labels == added:  # not refused by a slot of class_added
            self.labels_changed.emit(added)
        return self._require_labels()

    def rename_class(self, class_id: int, name: str) -> LabelSet:
        labels = self._require_labels()
        name = name.strip()
        if not name:
            raise ValueError("a class name cannot be empty")
        return self._emit(labels.renamed(class_id, name))

    def recolour_class(self, class_id: int, colour: tuple[int, int, int]) -> LabelSet:
        """``class_id`` in ``colour``; ValueError saying why when another class (or the ignore id) has it: two
        classes of one colour could not be told apart in a colour mask, nor in the picture."""
        labels = self._require_labels()
        clash = colour_clash(labels, class_id, colour)
        if clash is not None:
            raise ValueError(clash)
        return self._emit(labels.recoloured(class_id, tuple(int(v) for v in colour)))

    def _require_labels(self) -> LabelSet:
        if self._labels is None:
            raise ValueError("no label set to edit (open a folder first)")
        return self._labels

    def _emit(self, labels: LabelSet) -> LabelSet:
        self.set_labels(labels)
        self.labels_changed.emit(labels)
        return labels

    # -- editing through dialogs (overridable hooks, so tests can answer them) ---------------------------

    def ask_add(self) -> None:
        if self._labels is None:
            return
        storage = self.new_class_storage()
        if storage is None:
            name = self._ask_name("Add class", f"class {self._labels.num_classes}")
            answer = None if name is None else (name, None)
        else:
            answer = self._ask_new_class(self._labels, storage)
        if answer is None:
            return
        before = self._labels
        try:
            added = self.add_class(answer[0], stored_value=answer[1])
        except ValueError as error:
            message = str(error)
            self._refused(message[:1].upper() + message[1:])
            return
        if added != before:
            self.select(added.num_classes - 1)

    def ask_rename(self, class_id: int) -> None:
        if self._labels is None or not 0 <= class_id < self._labels.num_classes:
            return
        name = self._ask_name("Rename class", self._labels.names[class_id])
        if name is not None and name.strip() and name.strip() != self._labels.names[class_id]:
            self.rename_class(class_id, name)

    def ask_colour(self, class_id: int) -> None:
        if self._labels is None or not 0 <= class_id < self._labels.num_classes:
            return
        colour = self._ask_colour(tuple(int(v) for v in self._labels.colours[class_id]))
        if colour is not None:
            try:
                self.recolour_class(class_id, colour)
            except ValueError as error:
                self._refused(str(error)[:1].upper() + str(error)[1:], "Class colour")

    def _ask_name(self, title: str, current: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, "Class name:", text=current)
        return text if ok else None

    def _ask_colour(self, current: tuple[int, int, int]) -> tuple[int, int, int] | None:
        colour = QColorDialog.getColor(QColor(*current), self, "Class colour")
        return (colour.red(), colour.green(), colour.blue()) if colour.isValid() else None

    def _ask_new_class(self, labels: LabelSet, storage: NewClassStorage) -> tuple[str, int] | None:
        dialog = AddClassDialog(labels, storage, self)
        return dialog.answer() if dialog.exec() == AddClassDialog.DialogCode.Accepted else None

    def _refused(self, message: str, title: str = "Add class") -> None:
        QMessageBox.warning(self, title, message)

    # -- instances -------------------------------------------------------------------------------------

    @property
    def instance_mask(self) -> InstanceMask | None:
        return self._instances

    def set_instances(self, instances: InstanceMask | None) -> None:
        """Show ``instances`` (id, class, pixel count per instance), or hide the list (None)."""
        self._instances = instances
        self.instances.blockSignals(True)
        self.instances.clear()
        shown = instances is not None
        self.instances_label.setVisible(shown)
        self.instances.setVisible(shown)
        if instances is not None:
            ids = np.asarray(instances.ids)
            present, counts = np.unique(ids[ids != 0], return_counts=True)
            names = self._labels.names if self._labels is not None else ()
            for instance_id, count in zip(present.tolist(), counts.tolist(), strict=True):
                class_id = instances.class_of(int(instance_id))
                name = names[class_id] if 0 <= class_id < len(names) else str(class_id)
                item = QListWidgetItem(f"#{instance_id}  {name}  {count} px")
                if self._labels is not None and 0 <= class_id < self._labels.num_classes:
                    item.setIcon(swatch(tuple(int(v) for v in self._labels.colours[class_id])))
                item.setData(Qt.ItemDataRole.UserRole, int(instance_id))
                self.instances.addItem(item)
            self.instances_label.setText(f"Instances ({self.instances.count()})")
        self.instances.setCurrentRow(-1)
        self.instances.blockSignals(False)

    def instance_rows(self) -> list[tuple[int, int, int]]:
        """``(instance id, class id, pixel count)`` per row of the instance list (empty when hidden)."""
        if self._instances is None:
            return []
        ids = np.asarray(self._instances.ids)
        present, counts = np.unique(ids[ids != 0], return_counts=True)
        return [(int(i), self._instances.class_of(int(i)), int(c)) for i, c in zip(present, counts, strict=True)]

    def select_instance(self, instance_id: int) -> None:
        """Select an instance by id (0: clear the selection); emits ``instance_selected``."""
        for row in range(self.instances.count()):
            if self.instances.item(row).data(Qt.ItemDataRole.UserRole) == instance_id:
                self.instances.setCurrentRow(row)
                return
        self.instances.setCurrentRow(-1)

    def _on_instance_row(self, row: int) -> None:
        item = self.instances.item(row) if row >= 0 else None
        self.instance_selected.emit(0 if item is None else int(item.data(Qt.ItemDataRole.UserRole)))
