"""``segstudio train`` of an instance model names the figure that chose its best epoch: mask AP@0.5."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.cli import main
from segstudio.models.checkpoints import read_checkpoint_meta

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _penn_fudan_like(root: Path, count: int = 4) -> Path:
    """Penn-Fudan's layout (PNGImages/, PedMasks/<stem>_mask.png with instance ids): bright upright rectangles."""
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    rng = np.random.default_rng(4)
    for index in range(count):
        ids = np.zeros((64, 80), np.uint8)
        ids[6:58, 8 + index : 30 + index] = 1
        ids[10:60, 46 - index : 70 - index] = 2
        image = (rng.random((64, 80, 3)) * 40).astype(np.uint8)
        image[ids > 0] += np.uint8(150)
        cv2.imwrite(str(root / "PNGImages" / f"P{index:03d}.png"), image)
        cv2.imwrite(str(root / "PedMasks" / f"P{index:03d}_mask.png"), ids)
    return root


def test_train_prints_the_mask_ap_of_every_epoch_and_of_the_best(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _penn_fudan_like(tmp_path / "people")
    checkpoint = tmp_path / "people.safetensors"
    code = main([
        "train", "--data", str(data), "--arch", "mask_rcnn", "--encoder", "mobilenet_v3",
        "--option", "min_size=64", "--option", "max_size=96", "--epochs", "1", "--batch-size", "2",
        "--samples-per-epoch", "2", "--device", "cpu", "--out", str(checkpoint),
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    epoch_line = next(line for line in printed.splitlines() if line.startswith("epoch   1:"))
    assert "val mask AP@0.5 " in epoch_line and "mask AP@[.5:.95] " in epoch_line and "class mean IoU " in epoch_line
    best_line = next(line for line in printed.splitlines() if line.startswith("stopped:"))
    assert "best epoch 1 (by val mask AP@0.5): mask AP@0.5 " in best_line
    meta = read_checkpoint_meta(checkpoint)
    ap50 = meta.metrics["mask_ap50"]
    assert ap50 is not None and 0.0 <= ap50 <= 1.0
    assert f"mask AP@0.5 {ap50:.4f}," in best_line
