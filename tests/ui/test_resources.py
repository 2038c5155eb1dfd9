"""The top-level resources/ folder: every icon the window asks for exists and draws, the style sheet loads, and the
folder is found from a source checkout, an installed wheel (pip install --prefix and --target) and the PyInstaller
bundle."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray
from PySide6.QtSvg import QSvgRenderer

from segstudio.ui import resources
from segstudio.ui.actions import Command

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_lookup():
    """The folder looked up again (and its icons drawn again) in this test, and after it."""
    resources.forget()
    yield
    resources.forget()


def test_a_checkout_finds_the_top_level_resources_folder(fresh_lookup) -> None:  # noqa: ANN001
    assert resources.resources_dir() == REPO / "resources"


def test_every_icon_an_action_asks_for_exists_and_loads(qapp) -> None:  # noqa: ANN001
    wanted = {command.spec.icon for command in Command if command.spec.icon is not None}
    assert len(wanted) >= 15
    for name in sorted(wanted):
        assert resources.icon_path(name).is_file(), name
        icon = resources.icon(name)
        assert not icon.isNull(), name
        assert not icon.pixmap(20, 20).toImage().isNull(), name
    assert resources.icon("no-such-icon").isNull()


def test_every_svg_in_the_folder_is_valid_and_uses_the_palette_colour(qapp) -> None:  # noqa: ANN001
    names = resources.icon_names()
    assert names
    for name in names:
        text = resources.icon_path(name).read_text(encoding="utf-8")
        assert 'viewBox="0 0 24 24"' in text, name  # one grid, one stroke width: a consistent set
        assert "currentColor" in text, name  # drawn in the theme's text colour, readable on a dark theme too
        assert QSvgRenderer(QByteArray(text.replace("currentColor", "#000000").encode())).isValid(), name


def test_the_style_sheet_and_app_icon_load(qapp) -> None:  # noqa: ANN001
    assert "QDockWidget" in resources.style_sheet()
    assert not resources.app_icon().isNull()


def test_the_bundle_finds_its_own_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_lookup) -> None:  # noqa: ANN001
    bundled = tmp_path / "_internal" / "resources"
    shutil.copytree(REPO / "resources", bundled)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    assert resources.resources_dir() == bundled


def test_missing_resources_are_named_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_lookup) -> None:  # noqa: ANN001
    monkeypatch.setattr(resources, "_candidates", lambda: [tmp_path / "nowhere"])
    with pytest.raises(resources.ResourcesMissing, match="nowhere"):
        resources.resources_dir()
    assert resources.icon("brush").isNull() and resources.style_sheet() == ""


def test_pyproject_ships_every_resource_and_the_spec_collects_the_folder() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = config["tool"]["setuptools"]["data-files"]
    shipped = {
        path.relative_to(REPO / "resources")
        for patterns in data_files.values() for pattern in patterns for path in REPO.glob(pattern)
    }
    needed = {Path("style.qss"), Path("segstudio.png")} | {Path("icons") / f"{n}.svg" for n in resources.icon_names()}
    assert needed <= shipped
    spec = (REPO / "segstudio.spec").read_text(encoding="utf-8")
    assert 'datas.append((str(root / "resources"), "resources"))' in spec


def _wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the checkout (the build writes build/ and egg-info where it runs)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("segstudio", "resources"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(tmp_path / "wheel"), str(source)],
        capture_output=True, text=True,
    )
    if built.returncode != 0:
        pytest.skip(f"no wheel could be built here (the build backend is missing?): {built.stderr[-300:]}")
    return next((tmp_path / "wheel").glob("segstudio-*.whl"))


@pytest.mark.slow
def test_an_installed_wheel_finds_its_resources(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.endswith("data/share/segstudio/resources/icons/brush.svg") for n in names)
    assert any(n.endswith("data/share/segstudio/resources/style.qss") for n in names)
    for how in ("--prefix", "--target"):
        place = tmp_path / how.strip("-")
        # --ignore-installed: without it pip uninstalls this environment's segstudio (the checkout's editable
        # install) before installing into the other place
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--ignore-installed", "--no-deps", "--no-index",
                        how, str(place), str(wheel)], check=True, capture_output=True)
        packages = place if how == "--target" else next(place.glob("lib/python*/site-packages"))
        found = subprocess.run(
            [sys.executable, "-c", "import segstudio, segstudio.ui.resources as r; print(segstudio.__file__); "
             "print(r.resources_dir()); print(len(r.icon_names()))"],
            capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(packages), "QT_QPA_PLATFORM": "offscreen",
                                                               "PATH": "/usr/bin:/bin"},
        )
        assert found.returncode == 0, found.stderr
        module, folder, count = found.stdout.split("\n")[:3]
        assert Path(module).is_relative_to(packages)  # the installed copy, not the checkout
        assert Path(folder).resolve() == (place / "share" / "segstudio" / "resources").resolve()
        assert int(count) == len(resources.icon_names())
    still = subprocess.run([sys.executable, "-c", "import segstudio; print(segstudio.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path)
    assert still.returncode == 0 and Path(still.stdout.strip()).is_relative_to(REPO)  # this environment untouched
