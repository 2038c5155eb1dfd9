from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CAMVID_NAMES = ("0016E5_07959", "0016E5_07961", "0016E5_07963")


@pytest.fixture
def camvid_folder(shared_data: Path, tmp_path: Path) -> Path:
    """Three CamVid val images and their ground truth, copied as images/ + masks/ (a writable project)."""
    source = shared_data / "camvid"
    if not (source / "val").is_dir():
        pytest.skip(f"CamVid not found under {source}")
    root = tmp_path / "camvid-mini"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    names = [n for n in CAMVID_NAMES if (source / "val" / f"{n}.png").is_file()]
    if len(names) < 2:
        names = sorted(p.stem for p in (source / "val").glob("*.png"))[:3]
    for name in names:
        shutil.copy(source / "val" / f"{name}.png", root / "images" / f"{name}.png")
        shutil.copy(source / "valannot" / f"{name}.png", root / "masks" / f"{name}.png")
    return root


@pytest.fixture
def window(qtbot) -> Iterator[object]:  # noqa: ANN001
    from segstudio.ui.main_window import MainWindow

    win = MainWindow(interactive=False)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    win.pool.shutdown(5000)
