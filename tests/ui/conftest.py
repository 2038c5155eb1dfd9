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


@pytest.fixture
def tiny_camvid_model(camvid_folder: Path, tmp_path: Path) -> Path:
    """A random-weight 4-channel U-Net checkpoint for CamVid's 11 classes (seed 0); ``camvid_folder`` gets CamVid's
    label set (labels.toml) so the two agree. A model this weak is unsure of every pixel (about 1/11 per class)."""
    import torch

    from segstudio.core.labels import LabelSet
    from segstudio.io.labelset_files import write_label_set
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    labels = LabelSet.camvid()
    write_label_set(camvid_folder / "labels.toml", labels)
    torch.manual_seed(0)
    config = ModelConfig("unet", labels.num_classes, 3, "classic", {"base_channels": 4})
    checkpoint = tmp_path / "tiny-camvid.safetensors"
    save_checkpoint(checkpoint, build_model(config), CheckpointMeta(config, labels))
    return checkpoint
