"""Thumbnails in the file list: made on the "thumbnails" worker for the visible rows only, cached."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.io.datasets import open_dataset
from segstudio.ui.file_list import FileList
from segstudio.ui.thumbnails import make_thumbnail
from segstudio.ui.workers import WorkerPool


def many_images(root: Path, count: int) -> Path:
    (root / "images").mkdir(parents=True)
    for index in range(count):
        image = np.full((40, 60, 3), index % 255, np.uint8)
        cv2.imwrite(str(root / "images" / f"img_{index:04d}.png"), image)
    return root


def test_thumbnail_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), np.zeros((800, 1200, 3), np.uint8))
    thumb = make_thumbnail(path, 32)
    assert thumb.dtype == np.uint8 and max(thumb.shape[:2]) == 32 and thumb.shape[2] == 3


def test_visible_rows_only_then_cached(qtbot, tmp_path: Path) -> None:
    dataset = open_dataset(many_images(tmp_path / "many", 300))
    pool = WorkerPool()
    files = FileList()
    qtbot.addWidget(files)
    thumbnails = files.enable_thumbnails(pool)
    files.resize(300, 400)
    files.show()
    files.set_dataset(dataset)
    qtbot.waitUntil(lambda: thumbnails.decoded > 0, timeout=10000)
    visible = files.visible_keys()
    assert 0 < len(visible) < 40
    assert thumbnails.decoded <= len(visible) + 2  # never the whole folder
    first = visible[0]
    row = files.model.row_of(first)
    assert files.model.data(files.model.index(row, 0), 1) is not None  # DecorationRole: the pixmap
    jobs = thumbnails.jobs_submitted
    assert not files.request_visible_thumbnails()  # cached: nothing to make
    assert thumbnails.jobs_submitted == jobs
    files.view.scrollToBottom()
    last = dataset.samples[-1].key
    qtbot.waitUntil(lambda: thumbnails.has(last), timeout=10000)
    assert thumbnails.decoded < 100
    pool.shutdown(5000)


def test_a_bomb_or_a_huge_image_gets_no_thumbnail_and_is_not_decoded(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The list asks for a thumbnail of every visible row: a decompression bomb is refused from its header, and an
    image past THUMBNAIL_MAX_PIXELS (not a JPEG) gets none, neither decoded at all."""
    from PIL import Image

    from segstudio.ui.thumbnails import THUMBNAIL_MAX_PIXELS, make_thumbnails
    from tests.io.decompression_bombs import write_png_bomb

    opened: list[Path] = []
    original = Image.open
    monkeypatch.setattr(Image, "open", lambda path, *a, **k: (opened.append(Path(path)), original(path, *a, **k))[1])
    bomb = write_png_bomb(tmp_path / "bomb.png", 40000, 40000)
    with pytest.raises(ValueError, match="40000 ?x ?40000"):  # ImageTooLarge where memory is short, else too large
        make_thumbnail(bomb, 32)
    huge = write_png_bomb(tmp_path / "slide.png", 9000, 8000)  # 72 Mpx: could be real, too big for a thumbnail
    assert 9000 * 8000 > THUMBNAIL_MAX_PIXELS
    with pytest.raises(ValueError, match="too large to decode for a thumbnail"):
        make_thumbnail(huge, 32)
    small = write_png_bomb(tmp_path / "small.png", 400, 300)
    found = make_thumbnails([("bomb", bomb), ("slide", huge), ("small", small)], 32)
    assert found["bomb"] is None and found["slide"] is None and found["small"].shape == (24, 32, 3)
    assert opened == [small]  # only the small one was ever opened
