"""Help > About: the versions a bug report needs (segstudio, Python, Qt, PySide6, PyTorch, CUDA), with PyTorch
imported only when the dialog opens."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMainWindow, QMessageBox

from segstudio import __version__
from segstudio.ui.about import about_text, base_components, show_about, torch_components


def test_the_versions_without_torch_are_known_at_once() -> None:
    names = {c.name: c.version for c in base_components()}
    assert names["segstudio"] == __version__
    assert names["Python"].startswith(platform.python_version())
    assert names["Qt"] == qVersion() and names["PySide6"] == pyside_version


def test_torch_and_cuda_are_named() -> None:
    torch = pytest.importorskip("torch")
    names = {c.name: c.version for c in torch_components()}
    assert names["PyTorch"] == torch.__version__
    assert "CUDA" in names
    if not torch.cuda.is_available():
        assert "no CUDA device" in names["CUDA"] or names["CUDA"] == "CPU-only build"


def test_importing_the_about_dialog_does_not_import_torch() -> None:
    code = "import sys, segstudio.ui.about, segstudio.ui.actions; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_dialog_shows_every_version(qtbot) -> None:  # noqa: ANN001
    host = QMainWindow()
    qtbot.addWidget(host)
    box = show_about(host)
    assert isinstance(box, QMessageBox) and box.isVisible()
    for component in base_components():
        assert component.version.split(" ")[0] in box.text()
    assert "PyTorch" in box.text()
    box.close()
    assert "&lt;" in about_text([type(base_components()[0])("x", "<b>")])  # versions are escaped, not markup
