"""Help > About: what this install is made of (segstudio, Python, Qt and PySide6, PyTorch and CUDA), for bug
reports.

PyTorch is imported only when the dialog asks for its version, never at start-up (importing it takes a second).
"""

from __future__ import annotations

import html
import platform
from dataclasses import dataclass

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from segstudio import __version__
from segstudio.ui.resources import app_icon


@dataclass(frozen=True)
class Component:
    name: str
    version: str


def base_components() -> list[Component]:
    """What is known without importing PyTorch."""
    return [
        Component("segstudio", __version__),
        Component("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        Component("Qt", qVersion()),
        Component("PySide6", pyside_version),
        Component("System", f"{platform.system()} {platform.release()} {platform.machine()}".strip()),
    ]


def torch_components() -> list[Component]:
    """PyTorch, torchvision and CUDA (imports torch: call when the user asks)."""
    try:
        import torch
    except Exception as error:  # a broken install says so instead of hiding the dialog
        return [Component("PyTorch", f"not available ({type(error).__name__}: {error})")]
    found = [Component("PyTorch", torch.__version__)]
    try:
        import torchvision

        found.append(Component("torchvision", torchvision.__version__))
    except Exception as error:
        found.append(Component("torchvision", f"not available ({type(error).__name__})"))
    built = torch.version.cuda
    if torch.cuda.is_available():
        found.append(Component("CUDA", f"{built} on {torch.cuda.get_device_name(0)}"))
    else:
        found.append(Component("CUDA", f"no CUDA device (built with CUDA {built})" if built else "CPU-only build"))
    return found


def about_text(components: list[Component]) -> str:
    rows = "".join(f"<tr><td>{html.escape(c.name)}</td><td><b>{html.escape(c.version)}</b></td></tr>" for c in components)
    return (
        "<p><b>segstudio</b>: look at a segmentation model's masks against the truth, and fix them fast.</p>"
        f"<table cellspacing=3>{rows}</table>"
    )


def show_about(parent: QWidget | None = None) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About segstudio")
    box.setIconPixmap(app_icon().pixmap(64, 64))
    box.setText(about_text(base_components() + torch_components()))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copied into bug reports
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.open()
    return box


__all__ = ["Component", "about_text", "base_components", "show_about", "torch_components"]
