"""Reading photographs and microscopy images into numpy arrays, and their sizes without decoding them.

``read_image`` returns ``(H, W)`` grey or ``(H, W, 3)`` RGB, ``uint8`` or ``uint16``:

- 16-bit PNG and TIFF stay 16-bit (16-bit colour PNG included: Pillow would cut it to 8 bits, so OpenCV
  decodes it);
- EXIF orientation is applied (JPEG, and any other format Pillow finds EXIF in), so ``image_size`` reports
  the size as displayed;
- alpha is dropped (RGBA -> RGB, LA -> L), palette and CMYK/YCbCr images become RGB, 1-bit becomes 0/255;
- TIFF is read with tifffile: the first page only, no orientation tag handling.

Every failure raises :class:`~segstudio.core.errors.FileProblem` naming the file. Truncated files are errors,
never silently padded (Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left ``False``).

Before any pixel is decoded, the size the header declares goes through :mod:`segstudio.io.memory_budget`'s rule:
an image past its decoder's limit, or needing more memory than is available, is refused with
:class:`~segstudio.io.memory_budget.ImageTooLarge` (a ``FileProblem`` with the declared width x height, the bytes
needed and the bytes available), and a decode that runs out of memory anyway raises the same, never a bare
``MemoryError``. Large images that fit are read whole (the window's canvas tiles what Qt cannot draw at once).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageOps, UnidentifiedImageError

from segstudio.core.errors import FileProblem
from segstudio.io.image_headers import DeclaredImage, declared_image
from segstudio.io.memory_budget import WORK_BYTES_PER_PIXEL, Decoder, check_fits, ran_out

# Pillow refuses images past 2 x MAX_IMAGE_PIXELS as "decompression bombs" (default ~179 Mpx), which blocks legitimate
# slide crops (a 40,000 x 20,000 RGB crop is 800 Mpx). Raised so that Pillow warns past 1 Gpx and refuses past 2 Gpx;
# our readers refuse earlier, by the memory a file needs (segstudio.io.memory_budget), and name the file and its size.
Image.MAX_IMAGE_PIXELS = 1_000_000_000

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".ppm", ".pgm", ".pnm"}
)
"""Lower-case suffixes, with the dot, of the files we treat as images: ``path.suffix.lower() in IMAGE_SUFFIXES``."""

TIFF_SUFFIXES: frozenset[str] = frozenset({".tif", ".tiff"})

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that rotate by 90 degrees
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True, slots=True)
class PngHeader:
    """The IHDR chunk of a PNG: enough to tell 16-bit colour and palette files apart before decoding."""

    width: int
    height: int
    bit_depth: int
    colour_type: int  # 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA


# -- public API ---------------------------------------------------------------------------------------------


def read_image(path: str | Path, *, work_bytes_per_pixel: int = WORK_BYTES_PER_PIXEL) -> np.ndarray:
    """The pixels of an image file: ``(H, W)`` grey or ``(H, W, 3)`` RGB, ``uint8`` or ``uint16``.

    ``work_bytes_per_pixel``: what the caller will hold per pixel on top of the image, for the memory rule
    (:mod:`segstudio.io.memory_budget`); the default covers evaluating and showing an image."""
    path = Path(path)
    head = check_readable_file(path)
    declared = check_size(path, head, expand_palette=True, work_bytes_per_pixel=work_bytes_per_pixel)
    try:
        return _decode_image(path, head)
    except MemoryError:
        pass  # leaving the handler drops the traceback, and the half-decoded pixels its frames hold, before reporting
    raise ran_out(path, declared)


def _decode_image(path: Path, head: bytes) -> np.ndarray:
    if head.startswith(_TIFF_SIGNATURES):
        return _read_tiff_image(path)
    header = png_header(path) if head.startswith(_PNG_SIGNATURE) else None
    if header is not None and header.bit_depth == 16 and header.colour_type in (2, 6):
        return _read_16_bit_colour_png(path)
    with open_pillow(path) as image:
        return _pillow_to_array(path, upright(image))


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` as :func:`read_image` would return it, read from the header without decoding pixels."""
    path = Path(path)
    head = check_readable_file(path)
    if head.startswith(_TIFF_SIGNATURES):
        with _open_tiff(path) as tiff:
            page = tiff.pages.first
            return int(page.imagewidth), int(page.imagelength)
    declared = declared_image(path, head)
    if declared is not None and Image.MAX_IMAGE_PIXELS is not None and declared.pixels > Image.MAX_IMAGE_PIXELS:
        # Pillow's open would warn of a "decompression bomb" without naming the file (or refuse one past twice the
        # limit) though only the header is read here: the header's size, unturned (EXIF is not looked for so large).
        return declared.width, declared.height
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = _header_orientation(image)
    except FileProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad headers
        raise _decode_problem(path, exc) from exc
    if orientation in _SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


def _header_orientation(image: Image.Image) -> int | None:
    """The EXIF orientation found while opening, without decoding (a PNG's ``getexif`` would decode pixels)."""
    try:
        if image.format == "PNG":
            raw = image.info.get("exif")  # an eXIf chunk before IDAT; one after IDAT is only seen on decoding
            if not raw:
                return None
            exif = Image.Exif()
            exif.load(raw)
            return exif.get(_EXIF_ORIENTATION)
        return image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # noqa: BLE001 - as in upright(): bad EXIF means no orientation
        return None


# -- helpers shared with mask_files --------------------------------------------------------------------------


def check_readable_file(path: Path) -> bytes:
    """The first bytes of ``path``; :class:`FileProblem` if it is missing, a folder, unreadable or empty."""
    if not path.exists():
        raise FileProblem(path, "file not found")
    if path.is_dir():
        raise FileProblem(path, "is a folder, not a file")
    try:
        with path.open("rb") as stream:
            head = stream.read(64)
    except OSError as exc:
        raise FileProblem(path, f"cannot read: {exc.strerror or exc}") from exc
    if not head:
        raise FileProblem(path, "file is empty (0 bytes)")
    return head


def check_size(
    path: Path, head: bytes, *, expand_palette: bool, work_bytes_per_pixel: int = WORK_BYTES_PER_PIXEL
) -> DeclaredImage | None:
    """What ``path``'s header declares (None: not parsed; the decoder then reports the file), after refusing with
    :class:`~segstudio.io.memory_budget.ImageTooLarge` what its decoder cannot decode or the memory cannot hold.
    ``expand_palette``: the reader turns palette indices into RGB (images do, masks keep the indices)."""
    declared = declared_image(path, head)
    if declared is not None:
        check_fits(
            path, declared, _decoder(head, declared), expand_palette=expand_palette,
            work_bytes_per_pixel=work_bytes_per_pixel,
        )  # fmt: skip
    return declared


def _decoder(head: bytes, declared: DeclaredImage) -> Decoder:
    if head.startswith(_TIFF_SIGNATURES):
        return Decoder.TIFFFILE
    if declared.format == "PNG" and declared.bits_per_sample == 16 and declared.channels in (3, 4):
        return Decoder.OPENCV  # 16-bit colour PNG: Pillow would cut it to 8 bits (see _read_16_bit_colour_png)
    return Decoder.PILLOW


def is_tiff(head: bytes) -> bool:
    return head.startswith(_TIFF_SIGNATURES)


def png_header(path: Path) -> PngHeader | None:
    """The IHDR fields of a PNG file, or ``None`` when the file is not a PNG (or its header is cut short)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(33)
    except OSError:
        return None
    if len(data) < 33 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return PngHeader(width, height, bit_depth, colour_type)


@contextlib.contextmanager
def open_pillow(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` with Pillow and decode every pixel; any failure becomes a :class:`FileProblem`."""
    try:
        image = Image.open(path)
    except Exception as exc:  # noqa: BLE001
        raise _decode_problem(path, exc) from exc
    with image:
        try:
            image.load()
        except Exception as exc:  # noqa: BLE001
            raise _decode_problem(path, exc) from exc
        yield image


def upright(image: Image.Image) -> Image.Image:
    """``image`` turned as its EXIF orientation says (a copy), or ``image`` itself when it needs no turn.

    Unreadable EXIF is treated as "no orientation": the pixels are fine, only the metadata is not.
    """
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - malformed EXIF blocks raise all sorts
        return image
    if orientation not in (2, 3, 4, 5, 6, 7, 8):
        return image
    return ImageOps.exif_transpose(image)


@contextlib.contextmanager
def _open_tiff(path: Path) -> Iterator[tifffile.TiffFile]:
    try:
        tiff = tifffile.TiffFile(path)
    except Exception as exc:  # noqa: BLE001
        raise FileProblem(path, f"not a readable TIFF: {exc}") from exc
    with tiff:
        if not tiff.pages:
            raise FileProblem(path, "not a readable TIFF: it holds no image (broken or missing first page)")
        yield tiff


def read_tiff_page(path: Path) -> tuple[np.ndarray, str, int]:
    """The first page of a TIFF as stored, its axes string (e.g. ``"YX"``, ``"YXS"``) and the page count."""
    with _open_tiff(path) as tiff:
        page = tiff.pages.first
        try:
            pixels = page.asarray()
        except Exception as exc:  # noqa: BLE001
            message = str(exc)
            lowered = message.lower()
            if "truncat" in lowered or "failed to read" in lowered or isinstance(exc, EOFError):
                raise FileProblem(path, f"image is truncated ({message})") from exc
            raise FileProblem(path, f"not a readable TIFF: {message}") from exc
        return pixels, str(page.axes), len(tiff.pages)


# -- decoders ------------------------------------------------------------------------------------------------


def _read_tiff_image(path: Path) -> np.ndarray:
    pixels, axes, _ = read_tiff_page(path)
    if "S" in axes and axes.index("S") == 0 and pixels.ndim == 3:  # planar RGB: samples first
        pixels = np.moveaxis(pixels, 0, -1)
    pixels = np.squeeze(pixels) if pixels.ndim > 2 else pixels
    if pixels.ndim == 3 and pixels.shape[-1] in (2, 3, 4):
        pixels = pixels[..., 0] if pixels.shape[-1] == 2 else pixels[..., :3]  # drop alpha
    if pixels.ndim != 2 and not (pixels.ndim == 3 and pixels.shape[-1] == 3):
        raise FileProblem(path, f"TIFF image of shape {pixels.shape} (axes {axes}) is neither grey nor RGB")
    return _to_uint8_or_uint16(path, pixels)


def _to_uint8_or_uint16(path: Path, pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.bool_:
        return pixels.astype(np.uint8) * np.uint8(255)
    if pixels.dtype in (np.uint8, np.uint16):
        return np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("="))
    if np.issubdtype(pixels.dtype, np.integer):
        low, high = int(pixels.min(initial=0)), int(pixels.max(initial=0))
        if low >= 0 and high <= 0xFFFF:
            return pixels.astype(np.uint16)
        raise FileProblem(
            path, f"{pixels.dtype} samples range {low}..{high}, beyond 16 bits; images must be 8- or 16-bit"
        )
    raise FileProblem(path, f"{pixels.dtype} samples are not supported for images; save it as 8- or 16-bit integers")


def _read_16_bit_colour_png(path: Path) -> np.ndarray:
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise FileProblem(path, f"cannot read: {exc.strerror or exc}") from exc
    pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise FileProblem(path, "image is truncated or corrupt (16-bit colour PNG could not be decoded)")
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(pixels)


_TO_RGB = frozenset({"RGB", "RGBA", "RGBa", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"})
_TO_GREY = frozenset({"L", "LA", "La", "1"})


def _pillow_to_array(path: Path, image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in _TO_GREY:
        return np.asarray(image.convert("L") if mode != "L" else image, dtype=np.uint8).copy()
    if mode in _TO_RGB:
        return np.asarray(image.convert("RGB") if mode != "RGB" else image, dtype=np.uint8).copy()
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)  # native byte order whatever the stored one
    if mode == "I":
        return _to_uint8_or_uint16(path, np.asarray(image))
    raise FileProblem(path, f"image mode {mode!r} is not supported; save it as 8- or 16-bit grey or RGB")


def _decode_problem(path: Path, exc: BaseException) -> FileProblem:
    if isinstance(exc, FileProblem):
        return exc
    if isinstance(exc, UnidentifiedImageError):
        return FileProblem(
            path, "not a readable image: the format is not recognised (expected PNG, JPEG, TIFF, BMP, WebP...)"
        )
    if isinstance(exc, Image.DecompressionBombError):
        return FileProblem(path, f"image is too large to open safely: {exc}")
    message = str(exc) or type(exc).__name__
    lowered = message.lower()
    if "truncated" in lowered or isinstance(exc, EOFError) or "premature end" in lowered:
        return FileProblem(path, f"image is truncated ({message})")
    return FileProblem(path, f"not a readable image: {message}")
