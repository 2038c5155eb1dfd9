from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from segstudio.core.compositing import HATCH_PERIOD, HATCH_WIDTH, ImageSampling, composite, out_rect, out_shape
from segstudio.core.error_map import ErrorKind, error_map
from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.image_display import ImageDisplay
from segstudio.core.labels import IGNORE_COLOUR, LabelSet
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes

H, W = 45, 61  # odd sizes: partial blocks at every step
LABELS = LabelSet.from_names(["background", "road", "car", "person"], ignore_index=255)
PALETTES = Palettes.for_labels(LABELS)


def scene(seed: int = 0, dtype: type = np.uint8):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    truth = np.repeat(np.repeat(rng.integers(0, 4, (H // 5 + 1, W // 5 + 1)), 5, 0), 5, 1)[:H, :W].astype(dtype)
    truth[rng.random((H, W)) < 0.03] = 255
    working = np.where(rng.random((H, W)) < 0.8, truth, rng.integers(0, 4, (H, W))).astype(dtype)
    working[working == 255] = 0
    errors = error_map(truth, working, ignore_index=255)
    layers = [
        (LayerKind.GROUND_TRUTH, truth, LayerStyle(opacity=0.35)),
        (LayerKind.PREDICTION, working[::-1].copy(), LayerStyle(opacity=0.8, outline_only=True)),
        (LayerKind.WORKING, working, LayerStyle(opacity=0.6)),
        (LayerKind.ERROR_MAP, errors, LayerStyle(opacity=0.5, outline_only=True)),
        (LayerKind.ERROR_MAP, errors, LayerStyle(opacity=0.9, hatched=True)),
    ]
    return image, layers


def render(image, layers, *, step=1, rect=None, sampling=ImageSampling.AREA, **kwargs) -> np.ndarray:
    out = np.zeros(out_shape((H, W), step), dtype=np.uint8)
    composite(out, rect or Rect(0, 0, H, W), image=image, layers=layers, palettes=PALETTES, step=step,
              sampling=sampling, **kwargs)
    return out


rects = st.builds(
    lambda t, l, h, w: Rect(t, l, t + h, l + w),
    st.integers(-5, H), st.integers(-5, W), st.integers(0, H), st.integers(0, W),
)


@settings(max_examples=40, deadline=None)
@given(rect=rects, step=st.sampled_from([1, 2, 3, 8]), sampling=st.sampled_from(list(ImageSampling)))
@example(rect=Rect(0, 0, 1, 1), step=1, sampling=ImageSampling.NEAREST)  # one pixel: OpenCV's scalar trap
def test_a_rect_composite_equals_that_region_of_the_full_composite(rect: Rect, step: int, sampling: ImageSampling) -> None:
    image, layers = scene(1)
    full = render(image, layers, step=step, sampling=sampling)
    out = np.zeros_like(full)
    written = composite(out, rect, image=image, layers=layers, palettes=PALETTES, step=step, sampling=sampling)
    assert written == out_rect(rect, (H, W), out.shape, step)
    np.testing.assert_array_equal(out[written.slices], full[written.slices])
    untouched = np.ones(out.shape[:2], dtype=bool)
    untouched[written.slices] = False
    assert not out[untouched].any()  # nothing outside the rectangle was written


@pytest.mark.parametrize("step", [1, 4])
def test_tiles_with_an_origin_match_the_whole_buffer(step: int) -> None:
    image, layers = scene(2)
    full = render(image, layers, step=step)
    tile = 5  # buffer pixels per tile side
    for oy in range(0, H, tile * step):
        for ox in range(0, W, tile * step):
            buffer = np.zeros((tile, tile, 4), dtype=np.uint8)
            written = composite(buffer, Rect(0, 0, H, W), image=image, layers=layers, palettes=PALETTES, step=step,
                                origin=(oy, ox))
            i, j = oy // step, ox // step
            np.testing.assert_array_equal(buffer[written.slices], full[i : i + written.height, j : j + written.width])


def test_invisible_and_transparent_layers_change_nothing() -> None:
    image, layers = scene(3)
    base = render(image, [])
    for kind, mask, _ in layers:
        for style in (LayerStyle(opacity=0.0), LayerStyle(visible=False), LayerStyle(visible=False, outline_only=True)):
            np.testing.assert_array_equal(render(image, [(kind, mask, style)]), base)
    np.testing.assert_array_equal(base[..., :3], image)
    assert (base[..., 3] == 255).all()
    hidden = render(image, [], image_style=LayerStyle(visible=False))
    assert (hidden[..., :3] == 0).all() and (hidden[..., 3] == 255).all()
    half = render(image, [], image_style=LayerStyle(opacity=0.5))
    np.testing.assert_allclose(half[..., :3], image * 0.5, atol=1)  # the image over black


def test_class_colours_background_transparent_and_ignore_in_its_colour() -> None:
    image, _ = scene(4)
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[5:10, 5:10] = 2
    mask[20:30, 0:W] = 255
    out = render(image, [(LayerKind.WORKING, mask, LayerStyle())])
    np.testing.assert_array_equal(out[0, 0, :3], image[0, 0])  # background: the image shows through
    np.testing.assert_array_equal(out[7, 7, :3], LABELS.classes[2].colour)
    np.testing.assert_array_equal(out[25, 3, :3], IGNORE_COLOUR)

    # Partial opacity is "over": image * (1 - a) + colour * a, to the nearest level (within one).
    out = render(image, [(LayerKind.WORKING, mask, LayerStyle(opacity=0.4))])
    expected = image[7, 7] * 0.6 + np.array(LABELS.classes[2].colour) * 0.4
    np.testing.assert_allclose(out[7, 7, :3], expected, atol=1)

    errors = np.full((H, W), ErrorKind.FALSE_POSITIVE, dtype=np.uint8)
    out = render(image, [(LayerKind.ERROR_MAP, errors, LayerStyle())])
    assert (out[..., :3] == PALETTES.errors[ErrorKind.FALSE_POSITIVE, :3]).all()


def test_outline_mode_draws_only_pixels_with_a_different_4_neighbour() -> None:
    image, _ = scene(5)
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[10:20, 10:30] = 1
    mask[15:25, 25:40] = 3
    out = render(image, [(LayerKind.WORKING, mask, LayerStyle(outline_only=True))])
    edges = np.zeros((H, W), dtype=bool)
    for axis in (0, 1):
        differ = np.diff(mask.astype(int), axis=axis) != 0
        lead = [slice(None)] * 2
        lead[axis] = slice(1, None)
        trail = [slice(None)] * 2
        trail[axis] = slice(None, -1)
        edges[tuple(lead)] |= differ
        edges[tuple(trail)] |= differ
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[:4] = LABELS.colours
    expected = np.where(edges[..., None], colours[mask], image)
    expected[edges & (mask == 0)] = image[edges & (mask == 0)]  # background stays transparent on its own edge
    np.testing.assert_array_equal(out[..., :3], expected)
    # A rectangle that cuts through a boundary still finds it by looking one pixel beyond.
    part = np.zeros_like(out)
    composite(part, Rect(10, 10, 11, 30), image=image, layers=[(LayerKind.WORKING, mask, LayerStyle(outline_only=True))],
              palettes=PALETTES)
    np.testing.assert_array_equal(part[10, 10:30], out[10, 10:30])
    composite(part, Rect(11, 11, 19, 24), image=image, layers=[(LayerKind.WORKING, mask, LayerStyle(outline_only=True))],
              palettes=PALETTES)
    np.testing.assert_array_equal(part[11:19, 11:24, :3], image[11:19, 11:24])  # the inside of a region: no outline


def test_hatching_draws_stripes_and_the_outline_so_what_is_below_shows_between() -> None:
    """The error map over the working mask (issue 10): inside a marked region two thirds of the pixels keep the
    working mask's class colour exactly; the stripes and the region's outline take the error colour."""
    image, _ = scene(11)
    working = np.zeros((H, W), dtype=np.uint8)
    working[5:40, 5:55] = 2
    errors = np.zeros((H, W), dtype=np.uint8)
    errors[10:35, 10:50] = ErrorKind.WRONG_CLASS
    below = render(image, [(LayerKind.WORKING, working, LayerStyle())])
    out = render(image, [(LayerKind.WORKING, working, LayerStyle()),
                         (LayerKind.ERROR_MAP, errors, LayerStyle(hatched=True))])
    rows, cols = np.indices((H, W))
    stripes = (rows + cols) % HATCH_PERIOD < HATCH_WIDTH
    marked = errors == ErrorKind.WRONG_CLASS
    outline = marked & ~np.pad(marked, 1)[:-2, 1:-1] | marked & ~np.pad(marked, 1)[2:, 1:-1]
    outline |= marked & ~np.pad(marked, 1)[1:-1, :-2] | marked & ~np.pad(marked, 1)[1:-1, 2:]
    drawn = marked & (stripes | outline)
    assert (out[drawn, :3] == PALETTES.errors[ErrorKind.WRONG_CLASS, :3]).all()
    np.testing.assert_array_equal(out[~drawn], below[~drawn])  # the class colour, untouched, between the stripes
    inside = marked & ~outline
    assert np.count_nonzero(inside & ~stripes) >= 0.6 * np.count_nonzero(inside)
    # Outline only wins over hatching: no stripes inside.
    lines = render(image, [(LayerKind.WORKING, working, LayerStyle()),
                           (LayerKind.ERROR_MAP, errors, LayerStyle(outline_only=True, hatched=True))])
    np.testing.assert_array_equal(lines[inside], below[inside])
    assert (lines[outline, :3] == PALETTES.errors[ErrorKind.WRONG_CLASS, :3]).all()


def test_outlines_with_a_palette_that_draws_every_value() -> None:
    """Off the outline nothing is drawn, even when no value of the table is transparent to stand in for it."""
    image, layers = scene(12)
    rng = np.random.default_rng(12)
    opaque = np.concatenate([rng.integers(0, 256, (256, 3)), np.full((256, 1), 255)], axis=1).astype(np.uint8)
    every = Palettes(opaque, np.concatenate([opaque[:, :3], np.full((256, 1), 255, np.uint8)], axis=1))
    usual = Palettes(np.where(np.arange(256)[:, None] == 200, 0, opaque).astype(np.uint8), every.errors)
    assert every.clear_value(LayerKind.WORKING, 256) is None and usual.clear_value(LayerKind.WORKING, 256) == 200
    assert PALETTES.clear_value(LayerKind.ERROR_MAP, 256) == 255  # all bits set: reached with one OR
    mask = layers[2][1]  # never holds 200
    for style in (LayerStyle(opacity=0.7, outline_only=True), LayerStyle(opacity=0.7, hatched=True)):
        drawn = []
        for palettes in (every, usual):
            out = np.zeros((H, W, 4), np.uint8)
            composite(out, Rect(0, 0, H, W), image=image, layers=[(LayerKind.WORKING, mask, style)], palettes=palettes)
            drawn.append(out)
        np.testing.assert_array_equal(drawn[0], drawn[1])


@pytest.mark.parametrize("step", [2, 3, 8])
def test_step_equals_compositing_the_subsampled_arrays(step: int) -> None:
    image, layers = scene(6)
    coarse = render(image, layers, step=step, sampling=ImageSampling.NEAREST)
    subsampled = [(kind, mask[::step, ::step], style) for kind, mask, style in layers]
    small = np.zeros((*subsampled[0][1].shape, 4), dtype=np.uint8)
    composite(small, Rect(0, 0, H, W), image=image[::step, ::step], layers=subsampled, palettes=PALETTES)
    np.testing.assert_array_equal(coarse, small)
    # Without outlines that is the full-resolution composite, subsampled.
    filled = [(kind, mask, LayerStyle(opacity=style.opacity)) for kind, mask, style in layers]
    full = render(image, filled)
    np.testing.assert_array_equal(render(image, filled, step=step, sampling=ImageSampling.NEAREST), full[::step, ::step])


@pytest.mark.parametrize("step", [2, 3, 8])
def test_area_sampling_averages_each_block(step: int) -> None:
    image, _ = scene(7)
    out = render(image, [], step=step, sampling=ImageSampling.AREA)
    rows, cols = out.shape[:2]
    expected = np.empty((rows, cols, 3))
    for i in range(rows):
        for j in range(cols):
            expected[i, j] = image[i * step : (i + 1) * step, j * step : (j + 1) * step].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(out[..., :3], expected, atol=0.5 + 1e-9)


def test_16_bit_images_and_masks() -> None:
    rng = np.random.default_rng(8)
    image = (rng.integers(1000, 3000, (H, W))).astype(np.uint16)
    image[0, 0] = 65535  # one hot pixel: the default window (percentiles, test_image_display.py) ignores it
    auto = ImageDisplay.for_image(image)
    out = render(image, [], display=auto)
    expected = np.clip((image.astype(float) - auto.low) * 255 / (auto.high - auto.low), 0, 255)
    np.testing.assert_allclose(out[..., 0], expected, atol=0.5 + 1e-9)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # grey
    assert out[0, 0, 0] == 255
    coarse = render(image, [], display=auto, step=3)  # area means of 16-bit values, then the window
    block = image[3:6, 3:6].astype(float).mean()
    assert abs(int(coarse[1, 1, 0]) - (block - auto.low) * 255 / (auto.high - auto.low)) <= 1

    colour16 = rng.integers(0, 65536, (H, W, 3)).astype(np.uint16)
    np.testing.assert_array_equal(render(colour16, [])[..., :3], (colour16 / 257).round().astype(np.uint8))

    _, layers8 = scene(9)
    _, layers16 = scene(9, np.uint16)
    eight = render(colour16, layers8, display=ImageDisplay.full_range(np.uint16))
    sixteen = render(colour16, layers16, display=ImageDisplay.full_range(np.uint16))
    np.testing.assert_array_equal(eight, sixteen)  # a mask's colours never depend on its dtype


def test_bad_arguments_are_refused() -> None:
    image, layers = scene(10)
    out = np.zeros((H, W, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="pass the image as image="):
        composite(out, Rect(0, 0, H, W), image=image, layers=[(LayerKind.IMAGE, image[..., 0], LayerStyle())],
                  palettes=PALETTES)
    with pytest.raises(ValueError, match="every layer must match the image"):
        composite(out, Rect(0, 0, H, W), image=image, layers=[(LayerKind.WORKING, np.zeros((3, 3), np.uint8), LayerStyle())],
                  palettes=PALETTES)
    with pytest.raises(ValueError, match="RGBA"):
        composite(np.zeros((H, W, 3), np.uint8), Rect(0, 0, H, W), image=image, layers=[], palettes=PALETTES)
    with pytest.raises(ValueError, match="side by side"):
        composite(np.zeros((W, H, 4), np.uint8).transpose(1, 0, 2), Rect(0, 0, H, W), image=image, layers=[],
                  palettes=PALETTES)
    with pytest.raises(ValueError, match="step"):
        composite(out, Rect(0, 0, H, W), image=image, layers=[], palettes=PALETTES, step=0)
    with pytest.raises(ValueError, match="uint8 or uint16"):
        composite(out, Rect(0, 0, H, W), image=image.astype(np.float32), layers=[], palettes=PALETTES)
    assert composite(out, Rect(H, W, H + 5, W + 5), image=image, layers=layers, palettes=PALETTES) == EMPTY_RECT
