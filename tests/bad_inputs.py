"""A corpus of broken and unusual image files, generated (nothing checked in): what the hardening tests run through
every command and the window. Each :class:`BadInput` is one file as a data set would hold it, and whether a
careful reader must refuse it (``refused``) or may read it (an unusual but valid file: it must then read without a
traceback, and either open or be refused by name)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from tests.io.decompression_bombs import write_jpeg_header, write_png_bomb


@dataclass(frozen=True)
class BadInput:
    name: str  # the file name it gets (its suffix says what it claims to be)
    write: Callable[[Path], None]
    refused: bool  # True: no reader may take it as an image


def _photo(height: int = 40, width: int = 60, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _encoded(array: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_with_broken_crc(path: Path) -> None:
    data = bytearray(_encoded(_photo(), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 10] ^= 0xFF  # compressed pixels changed: the chunk's CRC no longer fits
    path.write_bytes(bytes(data))


def _png_idat_garbage(path: Path) -> None:
    """A PNG whose IDAT is not zlib at all, its CRC made to fit (so only the decoder can tell)."""
    header = _encoded(_photo(), "PNG")
    ihdr_end = header.index(b"IDAT") - 4
    garbage = b"not zlib data at all" * 4
    chunk = struct.pack(">I", len(garbage)) + b"IDAT" + garbage
    chunk += struct.pack(">I", zlib.crc32(b"IDAT" + garbage) & 0xFFFFFFFF)
    end = b"\x00\x00\x00\x00IEND\xaeB`\x82"
    path.write_bytes(header[:ihdr_end] + chunk + end)


def _cmyk_jpeg(path: Path) -> None:
    Image.fromarray(_photo()).convert("CMYK").save(path, format="JPEG")


def _exif_rotated_jpeg(path: Path) -> None:
    image = Image.fromarray(_photo(40, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(path, format="JPEG", exif=exif.tobytes())


def _animated_gif(path: Path) -> None:
    frames = [Image.fromarray(_photo(seed=s)).convert("P") for s in range(3)]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _tiff_truncated(path: Path) -> None:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, _photo(200, 200))
    path.write_bytes(buffer.getvalue()[:600])


CORPUS: tuple[BadInput, ...] = (
    BadInput("empty.png", lambda p: p.write_bytes(b""), True),
    BadInput("empty.jpg", lambda p: p.write_bytes(b""), True),
    BadInput("empty.tif", lambda p: p.write_bytes(b""), True),
    BadInput("truncated.png", lambda p: p.write_bytes(_encoded(_photo(), "PNG")[:120]), True),
    BadInput("truncated.jpg", lambda p: p.write_bytes(_encoded(_photo(), "JPEG")[:200]), True),
    BadInput("truncated.tif", _tiff_truncated, True),
    BadInput("crc-broken.png", _png_with_broken_crc, True),
    BadInput("idat-garbage.png", _png_idat_garbage, True),
    BadInput("text.png", lambda p: p.write_text("this is not an image\n"), True),
    BadInput("jpeg-bomb.jpg", lambda p: write_jpeg_header(p, 65000, 65000), True),
    BadInput("png-bomb.png", lambda p: write_png_bomb(p, 60000, 60000), True),
    BadInput("rgba.png", lambda p: p.write_bytes(_encoded(np.dstack([_photo(), np.full((40, 60), 128, np.uint8)]),
                                                          "PNG")), False),
    BadInput("palette.png", lambda p: Image.fromarray(_photo()).convert("P").save(p), False),
    BadInput("grey16.png", lambda p: Image.fromarray((_photo()[..., 0].astype(np.uint16) * 257)).save(p), False),
    BadInput("cmyk.jpg", _cmyk_jpeg, False),
    BadInput("exif-rotated.jpg", _exif_rotated_jpeg, False),
    BadInput("animated.gif", _animated_gif, False),
    BadInput("tiny-1x1.png", lambda p: Image.fromarray(_photo(1, 1)).save(p), False),
    BadInput("odd name é ü -- (1).png", lambda p: Image.fromarray(_photo()).save(p), False),
    BadInput("-dash-first.png", lambda p: Image.fromarray(_photo()).save(p), False),
)

#: Masks that cannot be a mask of a 40 x 60 image in a 3-class label set, and ones that can.
MASK_CORPUS: tuple[BadInput, ...] = (
    BadInput("wrong-size.png", lambda p: Image.fromarray(np.zeros((17, 23), np.uint8)).save(p), True),
    BadInput("out-of-range.png", lambda p: Image.fromarray(np.full((40, 60), 200, np.uint8)).save(p), True),
    BadInput("mask16-out-of-range.png", lambda p: Image.fromarray(np.full((40, 60), 40000, np.uint16)).save(p), True),
    BadInput("empty.png", lambda p: p.write_bytes(b""), True),
    BadInput("truncated.png", lambda p: p.write_bytes(_encoded(np.zeros((40, 60), np.uint8), "PNG")[:60]), True),
    BadInput("mask-bomb.png", lambda p: write_png_bomb(p, 60000, 60000), True),
    BadInput("rgb-mask.png", lambda p: Image.fromarray(_photo()).save(p), True),  # colours that are no class's
)


__all__ = ["CORPUS", "MASK_CORPUS", "BadInput"]
