"""Whether an image can be opened at all: the rule the image and mask readers apply before decoding a pixel.

A 1.5 MB PNG can declare 40000 x 40000 pixels (deflate expands zeros about 1000-fold): decoded in full it takes
1.5 GiB, and what a command then builds per pixel takes ten times that. So before decoding, the readers
(:mod:`segstudio.io.images`, :mod:`segstudio.io.mask_files`) read the declared size from the header
(:mod:`segstudio.io.image_headers`) and refuse what cannot fit, or cannot be decoded at all, with
:class:`ImageTooLarge`: a :class:`~segstudio.core.errors.FileProblem` naming the file, its declared width x
height, the bytes needed and the bytes available. Every command already reports a ``FileProblem`` with its
message (``predict`` and ``scan`` skip the file and go on; ``evaluate`` stops and names it; the window shows it).

The rule
--------
``needed = width x height x (DECODE_COPIES x decoder bytes per pixel + WORK_BYTES_PER_PIXEL)``

- decoder bytes per pixel: channels x bytes per sample as the decoder holds them; Pillow keeps every 8-bit
  image of 2 to 4 channels at 4 bytes a pixel, and a palette image the image reader turns into RGB (4 too);
- ``DECODE_COPIES`` = 3: the decoder's buffer, the array made from it and one conversion (palette or CMYK to
  RGB, alpha dropped, EXIF rotation, byte order) can be alive at once;
- ``WORK_BYTES_PER_PIXEL`` = 12: what a command holds per pixel on top of the decoded image, unless the reader
  is told more (``work_bytes_per_pixel``). Measured as peak RSS above start: ``evaluate`` about 10 bytes per
  pixel for a pair of 8-bit masks (its confusion index is ``int64``; 8.4 GiB for a 30000 x 30000 pair), the
  window's ``load_sample`` (image, truth, prediction, working mask) about 6 on 4000 x 4000 RGB. Prediction
  tells the reader its own figure (:mod:`segstudio.app.prediction`): an untiled model holds float32 copies of
  the whole image and its class scores.

Refused when ``needed`` exceeds :func:`available_memory`: the least of the system's available memory (Linux
``MemAvailable``; Windows' available physical memory; macOS: its physical memory, the one figure it gives
without a system call), the container's cgroup limit less its usage (page cache it can drop counted as free),
and this process's ``RLIMIT_AS`` / ``RLIMIT_DATA`` less what it already maps (``ulimit -v`` on a cluster node).
It is measured at each read, so the second mask of a pair sees the memory the first one took. When no figure
can be read, only the hard limits below apply.

A 40000 x 40000 8-bit grey PNG therefore needs 1.6 Gpx x (3 + 12) = 22.4 GiB and is refused on a machine with
less free; a 30000 x 30000 one needs 12.6 GiB; a 33000 x 2000 RGB photo 1.5 GiB; 40000 x 300 RGB 0.3 GiB.

Hard limits, whatever the memory: what the decoders will decode at all. Pillow (PNG, JPEG, BMP, GIF, WebP,
...) refuses past ``2 x Image.MAX_IMAGE_PIXELS`` (2,000,000,000 px as :mod:`segstudio.io.images` sets it);
OpenCV, which decodes 16-bit colour PNG, past ``OPENCV_IO_MAX_IMAGE_PIXELS`` (2^30 px unless set), where it
would otherwise return nothing and look like a corrupt file. tifffile has no limit of its own.

A small file is no proof of a bomb and is not refused for it: a blank 30000 x 30000 mask compresses to under a
megabyte and opens when it fits. A decode that still runs out of memory (the estimate is not a guarantee: other
programs allocate too) becomes the same error, never a bare ``MemoryError``.

Not covered: a model's own activations. Untiled prediction holds the whole image through the network (measured
about 170 bytes per pixel for a 4-channel UNet on CPU; real networks many times that): ``predict --tile`` bounds it.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path

from segstudio.core.errors import FileProblem
from segstudio.io.image_headers import DeclaredImage

DECODE_COPIES = 3
WORK_BYTES_PER_PIXEL = 12
OPENCV_PIXEL_LIMIT = 1 << 30  # OpenCV's CV_IO_MAX_IMAGE_PIXELS default


class Decoder(Enum):
    """The library that decodes a file, for its hard limit and its name in messages."""

    PILLOW = "Pillow"
    OPENCV = "OpenCV"
    TIFFFILE = "tifffile"


class ImageTooLarge(FileProblem):
    """An image refused before decoding (or whose decoding ran out of memory): the file, what its header
    declares, the bytes it would need and the bytes available (``None``: not known)."""

    def __init__(
        self, path: str | Path, declared: DeclaredImage, needed: int, available: int | None, problem: str
    ) -> None:
        self.declared = declared
        self.needed = needed
        self.available = available
        super().__init__(path, problem)


# -- the rule -------------------------------------------------------------------------------------------------


def decoder_bytes_per_pixel(declared: DeclaredImage, *, expand_palette: bool) -> int:
    """Bytes a decoded pixel takes in the decoder; ``expand_palette``: the reader turns palette indices into RGB."""
    if declared.palette and declared.format != "TIFF":  # tifffile returns a palette TIFF's indices
        return 4 if expand_palette else 1
    if declared.format != "TIFF" and declared.channels > 1 and declared.bytes_per_sample == 1:
        return 4  # Pillow stores 2-, 3- and 4-channel 8-bit images at 4 bytes a pixel
    return declared.channels * declared.bytes_per_sample


def bytes_needed(declared: DeclaredImage, decoder_bytes: int, work_bytes_per_pixel: int = WORK_BYTES_PER_PIXEL) -> int:
    """``width x height x (DECODE_COPIES x decoder_bytes + work_bytes_per_pixel)``."""
    return declared.pixels * (DECODE_COPIES * decoder_bytes + work_bytes_per_pixel)


def check_fits(
    path: Path, declared: DeclaredImage, decoder: Decoder, *, expand_palette: bool,
    work_bytes_per_pixel: int = WORK_BYTES_PER_PIXEL,
) -> None:  # fmt: skip
    """Raise :class:`ImageTooLarge` when ``path`` (as its header ``declared``) is past ``decoder``'s limit or
    needs more memory than is available; return otherwise. Costs a few small reads, no decoding."""
    decoder_bytes = decoder_bytes_per_pixel(declared, expand_palette=expand_palette)
    needed = bytes_needed(declared, decoder_bytes, work_bytes_per_pixel)
    ceiling = pixel_ceiling(decoder)
    if ceiling is not None and declared.pixels > ceiling:
        raise ImageTooLarge(
            path, declared, needed, None,
            f"image too large to decode: {declared.describe()} is {declared.pixels:,} pixels, and "
            f"{decoder.value} decodes at most {ceiling:,}",
        )  # fmt: skip
    available = available_memory()
    if available is not None and needed > available:
        raise ImageTooLarge(
            path, declared, needed, available,
            f"image too large for the memory available: {declared.describe()}, {format_bytes(declared.decoded_bytes)} "
            f"decoded; reading and working on it needs about {format_bytes(needed)}, "
            f"{format_bytes(available)} is available",
        )  # fmt: skip


def ran_out(path: Path, declared: DeclaredImage | None) -> FileProblem:
    """The error for a decode that raised ``MemoryError`` although :func:`check_fits` let it through."""
    available = available_memory()
    left = "" if available is None else f" ({format_bytes(available)} available now)"
    if declared is None:
        return FileProblem(path, f"ran out of memory decoding the image{left}")
    needed = bytes_needed(declared, decoder_bytes_per_pixel(declared, expand_palette=True))
    return ImageTooLarge(
        path, declared, needed, available,
        f"ran out of memory decoding the image: {declared.describe()}, {format_bytes(declared.decoded_bytes)} "
        f"decoded{left}",
    )  # fmt: skip


def pixel_ceiling(decoder: Decoder) -> int | None:
    """The most pixels ``decoder`` decodes at all (None: no limit of its own)."""
    if decoder is Decoder.PILLOW:
        from PIL import Image

        return None if Image.MAX_IMAGE_PIXELS is None else 2 * int(Image.MAX_IMAGE_PIXELS)
    if decoder is Decoder.OPENCV:
        try:
            return int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", OPENCV_PIXEL_LIMIT))
        except ValueError:
            return OPENCV_PIXEL_LIMIT
    return None


def format_bytes(count: int) -> str:
    """``"28.3 GiB"``, ``"512.0 MiB"``, ``"900 bytes"``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


# -- available memory -----------------------------------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes this process can still allocate as far as the system tells (the least of the figures the module
    docstring lists); ``None`` when none can be read."""
    figures = [found for found in (_system_available(), _cgroup_available(), _rlimit_available()) if found is not None]
    return min(figures) if figures else None


def _system_available() -> int | None:
    if sys.platform.startswith("linux"):
        return _meminfo_available()
    if sys.platform == "win32":
        return _windows_available()
    try:  # macOS and other POSIX: free pages where the system counts them, else physical memory
        names = os.sysconf_names
        pages_name = "SC_AVPHYS_PAGES" if "SC_AVPHYS_PAGES" in names and sys.platform != "darwin" else "SC_PHYS_PAGES"
        pages, page_size = os.sysconf(pages_name), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None


def _meminfo_available() -> int | None:
    fields = _read_fields(Path("/proc/meminfo"), ":")
    if "MemAvailable" in fields:  # kernels since 3.14
        return fields["MemAvailable"] * 1024
    if "MemFree" in fields:
        return (fields["MemFree"] + fields.get("Cached", 0)) * 1024
    return None


def _windows_available() -> int | None:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]  # fmt: skip

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    try:
        if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return None
    except (AttributeError, OSError):
        return None
    # Physical memory free now, and no more than the commit charge left (Windows refuses allocations past it).
    return int(min(status.ullAvailPhys, status.ullAvailPageFile))


def _cgroup_available() -> int | None:
    """A container's memory limit less its usage (cgroup v2, else v1); page cache it can drop counts as free."""
    if not sys.platform.startswith("linux"):
        return None
    for folder in _cgroup_v2_folders():
        limit_text = _read_text(folder / "memory.max")
        if limit_text is None:
            continue
        if limit_text == "max":
            return None
        usage = _read_int(folder / "memory.current")
        if usage is None or not limit_text.isdigit():
            return None
        reclaimable = _read_fields(folder / "memory.stat", " ").get("inactive_file", 0)
        return max(0, int(limit_text) - usage + reclaimable)
    v1 = Path("/sys/fs/cgroup/memory")
    limit, usage = _read_int(v1 / "memory.limit_in_bytes"), _read_int(v1 / "memory.usage_in_bytes")
    if limit is None or usage is None or limit >= 1 << 60:  # "no limit" reads as a huge number
        return None
    reclaimable = _read_fields(v1 / "memory.stat", " ").get("total_inactive_file", 0)
    return max(0, limit - usage + reclaimable)


def _cgroup_v2_folders() -> list[Path]:
    """This process's cgroup v2 folder (from ``/proc/self/cgroup``), then the mount's root (inside a container
    the process's own cgroup is the root)."""
    root = Path("/sys/fs/cgroup")
    folders = []
    text = _read_text(Path("/proc/self/cgroup")) or ""
    for line in text.splitlines():
        if line.startswith("0::"):
            folders.append(root / line[3:].lstrip("/"))
    folders.append(root)
    return folders


def _rlimit_available() -> int | None:
    """The room left under ``RLIMIT_AS`` and ``RLIMIT_DATA`` (Linux, where ``/proc`` says what is mapped)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    status = _read_fields(Path("/proc/self/status"), ":")
    room = []
    for limit_name, used_name in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        limit = getattr(resource, limit_name, None)
        if limit is None or used_name not in status:
            continue
        soft, _ = resource.getrlimit(limit)
        if soft != resource.RLIM_INFINITY and soft >= 0:
            room.append(max(0, soft - status[used_name] * 1024))
    return min(room) if room else None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    return int(text) if text is not None and text.isdigit() else None


def _read_fields(path: Path, separator: str) -> dict[str, int]:
    """``name<separator> number [kB]`` lines (``/proc/meminfo``, ``/proc/self/status``, ``memory.stat``)."""
    fields: dict[str, int] = {}
    for line in (_read_text(path) or "").splitlines():
        name, _, rest = line.partition(separator)
        value = rest.split()
        if value and value[0].isdigit():
            fields[name.strip()] = int(value[0])
    return fields
