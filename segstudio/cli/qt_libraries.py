"""Whether the window can start on this Linux machine, checked before Qt is imported.

Qt's X11 platform plugin (``libqxcb.so``) needs some twenty system libraries that a minimal Debian or Ubuntu does
not have. When one is missing, Qt prints that it "could not load the Qt platform plugin xcb", suggests
``libxcb-cursor0`` whatever is actually missing, and aborts with a core dump. Checking the same libraries with
``dlopen`` first lets the app name exactly the missing ones and the ``apt-get`` line that installs them.

The list below is what ``ldd`` shows for ``libqxcb.so``, ``libQt6XcbQpa``, ``libQt6Gui``, ``libQt6Widgets``,
``libQt6Core`` and ``libQt6DBus`` of PySide6 6.11 on Debian 12, less the C runtime and the libraries every Debian
system has; each with the Debian/Ubuntu package that ships it (``dpkg -S``). The README's install line lists the
same packages (a test keeps them in step).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SystemLibrary:
    """A shared library by its ``soname`` and the Debian/Ubuntu package that provides it."""

    soname: str
    package: str


XCB_LIBRARIES: tuple[SystemLibrary, ...] = (
    SystemLibrary("libxcb.so.1", "libxcb1"),
    SystemLibrary("libX11.so.6", "libx11-6"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1"),
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0"),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0"),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0"),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1"),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1"),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    SystemLibrary("libGL.so.1", "libgl1"),
    SystemLibrary("libEGL.so.1", "libegl1"),
    SystemLibrary("libfontconfig.so.1", "libfontconfig1"),
    SystemLibrary("libfreetype.so.6", "libfreetype6"),
    SystemLibrary("libglib-2.0.so.0", "libglib2.0-0"),
    SystemLibrary("libdbus-1.so.3", "libdbus-1-3"),
)

Loader = Callable[[str], object]


def load_library(soname: str) -> object:
    """``dlopen`` by soname as Qt's plugin would, then from the folders a PySide6 wheel or our bundle ships
    libraries in (not on the default search path, but found by the plugin's own run path)."""
    try:
        return ctypes.CDLL(soname)
    except OSError:
        for folder in _shipped_library_folders():
            if (folder / soname).is_file():
                return ctypes.CDLL(str(folder / soname))
        raise


def _shipped_library_folders() -> list[Path]:
    folders = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        folders.append(Path(bundle))
    spec = importlib.util.find_spec("PySide6")  # finds the package without importing it (no Qt loaded)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folders.append(Path(location) / "Qt" / "lib")
    return folders


class DisplayProblem(ValueError):
    """The window cannot start here; the message says why and what to install or run instead. A ValueError, so
    the command line prints it as one ``segstudio: error:`` line."""


def missing_libraries(
    libraries: Sequence[SystemLibrary] = XCB_LIBRARIES, load: Loader | None = None
) -> tuple[SystemLibrary, ...]:
    """The libraries among ``libraries`` that ``load`` (:func:`load_library` by default) cannot load."""
    load = load_library if load is None else load
    missing = []
    for library in libraries:
        try:
            load(library.soname)
        except OSError:
            missing.append(library)
    return tuple(missing)


def apt_command(libraries: Sequence[SystemLibrary]) -> str:
    """``sudo apt-get install <their packages>``, each package once, in the order given."""
    return "sudo apt-get install " + " ".join(dict.fromkeys(library.package for library in libraries))


def describe_missing(missing: Sequence[SystemLibrary]) -> str:
    """One line: which libraries Qt's X11 plugin lacks and the command that installs them."""
    names = ", ".join(library.soname for library in missing)
    return (
        f"Qt's X11 (xcb) platform plugin cannot load: missing {names}. On Debian/Ubuntu: {apt_command(missing)} "
        "(elsewhere: the packages that provide these files)"
    )


def check_window_platform(
    environ: Mapping[str, str] | None = None, platform: str | None = None, load: Loader | None = None
) -> str | None:
    """Before Qt loads: whether the window can start. Raises :class:`DisplayProblem` when it cannot (Qt would
    abort); returns a warning to print when Qt may still start another way (a Wayland session); None when
    nothing is wrong or Qt was told which platform to use (``QT_QPA_PLATFORM``: offscreen, wayland ...).
    Linux only: Windows and macOS ship what Qt needs."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM"):
        return None
    wayland = bool(environ.get("WAYLAND_DISPLAY"))
    if not environ.get("DISPLAY") and not wayland:
        raise DisplayProblem(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set): run it in a desktop "
            "session, over ssh -X, or with no screen at all under xvfb-run segstudio"
        )
    missing = missing_libraries(load=load)
    if not missing:
        return None
    if wayland:
        return f"segstudio: warning: {describe_missing(missing)}; trying Wayland"
    raise DisplayProblem(describe_missing(missing))


__all__ = [
    "XCB_LIBRARIES",
    "DisplayProblem",
    "SystemLibrary",
    "apt_command",
    "check_window_platform",
    "describe_missing",
    "load_library",
    "missing_libraries",
]
