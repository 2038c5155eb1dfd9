"""The classes of the label set: colour swatch and name, one selected (click, or keys 1..9 via the window)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from segstudio.core.labels import LabelSet


def swatch(colour: tuple[int, int, int], size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


class ClassPanel(QWidget):
    """``class_selected(int)`` when the user picks a class here; :meth:`select` sets it from elsewhere."""

    class_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.currentRowChanged.connect(self._on_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        self._labels: LabelSet | None = None

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
