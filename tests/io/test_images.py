from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile

from segstudio.core.errors import FileProblem
from segstudio.io.images import IMAGE_SUFFIXES, image_size, read_image

# -- real data ------------------------------------------------------------------------------------------------


def test_isbi_slice_is_8_bit_grey(shared_data: Path) -> None:
    pixels = read_image(shared_data / "isbi2012" / "train" / "images" / "0.png")
    assert pixels.shape == (512, 512) and pixels.dtype == np.uint8


def test_camvid_photo_is_rgb(shared_data: Path) -> None:
    path = sorted((shared_data / "camvid" / "train").glob("*.png"))[0]
    pixels = read_image(path)
    assert pixels.shape == (360, 480, 3) and pixels.dtype == np.uint8
    # Same pixels as an independent decoder (OpenCV, BGR).
    np.testing.assert_array_equal(pixels, cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1])
    assert image_size(path) == (480, 360)


def test_voc_jpeg(shared_data: Path) -> None:
    for path in sorted((shared_data / "voc_coco_labelme_example").rglob("*.jpg")):
        pixels = read_image(path)
        assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
        assert image_size(path) == (pixels.shape[1], pixels.shape[0])


def test_penn_fudan_sizes_from_headers(shared_data: Path) -> None:
    paths = sorted((shared_data / "pennfudan" / "PNGImages").glob("*.png"))[:10]
    sizes = {image_size(p) for p in paths}
    assert len(sizes) > 1  # every image a different size
    for path in paths[:3]:
        pixels = read_image(path)
        assert image_size(path) == (pixels.shape[1], pixels.shape[0])


def test_foreign_16_bit_predictions_stay_16_bit(shared_data: Path) -> None:
    path = shared_data / "isbi2012" / "test" / "foreign_predictions_16bit_256px" / "0_predict.png"
    pixels = read_image(path)
    assert pixels.dtype == np.uint16 and pixels.shape == (256, 256)
    assert pixels.max() > 255  # really uses the 16 bits
    np.testing.assert_array_equal(pixels, cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
    assert image_size(path) == (256, 256)


# -- formats --------------------------------------------------------------------------------------------------


def test_16_bit_grey_tiff_round_trip(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 65536, (30, 40), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", data)
    pixels = read_image(tmp_path / "a.tif")
    assert pixels.dtype == np.uint16
    np.testing.assert_array_equal(pixels, data)
    assert image_size(tmp_path / "a.tif") == (40, 30)


def test_big_endian_tiff_is_native(tmp_path: Path) -> None:
    data = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    tifffile.imwrite(tmp_path / "be.tiff", data, byteorder=">")
    pixels = read_image(tmp_path / "be.tiff")
    assert pixels.dtype == np.dtype(np.uint16) and pixels.dtype.isnative
    np.testing.assert_array_equal(pixels, data)


def test_rgb_tiffs_interleaved_planar_and_with_alpha(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "contig.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    rgba = np.concatenate([rgb, np.full((20, 30, 1), 65535, np.uint16)], axis=-1)
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    for name in ("contig.tif", "planar.tif", "rgba.tif"):
        np.testing.assert_array_equal(read_image(tmp_path / name), rgb, err_msg=name)


def test_float_tiff_is_refused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "f.tif", np.zeros((4, 4), np.float32))
    with pytest.raises(FileProblem, match="float32 samples are not supported"):
        read_image(tmp_path / "f.tif")


def test_16_bit_colour_png_keeps_16_bits(tmp_path: Path) -> None:
    rgb = np.random.default_rng(2).integers(0, 65536, (10, 12, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb[..., ::-1])
    pixels = read_image(tmp_path / "c16.png")
    assert pixels.dtype == np.uint16
    np.testing.assert_array_equal(pixels, rgb)


def test_modes_become_grey_or_rgb(tmp_path: Path) -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgba[..., :3])

    palette_image = Image.frombytes("P", (2, 1), bytes([0, 1]))
    palette_image.putpalette([10, 20, 30, 40, 50, 60])
    palette_image.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), [[[10, 20, 30], [40, 50, 60]]])

    Image.fromarray(np.array([[True, False]])).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bits.png"), [[255, 0]])

    Image.new("LA", (3, 2), (77, 5)).save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png"), np.full((2, 3), 77))

    Image.new("RGB", (3, 2), (1, 2, 3)).save(tmp_path / "x.bmp")
    assert read_image(tmp_path / "x.bmp").shape == (2, 3, 3)


@pytest.mark.parametrize(("orientation", "swapped"), [(1, False), (3, False), (6, True), (8, True)])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, swapped: bool) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:10, :10] = 255  # a white top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)
    read = read_image(path)
    assert read.shape[:2] == ((40, 20) if swapped else (20, 40))
    assert image_size(path) == (read.shape[1], read.shape[0])
    if orientation == 6:  # rotate 90 clockwise to display: the top-left corner moves to the top-right
        assert read[:10, -10:].mean() > 200 and read[-10:, :10].mean() < 50


# -- broken files ---------------------------------------------------------------------------------------------


def _real_png(shared_data: Path) -> Path:
    return shared_data / "isbi2012" / "train" / "masks" / "0.png"


def _assert_problem(path: Path, text: str, *, size_too: bool = True) -> None:
    readers = (read_image, image_size) if size_too else (read_image,)
    for reader in readers:
        with pytest.raises(FileProblem) as caught:
            reader(path)
        assert str(path) in str(caught.value) and text in str(caught.value), str(caught.value)
        assert caught.value.path == path


def test_missing_file(tmp_path: Path) -> None:
    _assert_problem(tmp_path / "nope.png", "file not found")


def test_folder(tmp_path: Path) -> None:
    _assert_problem(tmp_path, "is a folder")


def test_empty_png(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_problem(tmp_path / "empty.png", "file is empty (0 bytes)")


def test_truncated_png(shared_data: Path, tmp_path: Path) -> None:
    data = _real_png(shared_data).read_bytes()
    path = tmp_path / "half.png"
    path.write_bytes(data[: len(data) // 2])
    _assert_problem(path, "image is truncated", size_too=False)
    assert image_size(path) == (512, 512)  # the header is intact, and image_size reads nothing else
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_png_cut_inside_its_header(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "head.png"
    path.write_bytes(_real_png(shared_data).read_bytes()[:20])
    _assert_problem(path, "image is truncated")


def test_text_file_renamed_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are notes, not pixels\n")
    _assert_problem(path, "not a readable image: the format is not recognised")


def test_jpeg_cut_short(shared_data: Path, tmp_path: Path) -> None:
    source = sorted((shared_data / "voc_coco_labelme_example").rglob("*.jpg"))[0]
    data = source.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    _assert_problem(path, "image is truncated", size_too=False)


def test_corrupt_tiff(tmp_path: Path) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(b"II*\x00" + b"\xff" * 20)
    _assert_problem(path, "not a readable TIFF")


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_truncated_tiff(tmp_path: Path, compression: str | None) -> None:
    data = np.random.default_rng(3).integers(0, 65536, (200, 300), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "whole.tif", data, compression=compression)
    whole = (tmp_path / "whole.tif").read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(whole[: len(whole) // 2])
    _assert_problem(path, "image is truncated", size_too=False)


def test_image_size_does_not_decode_pixels(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("image_size decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    assert image_size(_real_png(shared_data)) == (512, 512)
    jpeg = sorted((shared_data / "voc_coco_labelme_example").rglob("*.jpg"))[0]
    assert image_size(jpeg)[0] > 0


def test_image_suffixes() -> None:
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"} <= IMAGE_SUFFIXES
    assert all(s == s.lower() and s.startswith(".") for s in IMAGE_SUFFIXES)
    assert Path("A.PNG").suffix.lower() in IMAGE_SUFFIXES
