"""Decompression bombs for the tests, written without ever holding their pixels.

A bomb's pixels are all zero, so its compressed stream is one small block repeated: deflate with a full flush
after a block of zeros restarts from an empty window, so every such block compresses to the same bytes. A
40000 x 40000 grey PNG (1.6 GB of pixels) is written in milliseconds as about 1.5 MB, the size of the bomb in
issue 14. The zlib stream's checksum of ``n`` zero bytes is known in closed form (Adler-32: ``a = 1``, ``b = n``).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from segstudio.io import memory_budget

_BLOCK = 1 << 22  # bytes of zeros per repeated deflate block
_ADLER_MOD = 65521


def zlib_zeros(count: int) -> bytes:
    """A zlib stream (header, deflate, Adler-32) that inflates to ``count`` zero bytes."""
    blocks, rest = divmod(count, _BLOCK)
    parts = [b"\x78\xda"]  # deflate, 32 KiB window, best compression
    if blocks:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        repeated = compressor.compress(bytes(_BLOCK)) + compressor.flush(zlib.Z_FULL_FLUSH)
        parts.append(repeated * blocks)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts.append(compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH))
    parts.append(struct.pack(">I", ((count % _ADLER_MOD) << 16) | 1))
    return b"".join(parts)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_bomb(path: Path, width: int, height: int, *, colour_type: int = 0, bit_depth: int = 8) -> Path:
    """A valid PNG of ``width`` x ``height`` black pixels (colour type 0 grey, 2 RGB, 3 palette, 6 RGBA)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row_bytes = 1 + (width * channels * bit_depth + 7) // 8  # the filter byte (0: none) and the samples
    chunks = [_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))]
    if colour_type == 3:
        chunks.append(_png_chunk(b"PLTE", bytes(3 * 256)))
    chunks += [_png_chunk(b"IDAT", zlib_zeros(row_bytes * height)), _png_chunk(b"IEND", b"")]
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(chunks))
    return path


def write_jpeg_header(path: Path, width: int, height: int, *, components: int = 3) -> Path:
    """A JPEG whose frame header (SOF0) declares ``width`` x ``height``, with no scan data: the header of a bomb."""
    sof = struct.pack(">BHHB", 8, height, width, components)
    sof += b"".join(struct.pack(">BBB", index + 1, 0x11, 0) for index in range(components))
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    segments = [(0xE0, app0), (0xDB, b"\x00" + bytes(range(1, 65))), (0xC0, sof)]
    body = b"".join(b"\xff" + bytes([marker]) + struct.pack(">H", len(data) + 2) + data for marker, data in segments)
    path.write_bytes(b"\xff\xd8" + body + b"\xff\xd9")
    return path


def write_tiff_bomb(path: Path, width: int, height: int) -> Path:
    """A valid deflate-compressed 8-bit grey TIFF of ``width`` x ``height`` black pixels, one strip."""
    strip = zlib_zeros(width * height)
    entries = [  # tag, type (3 SHORT, 4 LONG), value
        (256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 8), (262, 3, 1),
        (273, 4, 0), (277, 3, 1), (278, 4, height), (279, 4, len(strip)),
    ]  # fmt: skip
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    ifd += struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + strip)
    return path


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> Callable[[int | None], None]:
    """Pin the memory the readers see as available (bytes; None: not known), 8 GiB to start with, so an outcome
    does not depend on the machine."""

    def pin(available: int | None) -> None:
        monkeypatch.setattr(memory_budget, "available_memory", lambda: available)

    pin(8 << 30)
    return pin
