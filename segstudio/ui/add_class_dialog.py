"""The Add class dialog for a data set whose ground truth is stored through a value map: the class's name and the
value its pixels will be stored as, with what is wrong shown as the user types (the rule is
:class:`segstudio.app.class_edits.NewClassStorage`). Data sets that store class ids ask only for a name."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from segstudio.app.class_edits import NewClassStorage
from segstudio.core.labels import LabelSet


class AddClassDialog(QDialog):
    """Asks a new class's name and stored value; OK only while both are usable (:attr:`problem_label` says why
    not). After ``exec()``, :meth:`answer` gives ``(name, stored value)``."""

    def __init__(self, labels: LabelSet, storage: NewClassStorage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add class")
        self._labels = labels
        self._storage = storage
        explanation = QLabel(storage.explain(), self)
        explanation.setWordWrap(True)
        self.name_edit = QLineEdit(f"class {labels.num_classes}", self)
        self.name_edit.selectAll()
        proposed = "" if storage.proposed is None else storage.storage.show(storage.proposed)
        self.value_edit = QLineEdit(proposed, self)
        self.value_edit.setToolTip(f"a value no class uses; the ground truth is {storage.storage.describe()}")
        taken = ", ".join(storage.storage.show(value) for value in storage.taken)
        hint = QLabel(f"{storage.storage.describe()}; taken: {taken}", self)
        hint.setWordWrap(True)
        hint.setEnabled(False)  # drawn greyed: a note, not a field
        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("Stored as:", self.value_edit)
        form.addRow("", hint)
        self.problem_label = QLabel(self)
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b00020;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert isinstance(ok, QPushButton)
        ok.setText("Add")
        self.ok_button = ok
        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addLayout(form)
        layout.addWidget(self.problem_label)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
        self.name_edit.textChanged.connect(self._refresh)
        self.value_edit.textChanged.connect(self._refresh)
        self._refresh()

    def problem(self) -> str | None:
        """What stops the class being added as typed (None: nothing)."""
        name = self.name_edit.text().strip()
        if not name:
            return "a class needs a name"
        if name in self._labels.names:
            return f"there is already a class named {name!r}"
        try:
            value = self._storage.parse(self.value_edit.text())
        except ValueError as error:
            return str(error)
        return self._storage.refusal(value)

    def answer(self) -> tuple[str, int] | None:
        """``(name, stored value)`` as typed, or None while :meth:`problem` has something to say."""
        if self.problem() is not None:
            return None
        return self.name_edit.text().strip(), self._storage.parse(self.value_edit.text())

    def _refresh(self) -> None:
        problem = self.problem()
        self.problem_label.setText(problem or "")
        self.problem_label.setVisible(problem is not None)
        self.ok_button.setEnabled(problem is None)


__all__ = ["AddClassDialog"]
