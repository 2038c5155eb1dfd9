"""Decompression bombs against the image and mask readers (issue 14, item 1): refused from the header, before a
pixel is decoded, with the file, its declared size, the bytes needed and the bytes available; large real images
still read. The memory available is pinned (``budget``) so the outcome does not depend on the machine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.io import images, memory_budget
from segstudio.io.image_headers import DeclaredImage, declared_image
from segstudio.io.images import image_size, read_image
from segstudio.io.mask_files import read_class_mask, read_instance_mask, read_raw_mask
from segstudio.io.memory_budget import ImageTooLarge, available_memory, bytes_needed, check_fits, format_bytes
from tests.io import decompression_bombs as bombs
from tests.io.decompression_bombs import write_jpeg_header, write_png_bomb, write_tiff_bomb, zlib_zeros

GiB = 1 << 30
READERS: dict[str, Callable[[Path], object]] = {
    "read_image": read_image,
    "read_raw_mask": read_raw_mask,
    "read_class_mask": lambda path: read_class_mask(path, LabelSet.with_count(2)),
    "read_instance_mask": read_instance_mask,
}


budget = bombs.budget  # the fixture, under its name here


# -- the bomb files are what they claim -----------------------------------------------------------------------


def test_the_streamed_bombs_are_valid_files_of_black_pixels(tmp_path: Path) -> None:
    import zlib

    assert zlib.decompress(zlib_zeros(10_000_019)) == bytes(10_000_019)  # several repeated blocks and a rest
    for colour_type, shape in ((0, (1700, 3001)), (2, (1700, 3001, 3)), (6, (1700, 3001, 4))):
        with Image.open(write_png_bomb(tmp_path / f"{colour_type}.png", 3001, 1700, colour_type=colour_type)) as image:
            pixels = np.asarray(image)
        assert pixels.shape == shape and not pixels.any()
    pixels = tifffile.imread(write_tiff_bomb(tmp_path / "b.tif", 3001, 1700))
    assert pixels.shape == (1700, 3001) and not pixels.any()
    # The sizes of issue 14's bombs: about 1.5 MB declaring 40000 x 40000, 870 KB declaring 30000 x 30000.
    assert write_png_bomb(tmp_path / "40k.png", 40000, 40000).stat().st_size < 1_600_000
    assert write_png_bomb(tmp_path / "30k.png", 30000, 30000).stat().st_size < 900_000


# -- headers ----------------------------------------------------------------------------------------------------


def test_headers_declare_what_pillow_decodes(tmp_path: Path) -> None:
    cases = {
        "grey.png": ("L", 1, False), "rgb.png": ("RGB", 3, False), "rgba.png": ("RGBA", 4, False),
        "palette.png": ("P", 1, True), "rgb.jpg": ("RGB", 3, False), "grey.jpg": ("L", 1, False),
        "cmyk.jpg": ("CMYK", 4, False), "rgb.bmp": ("RGB", 3, False), "palette.gif": ("P", 1, True),
        "rgb.webp": ("RGB", 3, False), "grey.pgm": ("L", 1, False),
    }  # fmt: skip
    for name, (mode, channels, palette) in cases.items():
        Image.new(mode, (37, 23)).save(tmp_path / name)
        declared = declared_image(tmp_path / name)
        assert declared is not None, name
        found = (declared.width, declared.height, declared.channels, declared.palette)
        assert found == (37, 23, channels, palette), name
    tifffile.imwrite(tmp_path / "rgb16.tif", np.zeros((23, 37, 3), np.uint16), photometric="rgb")
    assert declared_image(tmp_path / "rgb16.tif") == DeclaredImage("TIFF", 37, 23, 3, 16)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(10))
    assert declared_image(tmp_path / "junk.png") is None  # cut short: the decoder says what is wrong


def test_a_header_cut_anywhere_gives_its_size_or_none_never_an_error(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    files = {"a.png": {}, "a.jpg": {"exif": exif.tobytes()}, "a.bmp": {}, "a.gif": {}, "a.webp": {}}
    for name, options in files.items():
        Image.new("RGB", (37, 23), (200, 10, 10)).save(tmp_path / name, **options)
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((23, 37), np.uint8))
    for name in [*files, "a.tif"]:
        data = (tmp_path / name).read_bytes()
        cut = tmp_path / f"cut-{name}"
        for length in range(0, min(len(data), 400)):
            cut.write_bytes(data[:length])
            declared = declared_image(cut)
            assert declared is None or (declared.width, declared.height) == (37, 23), (name, length)


def test_bomb_headers_are_read_without_decoding(tmp_path: Path) -> None:
    assert declared_image(write_png_bomb(tmp_path / "b.png", 40000, 40000)) == DeclaredImage("PNG", 40000, 40000, 1, 8)
    tiff = declared_image(write_tiff_bomb(tmp_path / "b.tif", 40000, 40000))
    assert tiff == DeclaredImage("TIFF", 40000, 40000, 1, 8)
    jpeg = declared_image(write_jpeg_header(tmp_path / "b.jpg", 30000, 20000))
    assert jpeg == DeclaredImage("JPEG", 30000, 20000, 3, 8)


# -- the rule ---------------------------------------------------------------------------------------------------


def test_the_rule_in_numbers() -> None:
    grey = DeclaredImage("PNG", 40000, 40000, 1, 8)
    assert bytes_needed(grey, 1) == 40000 * 40000 * (3 * 1 + 12)  # 22.4 GiB
    assert format_bytes(bytes_needed(grey, 1)) == "22.4 GiB"
    assert format_bytes(bytes_needed(DeclaredImage("PNG", 30000, 30000, 1, 8), 1)) == "12.6 GiB"
    assert format_bytes(bytes_needed(DeclaredImage("PNG", 33000, 2000, 3, 8), 4)) == "1.5 GiB"


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("side", "needed"), [(40000, "22.4 GiB"), (30000, "12.6 GiB")])
def test_png_bombs_are_refused_with_the_file_its_size_and_the_bytes(
    tmp_path: Path, budget: Callable[[int | None], None], reader: str, side: int, needed: str
) -> None:
    bomb = write_png_bomb(tmp_path / "bomb.png", side, side)
    with pytest.raises(ImageTooLarge) as raised:
        READERS[reader](bomb)
    message = str(raised.value)
    assert message.startswith(f"{bomb}: image too large for the memory available")
    assert f"{side} x {side} pixels (PNG, grey, 8-bit)" in message
    assert f"needs about {needed}, 8.0 GiB is available" in message
    assert isinstance(raised.value, FileProblem)  # what every command already reports with its message
    assert raised.value.declared.pixels == side * side and raised.value.available == 8 * GiB


def test_a_bomb_that_fits_is_not_refused_for_being_small(tmp_path: Path, budget: Callable[[int | None], None]) -> None:
    """A blank 30000 x 30000 mask compresses to under a megabyte and is real: with the memory, it opens."""
    bomb = write_png_bomb(tmp_path / "blank.png", 30000, 30000)
    declared = declared_image(bomb)
    assert declared is not None
    budget(64 * GiB)
    check_fits(bomb, declared, memory_budget.Decoder.PILLOW, expand_palette=False)  # no error: it would be read
    budget(None)  # memory not known: only the decoders' own limits apply
    check_fits(bomb, declared, memory_budget.Decoder.PILLOW, expand_palette=False)


@pytest.mark.parametrize("reader", ["read_image", "read_raw_mask"])
def test_tiff_bomb_is_refused_before_tifffile_decodes_it(
    tmp_path: Path, budget: Callable[[int | None], None], reader: str
) -> None:
    bomb = write_tiff_bomb(tmp_path / "bomb.tif", 40000, 40000)
    with pytest.raises(ImageTooLarge, match=r"40000 x 40000 pixels \(TIFF, grey, 8-bit\).*8\.0 GiB is available"):
        READERS[reader](bomb)


def test_jpeg_headers_past_the_memory_and_past_pillows_limit(
    tmp_path: Path, budget: Callable[[int | None], None]
) -> None:
    wide = write_jpeg_header(tmp_path / "wide.jpg", 30000, 30000)
    with pytest.raises(ImageTooLarge, match=r"wide\.jpg: image too large for the memory.*30000 x 30000 pixels \(JPEG"):
        read_image(wide)
    budget(1 << 50)  # even with the memory: Pillow decodes at most 2,000,000,000 pixels
    huge = write_jpeg_header(tmp_path / "huge.jpg", 65000, 65000)
    with pytest.raises(ImageTooLarge, match=r"huge\.jpg: image too large to decode: 65000 x 65000 pixels .* is "
                       r"4,225,000,000 pixels, and Pillow decodes at most 2,000,000,000"):
        read_image(huge)


def test_16_bit_colour_png_past_opencvs_limit_is_named_not_called_corrupt(
    tmp_path: Path, budget: Callable[[int | None], None]
) -> None:
    budget(1 << 50)
    bomb = write_png_bomb(tmp_path / "c16.png", 33000, 33000, colour_type=2, bit_depth=16)  # 1.09 Gpx > 2^30
    with pytest.raises(ImageTooLarge, match=r"c16\.png: image too large to decode: 33000 x 33000 pixels \(PNG, RGB, "
                       r"16-bit\) is 1,089,000,000 pixels, and OpenCV decodes at most 1,073,741,824"):
        read_image(bomb)


def test_a_decode_that_runs_out_of_memory_names_the_file_and_size(
    tmp_path: Path, budget: Callable[[int | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (300, 200)).save(path)

    def out_of_memory(*args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(images, "_decode_image", out_of_memory)
    with pytest.raises(ImageTooLarge, match=r"photo\.png: ran out of memory decoding the image: 300 x 200 pixels "
                       r"\(PNG, RGB, 8-bit\), 175\.8 KiB decoded \(8\.0 GiB available now\)"):
        read_image(path)


def test_image_size_reads_a_bombs_header_only(tmp_path: Path, budget: Callable[[int | None], None]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's "decompression bomb" warning, which names no file, would fail it
        assert image_size(write_png_bomb(tmp_path / "bomb.png", 40000, 40000)) == (40000, 40000)
        assert image_size(write_jpeg_header(tmp_path / "huge.jpg", 65000, 65000)) == (65000, 65000)
        assert image_size(write_png_bomb(tmp_path / "blank.png", 30000, 30000)) == (30000, 30000)


# -- large real images still read -------------------------------------------------------------------------------


def test_images_past_qts_32767_pixels_still_read(tmp_path: Path, budget: Callable[[int | None], None]) -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (200, 33000, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "wide.png", compress_level=1)
    np.testing.assert_array_equal(read_image(tmp_path / "wide.png"), photo)
    mask = (np.arange(40000)[None, :] // 1000 % 2 * np.ones((300, 1), int)).astype(np.uint8)
    Image.fromarray(mask).save(tmp_path / "wide_mask.png")
    np.testing.assert_array_equal(read_class_mask(tmp_path / "wide_mask.png", LabelSet.with_count(2)), mask)
    tifffile.imwrite(tmp_path / "tall.tif", mask.T.copy())
    np.testing.assert_array_equal(read_raw_mask(tmp_path / "tall.tif").values, mask.T)


# -- the memory the system reports -----------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and RLIMIT_AS as Linux reports them")
def test_available_memory_honours_a_process_address_space_limit() -> None:
    """``ulimit -v`` on a cluster node: the readers plan with the room left under it, not the machine's memory."""
    assert (available_memory() or 0) > 0
    script = textwrap.dedent(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))
        from segstudio.io.memory_budget import available_memory
        print(available_memory())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert 0 < int(done.stdout) < 3 << 30
