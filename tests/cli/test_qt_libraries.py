"""The start-up check for Qt's X11 plugin: the missing system libraries named, with the apt-get line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from segstudio.cli import EXIT_USAGE, main
from segstudio.cli import qt_libraries
from segstudio.cli.qt_libraries import (
    XCB_LIBRARIES,
    DisplayProblem,
    check_window_platform,
    missing_libraries,
)

README = Path(__file__).resolve().parents[2] / "README.md"
X11 = {"DISPLAY": ":0"}


def loader_without(*absent: str):  # noqa: ANN201
    """A stand-in for dlopen that fails, as dlopen does, for the sonames in ``absent``."""
    tried: list[str] = []

    def load(soname: str) -> object:
        tried.append(soname)
        if soname in absent:
            raise OSError(f"{soname}: cannot open shared object file: No such file or directory")
        return object()

    load.tried = tried  # type: ignore[attr-defined]
    return load


def test_names_exactly_the_missing_libraries_and_their_packages() -> None:
    load = loader_without("libxcb-icccm.so.4", "libxkbcommon-x11.so.0")
    assert [lib.package for lib in missing_libraries(load=load)] == ["libxcb-icccm4", "libxkbcommon-x11-0"]
    with pytest.raises(DisplayProblem) as problem:
        check_window_platform(X11, "linux", load)
    message = str(problem.value)
    assert "libxcb-icccm.so.4" in message and "libxkbcommon-x11.so.0" in message
    assert "sudo apt-get install libxcb-icccm4 libxkbcommon-x11-0" in message
    assert "libxcb-cursor" not in message  # Qt's own message names it whatever is missing
    assert "\n" not in message


def test_nothing_to_say_when_everything_loads() -> None:
    load = loader_without()
    assert check_window_platform(X11, "linux", load) is None
    assert load.tried == [lib.soname for lib in XCB_LIBRARIES]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("environ", "platform"), [({"QT_QPA_PLATFORM": "offscreen"}, "linux"), ({}, "win32"), ({}, "darwin")])
def test_no_check_when_qt_is_told_its_platform_or_off_linux(environ: dict[str, str], platform: str) -> None:
    load = loader_without(*(lib.soname for lib in XCB_LIBRARIES))
    assert check_window_platform(environ, platform, load) is None
    assert load.tried == []  # type: ignore[attr-defined]


def test_a_wayland_session_is_warned_not_stopped() -> None:
    warning = check_window_platform({"WAYLAND_DISPLAY": "wayland-0"}, "linux", loader_without("libxcb-cursor.so.0"))
    assert warning is not None and "libxcb-cursor.so.0" in warning and "apt-get install libxcb-cursor0" in warning


def test_no_display_at_all_says_so() -> None:
    with pytest.raises(DisplayProblem, match="xvfb-run"):
        check_window_platform({}, "linux", loader_without())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check runs on Linux only")
def test_the_command_line_stops_with_one_line_before_qt(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(qt_libraries, "load_library", loader_without("libxcb-randr.so.0"))
    assert main([]) == EXIT_USAGE
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("segstudio: error: ") and "libxcb-randr.so.0" in lines[0]
    assert lines[0].endswith("(elsewhere: the packages that provide these files)")
    assert "sudo apt-get install libxcb-randr0 " in lines[0]


def test_the_readme_installs_every_library_checked() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"sudo apt-get install ((?:[\w.+-]+\s*\\?\s*)+)", text)
    assert found is not None, "README has no apt-get install line"
    listed = set(found.group(1).replace("\\", " ").split())
    assert {lib.package for lib in XCB_LIBRARIES} <= listed
    assert "--index-url https://download.pytorch.org/whl/cpu" in text
