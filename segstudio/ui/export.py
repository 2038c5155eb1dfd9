"""File > Export accepted masks...: the format and the folder, the export on the "export" worker with its progress in
the status bar, and an answer that says exactly what was written: "read back bit-exact", or, for a polygon format
that cannot hold every mask, how many pixels differ in which images and why. Never "done" on a mismatch."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from segstudio.app.review_export import AcceptedExport, export_accepted
from segstudio.core.progress import Progress
from segstudio.io.datasets import Dataset
from segstudio.io.exchange import ExchangeFormat
from segstudio.ui.workers import WorkerFailure, WorkerPool

EXPORT_CHANNEL = "export"
FORMAT_HINTS = {
    ExchangeFormat.PNG: "lossless: one palette PNG per image (+ instance PNGs) and labels.toml",
    ExchangeFormat.VOC: "lossless: JPEGImages/, SegmentationClass/, SegmentationObject/, class_names.txt",
    ExchangeFormat.COCO: "lossless: annotations.json with RLE masks (pycocotools)",
    ExchangeFormat.COCO_POLYGONS: "polygons: holes and one-pixel slivers may be lost (the check counts them)",
    ExchangeFormat.LABELME: "labelme JSON per image: polygons, holes drawn as background shapes",
    ExchangeFormat.YOLO: "YOLO segmentation: polygons, no holes, no ignore pixels (the check counts them)",
}


class ExportDialog(QDialog):
    """The format, the folder and whether to replace files a previous export wrote."""

    def __init__(self, accepted: int, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export accepted masks")
        self.format = QComboBox(self)
        for fmt in ExchangeFormat:
            self.format.addItem(fmt.title, fmt)
            self.format.setItemData(self.format.count() - 1, FORMAT_HINTS[fmt], 3)  # Qt.ToolTipRole
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.format.currentIndexChanged.connect(lambda _i: self.hint.setText(FORMAT_HINTS[self.format.currentData()]))
        self.hint.setText(FORMAT_HINTS[ExchangeFormat.PNG])
        self.folder = QLineEdit(str(folder), self)
        browse = QPushButton("Browse...", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.overwrite = QCheckBox("replace files an earlier export wrote there", self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(f"Export {accepted} image{'s' * (accepted != 1)}")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel(f"{accepted} accepted image{'s' * (accepted != 1)}; each export is read back and compared "
                           "with the saved masks.", self))
        form.addRow("Format", self.format)
        form.addRow("", self.hint)
        form.addRow("Folder", row)
        form.addRow("", self.overwrite)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder.text())
        if folder:
            self.folder.setText(folder)


class ExportController(QObject):
    """``finished(AcceptedExport)`` after an export; ``status(message, ms)`` for the status bar; ``failed(message)``."""

    finished = Signal(object)
    failed = Signal(str)
    status = Signal(str, int)

    def __init__(self, pool: WorkerPool, *, interactive: bool, dialog_parent: QWidget | None = None) -> None:
        super().__init__(dialog_parent)
        self._pool = pool
        self._interactive = interactive
        self._parent = dialog_parent
        self.running = False
        signals = pool.signals(EXPORT_CHANNEL)
        signals.progress.connect(self._on_progress)
        signals.finished.connect(self._on_finished)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(lambda: self._end("export cancelled"))

    def ask(self, dataset: Dataset | None, accepted: list[str]) -> None:
        """File > Export accepted masks...: the dialog, then the export."""
        if dataset is None:
            return
        if not accepted:
            self._tell("Nothing to export", "No image is accepted yet. Accept corrected images (Review > Accept and go "
                       "to next, Ctrl+Return); only accepted masks are exported.")
            return
        dialog = ExportDialog(len(accepted), dataset.project_file.parent / "segstudio-export", self._parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.export(dataset, accepted, dialog.format.currentData(), Path(dialog.folder.text()),
                    overwrite=dialog.overwrite.isChecked())

    def export(self, dataset: Dataset, accepted: list[str], fmt: ExchangeFormat, folder: Path, *,
               overwrite: bool = False) -> None:
        if self.running:
            self.status.emit("an export is running; wait for it to finish", 5000)
            return
        self.running = True
        self.status.emit(f"exporting {len(accepted)} accepted image(s) as {fmt.title} to {folder}...", 0)
        self._pool.submit(EXPORT_CHANNEL, lambda progress, cancel: export_accepted(
            dataset, accepted, fmt, folder, overwrite=overwrite, progress=progress, cancel=cancel), cancel_previous=False)

    def _on_progress(self, progress: Progress) -> None:
        what = {"read": "reading masks", "export": "writing", "check": "reading back to check"}.get(progress.stage, progress.stage)
        self.status.emit(f"export: {what} {progress.done} of {progress.total}", 0)

    def _on_finished(self, result: AcceptedExport) -> None:
        self.running = False
        lines = result.report.describe()
        if result.exact:
            self.status.emit(lines[0], 15000)
            if self._interactive:
                QMessageBox.information(self._parent, "Export checked", "\n".join(lines))
        else:
            self.status.emit(lines[0], 0)
            if self._interactive:
                box = QMessageBox(QMessageBox.Icon.Warning, "Export is not exact", lines[0], QMessageBox.StandardButton.Ok,
                                  self._parent)
                box.setInformativeText("The format cannot hold every pixel of these masks. Use palette PNG, VOC or "
                                       "COCO (RLE) for an exact copy.")
                box.setDetailedText("\n".join(lines[1:]))
                box.exec()
        self.finished.emit(result)

    def _on_failed(self, failure: WorkerFailure) -> None:
        self._end(f"export failed: {failure.message}")
        self.failed.emit(failure.message)
        self._tell("Export failed", failure.message)

    def _end(self, message: str) -> None:
        self.running = False
        self.status.emit(message, 0)

    def _tell(self, title: str, text: str) -> None:
        self.status.emit(text, 10000)
        if self._interactive:
            QMessageBox.information(self._parent, title, text)


__all__ = ["ExportController", "ExportDialog"]
