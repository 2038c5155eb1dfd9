"""An image file's declared size and sample layout, read from its header without decoding a pixel.

What :func:`declared_image` reads, per format (first bytes only, a few kilobytes at most):

- PNG: the IHDR chunk (width, height, bit depth, colour type);
- JPEG: the first start-of-frame marker (SOF0..SOF15), hopping over the segments before it by their lengths;
- GIF: the logical screen; BMP: the info header (a negative height means top-down rows);
- TIFF: the first page's shape and sample type, as tifffile reads it (the one page the readers decode);
- anything else Pillow opens (WebP, PNM, ...): Pillow's lazy open, which parses the header only.

A header that cannot be parsed gives ``None``: the decoder then says what is wrong with the file. The memory
rule that uses these figures is :mod:`segstudio.io.memory_budget`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel as stored
# Start-of-frame markers carry the frame size; C4 (DHT), C8 (JPG extension) and CC (DAC) share the range but do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..7: no length field
_JPEG_SEARCH_LIMIT = 1 << 24  # SOF follows APPn/DQT/DHT segments of at most 64 KiB each; past this, leave it to Pillow


@dataclass(frozen=True, slots=True)
class DeclaredImage:
    """What a header says an image holds. ``channels`` are samples per pixel as stored (a palette image has 1,
    an index); ``bits_per_sample`` as stored (1, 2, 4, 8, 16, 32, 64)."""

    format: str
    width: int
    height: int
    channels: int
    bits_per_sample: int
    palette: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def bytes_per_sample(self) -> int:
        """Bytes one decoded sample takes: decoders expand 1-, 2- and 4-bit samples to a byte."""
        return max(1, (self.bits_per_sample + 7) // 8)

    @property
    def decoded_bytes(self) -> int:
        """``width x height x channels x bytes per sample``: the pixels as stored, once decoded."""
        return self.pixels * self.channels * self.bytes_per_sample

    def describe(self) -> str:
        """E.g. ``"40000 x 40000 pixels (PNG, grey, 8-bit)"``."""
        kind = "palette" if self.palette else {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "4-channel"}.get(
            self.channels, f"{self.channels}-channel"
        )
        return f"{self.width} x {self.height} pixels ({self.format}, {kind}, {self.bits_per_sample}-bit)"


def declared_image(path: Path, head: bytes | None = None) -> DeclaredImage | None:
    """The size and sample layout ``path``'s header declares, without decoding pixels; ``None`` when the header
    is not one of the formats read here or cannot be parsed. ``head``: the file's first bytes, when already read."""
    try:
        if head is None:
            with path.open("rb") as stream:
                head = stream.read(64)
        if head.startswith(_PNG_SIGNATURE):
            return _png(head)
        if head.startswith(b"\xff\xd8"):
            return _jpeg(path)
        if head.startswith((b"GIF87a", b"GIF89a")):
            return _gif(head)
        if head.startswith(b"BM"):
            return _bmp(head)
        if head.startswith(_TIFF_SIGNATURES):
            return _tiff(path)
        return _pillow(path)
    except (OSError, ValueError, struct.error):
        return None


# -- formats --------------------------------------------------------------------------------------------------


def _png(head: bytes) -> DeclaredImage | None:
    if len(head) < 26 or head[12:16] != b"IHDR":
        return None
    width, height, depth, colour_type = struct.unpack(">IIBB", head[16:26])
    channels = _PNG_CHANNELS.get(colour_type)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        return None
    return DeclaredImage("PNG", width, height, channels, depth, palette=colour_type == 3)


def _jpeg(path: Path) -> DeclaredImage | None:
    """The first frame header, reached by hopping over the segments before it (APPn, DQT, DHT...) by their lengths."""
    with path.open("rb") as stream:
        stream.seek(2)
        while stream.tell() < _JPEG_SEARCH_LIMIT:
            marker = stream.read(2)
            if len(marker) < 2 or marker[0] != 0xFF:
                return None  # not at a marker: a broken file, the decoder says how
            kind = marker[1]
            if kind == 0xFF:  # a fill byte: the marker starts one byte later
                stream.seek(-1, 1)
                continue
            if kind in _JPEG_STANDALONE:
                continue
            if kind in (0xD9, 0xDA):  # end of image, or start of scan before any frame header
                return None
            length_bytes = stream.read(2)
            if len(length_bytes) < 2:
                return None
            (length,) = struct.unpack(">H", length_bytes)
            if kind in _JPEG_SOF:
                frame = stream.read(6)
                if len(frame) < 6:
                    return None
                precision, height, width, components = struct.unpack(">BHHB", frame)
                if height == 0:  # the height comes later, in a DNL marker: leave it to the decoder
                    return None
                return DeclaredImage("JPEG", width, height, components, precision)
            if length < 2:
                return None
            stream.seek(length - 2, 1)
    return None


def _gif(head: bytes) -> DeclaredImage | None:
    if len(head) < 10:
        return None
    width, height = struct.unpack("<HH", head[6:10])
    return DeclaredImage("GIF", width, height, 1, 8, palette=True)


def _bmp(head: bytes) -> DeclaredImage | None:
    if len(head) < 30:
        return None
    (info_size,) = struct.unpack("<I", head[14:18])
    if info_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        width, height, _, bits = struct.unpack("<HHHH", head[18:26])
    else:
        width, height, _, bits = struct.unpack("<iiHH", head[18:30])
    width, height = abs(width), abs(height)
    if bits <= 8:
        return DeclaredImage("BMP", width, height, 1, 8, palette=True)
    return DeclaredImage("BMP", width, height, 4 if bits == 32 else 3, 8)


def _tiff(path: Path) -> DeclaredImage | None:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages.first
            width, height = int(page.imagewidth), int(page.imagelength)
            samples = int(page.samplesperpixel)
            bits = int(page.dtype.itemsize * 8) if page.dtype is not None else int(page.bitspersample)
            depth = max(1, int(getattr(page, "imagedepth", 1)))
    except Exception:  # noqa: BLE001 - tifffile raises many types for broken headers; the reader reports them
        return None
    # A volume page (depth > 1) decodes depth planes: count them as channels, so its bytes are right.
    return DeclaredImage("TIFF", width, height, samples * depth, bits, palette=int(page.photometric) == 3)


def _pillow(path: Path) -> DeclaredImage | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            mode, name = image.mode, image.format or path.suffix.lstrip(".").upper()
            bands = len(image.getbands())
    except Exception:  # noqa: BLE001 - Pillow raises many types for bad headers; the reader reports them
        return None
    bits = 16 if mode.startswith("I;16") else 32 if mode in ("I", "F") else 1 if mode == "1" else 8
    return DeclaredImage(name, width, height, bands, bits, palette=mode in ("P", "PA"))
