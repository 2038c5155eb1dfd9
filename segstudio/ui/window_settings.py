"""What the window remembers between runs: its geometry and panel layout, the brush size, the layers' styles,
the folders opened lately (File > Open recent) and how the image list is sorted, in the app's settings file (an
INI file in the user data folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtWidgets import QMainWindow, QTableView

from segstudio.io.project_file import user_data_dir
from segstudio.ui.canvas import Canvas
from segstudio.ui.layers import LayerController

DEFAULT_SIZE = (1400, 900)  # the first run's window size, when the screen has room for it
SCREEN_MARGIN = (40, 60)  # left free around a first-run window on a small screen (title bar, task bar)
DEFAULT_BRUSH_SIZE = 15
MAX_RECENT = 10
# saveState/restoreState: a layout saved by a build whose panels sat elsewhere is not restored, so an update's
# arrangement reaches users who never moved a panel. Bump it whenever the default arrangement changes.
LAYOUT_VERSION = 2


def app_settings() -> QSettings:
    """The app's settings file, in the user data folder (so tests with SEGSTUDIO_DATA_DIR stay isolated)."""
    return QSettings(str(user_data_dir() / "segstudio.ini"), QSettings.Format.IniFormat)


def first_run_size(available: QSize | None) -> QSize:
    """:data:`DEFAULT_SIZE`, shrunk to fit ``available`` (the screen's free area) less :data:`SCREEN_MARGIN`."""
    width, height = DEFAULT_SIZE
    if available is not None and available.width() > 0 and available.height() > 0:
        width = min(width, available.width() - SCREEN_MARGIN[0])
        height = min(height, available.height() - SCREEN_MARGIN[1])
    return QSize(max(640, width), max(480, height))


def updated_recent(folders: Sequence[Path], opened: Path, limit: int = MAX_RECENT) -> list[Path]:
    """``opened`` first, then ``folders`` without it (the same folder however it was spelt), at most ``limit``."""
    def same(a: Path, b: Path) -> bool:
        try:
            return a.resolve() == b.resolve()
        except OSError:
            return a == b

    return [opened, *(folder for folder in folders if not same(folder, opened))][:limit]


def _as_list(value: object) -> list[str]:
    """A list read back from an INI file: None, one string, or a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else []


class WindowSettings:
    """The remembered state of one window, in ``settings``."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    # -- folders -------------------------------------------------------------------------------------------

    @property
    def recent_folders(self) -> list[Path]:
        """The folders opened lately, most recent first (gone ones included: File > Open recent greys them)."""
        folders = [Path(text) for text in _as_list(self.settings.value("recent_folders"))]
        last = self.settings.value("last_folder")  # written before the list existed
        if not folders and last:
            folders = [Path(str(last))]
        return folders[:MAX_RECENT]

    @property
    def last_folder(self) -> Path | None:
        """The folder opened last (None before the first one, or when it is gone)."""
        folders = self.recent_folders
        return folders[0] if folders and folders[0].is_dir() else None

    def remember_folder(self, folder: Path) -> list[Path]:
        """Put ``folder`` first in the recent folders; returns the new list."""
        folders = updated_recent(self.recent_folders, folder)
        self.settings.setValue("recent_folders", [str(path) for path in folders])
        self.settings.setValue("last_folder", str(folder))
        return folders

    def clear_recent(self) -> None:
        self.settings.remove("recent_folders")
        self.settings.remove("last_folder")

    # -- the image list's order ----------------------------------------------------------------------------

    def restore_sort(self, view: QTableView) -> None:
        """Sort ``view`` as it was: by the column of the remembered header text (columns may move between
        versions), in the remembered order."""
        name = self.settings.value("image_list/sort_column")
        if not name:
            return
        model = view.model()
        for section in range(model.columnCount()):
            if model.headerData(section, Qt.Orientation.Horizontal) == name:
                descending = str(self.settings.value("image_list/sort_order", "ascending")) == "descending"
                view.sortByColumn(section, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
                return

    def save_sort(self, view: QTableView) -> None:
        header = view.horizontalHeader()
        section = header.sortIndicatorSection()
        name = view.model().headerData(section, Qt.Orientation.Horizontal) if 0 <= section < header.count() else None
        if not name:
            return
        self.settings.setValue("image_list/sort_column", str(name))
        descending = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        self.settings.setValue("image_list/sort_order", "descending" if descending else "ascending")

    # -- the window ----------------------------------------------------------------------------------------

    def restore(self, window: QMainWindow, canvas: Canvas, layers: LayerController, image_list: QTableView) -> bool:
        """Bring back what :meth:`save` kept; True when a saved panel layout was restored (False: a first start,
        or a layout of another version, so the window keeps its default arrangement)."""
        geometry = self.settings.value("geometry")
        if not (isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)):
            screen = window.screen()
            window.resize(first_run_size(screen.availableSize() if screen is not None else None))
        state = self.settings.value("window_state")
        restored = isinstance(state, QByteArray) and window.restoreState(state, LAYOUT_VERSION)
        canvas.set_brush_size(int(self.settings.value("brush_size", DEFAULT_BRUSH_SIZE)))
        layers.restore(self.settings)
        self.restore_sort(image_list)
        return restored

    def save(self, window: QMainWindow, canvas: Canvas, layers: LayerController, image_list: QTableView) -> None:
        self.settings.setValue("geometry", window.saveGeometry())
        self.settings.setValue("window_state", window.saveState(LAYOUT_VERSION))
        self.settings.setValue("brush_size", canvas.tools.size)
        layers.save(self.settings)
        self.save_sort(image_list)
        self.settings.sync()


__all__ = ["DEFAULT_SIZE", "LAYOUT_VERSION", "MAX_RECENT", "WindowSettings", "app_settings", "first_run_size",
           "updated_recent"]
