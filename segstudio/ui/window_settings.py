"""What the window remembers between runs: its geometry and dock layout, the brush size, the layers' opacities
and the last folder opened, in the app's settings file (an INI file in the user data folder).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from segstudio.io.project_file import user_data_dir
from segstudio.ui.canvas import Canvas
from segstudio.ui.layers import LayerController

DEFAULT_SIZE = (1400, 900)  # the first run's window size
DEFAULT_BRUSH_SIZE = 15


def app_settings() -> QSettings:
    """The app's settings file, in the user data folder (so tests with SEGSTUDIO_DATA_DIR stay isolated)."""
    return QSettings(str(user_data_dir() / "segstudio.ini"), QSettings.Format.IniFormat)


class WindowSettings:
    """The remembered state of one window, in ``settings``."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    @property
    def last_folder(self) -> Path | None:
        """The folder opened last (None before the first one, or when it is gone)."""
        last = self.settings.value("last_folder")
        return Path(str(last)) if last and Path(str(last)).is_dir() else None

    def remember_folder(self, folder: Path) -> None:
        self.settings.setValue("last_folder", str(folder))

    def restore(self, window: QMainWindow, canvas: Canvas, layers: LayerController) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            window.restoreGeometry(geometry)
        else:
            window.resize(*DEFAULT_SIZE)
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            window.restoreState(state)
        canvas.set_brush_size(int(self.settings.value("brush_size", DEFAULT_BRUSH_SIZE)))
        layers.restore(self.settings)

    def save(self, window: QMainWindow, canvas: Canvas, layers: LayerController) -> None:
        self.settings.setValue("geometry", window.saveGeometry())
        self.settings.setValue("window_state", window.saveState())
        self.settings.setValue("brush_size", canvas.tools.size)
        layers.save(self.settings)
        self.settings.sync()


__all__ = ["WindowSettings", "app_settings"]
