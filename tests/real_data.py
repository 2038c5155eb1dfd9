"""Small copies of the shared real data sets for tests that train on them (never written in place)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest


def pennfudan_copy(
    shared_data: Path, root: Path, *, count: int = 3, shrink: int = 4, size: tuple[int, int] | None = None
) -> Path:
    """The first ``count`` Penn-Fudan images and their instance masks as ``root``/PNGImages + PedMasks, each side
    divided by ``shrink`` (or resized to ``size``, width and height; images by area, masks nearest: ids stay ids);
    skips the test without Penn-Fudan."""
    source = shared_data / "pennfudan"
    if not (source / "PNGImages").is_dir():
        pytest.skip("Penn-Fudan is not in the shared data")
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for image_path in sorted((source / "PNGImages").glob("*.png"))[:count]:
        image = cv2.imread(str(image_path))
        mask = cv2.imread(str(source / "PedMasks" / f"{image_path.stem}_mask.png"), cv2.IMREAD_UNCHANGED)
        wanted = size or (image.shape[1] // shrink, image.shape[0] // shrink)
        if wanted != (image.shape[1], image.shape[0]):
            image = cv2.resize(image, wanted, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, wanted, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(root / "PNGImages" / image_path.name), image)
        cv2.imwrite(str(root / "PedMasks" / f"{image_path.stem}_mask.png"), mask)
    return root
