"""The app's own files in the repository's top-level ``resources/`` folder: the toolbar and menu icons
(``icons/<name>.svg``, drawn for segstudio), the window style sheet (``style.qss``) and the app icon.

The folder is found where each way of installing puts it:

- the PyInstaller bundle: ``<bundle>/resources`` (``segstudio.spec`` collects the folder there);
- a source checkout, editable install included: ``<checkout>/resources``, beside the ``segstudio`` package;
- an installed wheel: ``<prefix>/share/segstudio/resources`` (``[tool.setuptools.data-files]`` in pyproject.toml),
  found through the installed distribution's file list, else under the environment's, the user's or (``pip install
  --target``) the package folder's own ``share/``.

Icons are drawn in the palette's text colour where an SVG says ``currentColor``, so they stay readable on a dark
theme; their accent colours are fixed.
"""

from __future__ import annotations

import site
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

DISTRIBUTION = "segstudio"
_MARKER = Path("icons")  # a folder of that name says the resources are really there
_ICON_SIZES = (16, 20, 32)  # menus, the toolbar, larger uses; Qt scales the nearest one for other sizes


class ResourcesMissing(FileNotFoundError):
    """The resources folder is nowhere this install puts it (a broken install)."""


def _candidates() -> Iterator[Path]:
    """Where the folder may be, most likely first; lazily, as reading an installed file list takes a while."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        yield Path(bundle) / "resources"
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():  # a source checkout, not a site-packages that happens to hold one
        yield checkout / "resources"
    yield from _installed_data()
    installed = Path("share") / DISTRIBUTION / "resources"
    yield from (base / installed for base in (Path(sys.prefix), Path(site.getuserbase()), checkout))


def _installed_data() -> list[Path]:
    from importlib import metadata

    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return []
    for file in files:
        parts = file.parts
        if "resources" in parts and parts[-2:] == ("icons", file.name) and file.name.endswith(".svg"):
            return [Path(str(file.locate())).resolve().parent.parent]
    return []


@cache
def resources_dir() -> Path:
    """The resources folder of this install; :class:`ResourcesMissing` names where it was looked for."""
    candidates = []
    for candidate in _candidates():
        if (candidate / _MARKER).is_dir():
            return candidate
        candidates.append(candidate)
    looked = ", ".join(str(path) for path in candidates) or "nowhere (no bundle, checkout or installed files)"
    raise ResourcesMissing(f"segstudio's resources folder was not found; looked in {looked}. Reinstall segstudio.")


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


def icon_names() -> list[str]:
    """Every icon the resources hold, by name."""
    return sorted(path.stem for path in (resources_dir() / "icons").glob("*.svg"))


def _ink() -> QColor:
    app = QApplication.instance()
    palette = app.palette() if isinstance(app, QApplication) else QPalette()
    return palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.ButtonText)


@cache
def _icon(name: str, ink: str) -> QIcon:
    svg = icon_path(name).read_text(encoding="utf-8").replace("currentColor", ink)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        return QIcon()
    app = QApplication.instance()
    ratio = app.devicePixelRatio() if isinstance(app, QApplication) else 1.0  # sharp on a high-DPI screen
    icon = QIcon()
    for size in _ICON_SIZES:
        pixels = round(size * ratio)
        pixmap = QPixmap(QSize(pixels, pixels))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, pixels, pixels))
        painter.end()
        pixmap.setDevicePixelRatio(ratio)
        icon.addPixmap(pixmap)  # the disabled look is generated from it by the style
    return icon


def icon(name: str) -> QIcon:
    """The icon ``name`` (``resources/icons/<name>.svg``) in the palette's text colour; a null icon when the file
    is missing or not valid SVG (tests check every icon the window asks for)."""
    try:
        return _icon(name, _ink().name())
    except (ResourcesMissing, OSError):
        return QIcon()


def forget() -> None:
    """Look the folder up again on next use, and draw the icons again (for tests that move it)."""
    resources_dir.cache_clear()
    _icon.cache_clear()


def app_icon() -> QIcon:
    try:
        return QIcon(str(resources_dir() / "segstudio.png"))
    except ResourcesMissing:
        return QIcon()


def style_sheet() -> str:
    """The window's style sheet (empty when the resources are missing: the app still works, plainer)."""
    try:
        return (resources_dir() / "style.qss").read_text(encoding="utf-8")
    except (ResourcesMissing, OSError):
        return ""


__all__ = ["ResourcesMissing", "app_icon", "forget", "icon", "icon_names", "icon_path", "resources_dir", "style_sheet"]
