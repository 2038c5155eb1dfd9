"""Where "Predict all images" runs: on this machine, or handed to a Ray cluster whose address the user sets
(File > Ray cluster for Predict all...). The address is remembered between runs.

The cluster's workers need segstudio (with ``segstudio[ray]``) installed and the open folder under the same path
(a shared file system); the model goes to them through Ray's object store. Where Ray is not installed (the
desktop bundle, a plain install), setting an address says so and nothing changes.
"""

from __future__ import annotations

import importlib.util

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

SETTINGS_KEY = "cluster/address"
RAY_MISSING = ('predicting on a Ray cluster needs Ray in this install: pip install "segstudio[ray]" (the desktop '
               "bundle predicts on this machine only)")
EXPLAINED = ("Ray cluster address for \"Predict all images\": auto (this machine is one of its nodes), HOST:6379 or "
             "ray://HOST:10001.\nIts workers need segstudio[ray] installed and this folder under the same path.\n"
             "Leave empty to predict on this machine.")


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


class ClusterSetting(QObject):
    """The window's cluster address for "Predict all" (``None``: this machine). ``changed(address or None)``;
    ``status(message, ms)``."""

    changed = Signal(object)
    status = Signal(str, int)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        remembered = None if settings is None else settings.value(SETTINGS_KEY)
        self._address: str | None = str(remembered).strip() or None if remembered else None

    @property
    def address(self) -> str | None:
        return self._address

    def choose(self, parent: QWidget | None = None) -> None:
        """Ask for the address (an empty one: this machine)."""
        text, accepted = QInputDialog.getText(parent, "Ray cluster for Predict all", EXPLAINED, QLineEdit.EchoMode.Normal,
                                              self._address or "")
        if accepted:
            self.set_address(text)

    def set_address(self, text: str | None) -> bool:
        """Use ``text`` (empty or None: this machine); False, saying why, when Ray is not installed here."""
        address = (text or "").strip() or None
        if address is not None and not ray_installed():
            self.status.emit(RAY_MISSING, 12000)
            return False
        self._address = address
        if self._settings is not None:
            self._settings.setValue(SETTINGS_KEY, address or "")
        self.changed.emit(address)
        self.status.emit(f"\"Predict all images\" now runs on the Ray cluster at {address}" if address
                         else "\"Predict all images\" now runs on this machine", 8000)
        return True
