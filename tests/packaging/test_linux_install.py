"""The Linux archive's installer: copies the bundle, links the command, installs the menu entry and icon, and
uninstalls. (The bundle itself is built and self-tested by .ci/run.)"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "resources"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux installer")


def _archive(tmp_path: Path) -> Path:
    """What the README's tar command packs, with a stand-in bundle."""
    unpacked = tmp_path / "unpacked"
    (unpacked / "segstudio" / "_internal").mkdir(parents=True)
    executable = unpacked / "segstudio" / "segstudio"
    executable.write_text("#!/bin/sh\necho segstudio stand-in\n")
    executable.chmod(0o755)
    for name in ("segstudio.desktop", "segstudio.png", "install-linux.sh"):
        shutil.copy(RESOURCES / name, unpacked / name)
    return unpacked


def test_install_and_uninstall_for_one_user(tmp_path: Path) -> None:
    unpacked = _archive(tmp_path)
    prefix = tmp_path / "home" / ".local"
    environment = dict(os.environ, PREFIX=str(prefix))
    result = subprocess.run(["sh", str(unpacked / "install-linux.sh")], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    target = prefix / "opt" / "segstudio" / "segstudio"
    assert target.is_file() and os.access(target, os.X_OK)
    linked = prefix / "bin" / "segstudio"
    assert linked.is_symlink() and linked.resolve() == target.resolve()
    assert subprocess.run([str(linked)], capture_output=True, text=True).stdout.strip() == "segstudio stand-in"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(prefix / "share" / "applications" / "segstudio.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"] == f"{target} %f" and desktop["Icon"] == "segstudio" and desktop["Type"] == "Application"
    assert (prefix / "share" / "icons" / "hicolor" / "512x512" / "apps" / "segstudio.png").is_file()

    again = subprocess.run(["sh", str(unpacked / "install-linux.sh")], capture_output=True, text=True, env=environment)
    assert again.returncode == 0  # reinstalling over an install works

    removed = subprocess.run(["sh", str(unpacked / "install-linux.sh"), "--uninstall"], capture_output=True, text=True,
                             env=environment)
    assert removed.returncode == 0
    assert not (prefix / "opt" / "segstudio").exists() and not linked.exists()


def test_install_refuses_a_partly_unpacked_archive(tmp_path: Path) -> None:
    unpacked = _archive(tmp_path)
    shutil.rmtree(unpacked / "segstudio")
    result = subprocess.run(["sh", str(unpacked / "install-linux.sh")], capture_output=True, text=True,
                            env=dict(os.environ, PREFIX=str(tmp_path / "p")))
    assert result.returncode == 2 and "unpack the whole archive" in result.stderr
    assert not (tmp_path / "p").exists()


def test_the_icon_is_a_square_png_for_every_platform() -> None:
    from PIL import Image

    with Image.open(RESOURCES / "segstudio.png") as icon:
        assert icon.format == "PNG" and icon.size == (512, 512) and icon.mode == "RGBA"
