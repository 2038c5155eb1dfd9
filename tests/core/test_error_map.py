from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core import error_map as error_map_module
from segstudio.core.error_map import ERROR_COLOURS, ERROR_NAMES, MARKED_KINDS, ErrorKind, error_map, error_palette
from segstudio.core.geometry import Rect

K = ErrorKind


def reference_kind(truth: int, predicted: int, background: int | None, ignore: int | None) -> ErrorKind:
    """One pixel, by the definitions, as slowly and plainly as possible."""
    if ignore is not None and truth == ignore:
        return K.IGNORED
    truth_bg = background is not None and truth == background
    pred_bg = background is not None and predicted == background
    if truth == predicted:
        return K.TRUE_NEGATIVE if truth_bg else K.TRUE_POSITIVE
    if truth_bg:
        return K.FALSE_POSITIVE
    if pred_bg:
        return K.FALSE_NEGATIVE
    return K.WRONG_CLASS


def test_every_kind_once() -> None:
    gt = np.array([[0, 2, 0, 2, 2, 255, 255]], np.uint8)
    pred = np.array([[0, 2, 1, 0, 3, 0, 4]], np.uint8)
    kinds = error_map(gt, pred, ignore_index=255)
    assert kinds.dtype == np.uint8
    assert kinds.tolist() == [[K.TRUE_NEGATIVE, K.TRUE_POSITIVE, K.FALSE_POSITIVE, K.FALSE_NEGATIVE, K.WRONG_CLASS, K.IGNORED, K.IGNORED]]


def test_another_background_and_none() -> None:
    gt = np.array([[3, 3, 1]], np.uint16)
    pred = np.array([[3, 1, 3]], np.uint16)
    assert error_map(gt, pred, background=3).tolist() == [[K.TRUE_NEGATIVE, K.FALSE_POSITIVE, K.FALSE_NEGATIVE]]
    assert error_map(gt, pred, background=None).tolist() == [[K.TRUE_POSITIVE, K.WRONG_CLASS, K.WRONG_CLASS]]


@st.composite
def cases(draw: st.DrawFn):
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int32, np.int64]))
    shape = (draw(st.integers(0, 30)), draw(st.integers(0, 30)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    gt = rng.integers(0, 4, shape).astype(dtype)
    pred = rng.integers(0, 4, shape).astype(dtype)
    ignore = draw(st.sampled_from([None, 255, 3]))
    if ignore == 255 and gt.size:
        gt[rng.random(shape) < 0.2] = 255
    background = draw(st.sampled_from([0, 2, None]))
    return gt, pred, background, ignore


@settings(max_examples=150, deadline=None)
@given(cases())
def test_matches_the_definitions(case) -> None:
    gt, pred, background, ignore = case
    expected = np.array(
        [[reference_kind(int(t), int(p), background, ignore) for t, p in zip(row_t, row_p)] for row_t, row_p in zip(gt, pred)],
        dtype=np.uint8,
    ).reshape(gt.shape)
    np.testing.assert_array_equal(error_map(gt, pred, background=background, ignore_index=ignore), expected)


def test_rect_into_a_caller_owned_buffer_touches_only_the_rect() -> None:
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 5, (40, 50), dtype=np.uint8)
    pred = rng.integers(0, 5, (40, 50), dtype=np.uint8)
    out = np.full(gt.shape, 99, np.uint8)
    rect = Rect(5, 7, 21, 30)
    returned = error_map(gt, pred, out=out, rect=rect)
    assert returned is out
    full = error_map(gt, pred)
    np.testing.assert_array_equal(out[rect.slices], full[rect.slices])
    outside = np.ones(gt.shape, bool)
    outside[rect.slices] = False
    assert (out[outside] == 99).all()


def test_live_updates_keep_the_buffer_equal_to_a_full_recompute() -> None:
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 4, (60, 70), dtype=np.uint8)
    pred = gt.copy()
    shown = error_map(gt, pred)
    for _ in range(200):
        top, left = int(rng.integers(0, 60)), int(rng.integers(0, 70))
        rect = Rect(top, left, top + int(rng.integers(0, 15)), left + int(rng.integers(0, 15))).clipped(gt.shape)
        pred[rect.slices] = int(rng.integers(0, 4))
        error_map(gt, pred, out=shown, rect=rect)
    np.testing.assert_array_equal(shown, error_map(gt, pred))


def test_rect_without_out_gives_the_crop() -> None:
    gt = np.array([[0, 1], [1, 1]], np.uint8)
    pred = np.array([[1, 1], [0, 1]], np.uint8)
    assert error_map(gt, pred, rect=Rect(1, 0, 2, 2)).tolist() == [[K.FALSE_NEGATIVE, K.TRUE_POSITIVE]]


def test_strided_inputs_and_output() -> None:
    rng = np.random.default_rng(2)
    gt = rng.integers(0, 4, (30, 40), dtype=np.uint8)
    pred = rng.integers(0, 4, (30, 40), dtype=np.uint8)
    buffer = np.zeros((40, 30), np.uint8)
    out = buffer.T  # a Fortran-ordered view of the caller's buffer
    error_map(gt[:, ::-1], pred[:, ::-1], out=out)
    np.testing.assert_array_equal(buffer.T, error_map(np.ascontiguousarray(gt[:, ::-1]), np.ascontiguousarray(pred[:, ::-1])))


def test_large_maps_are_tiled_consistently(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 4, (90, 110), dtype=np.uint8)
    pred = rng.integers(0, 4, (90, 110), dtype=np.uint8)
    whole = error_map(gt, pred, ignore_index=3)
    monkeypatch.setattr(error_map_module, "_TILE_PIXELS", 64)
    np.testing.assert_array_equal(error_map(gt, pred, ignore_index=3), whole)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pred": np.zeros((3, 3), np.uint8)}, "one shape"),
        ({"out": np.zeros((4, 4), np.uint16)}, "uint8 array"),
        ({"out": np.zeros((3, 4), np.uint8)}, "uint8 array"),
        ({"rect": Rect(2, 2, 6, 3)}, "reaches outside"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    args = {"gt": np.zeros((4, 4), np.uint8), "pred": np.zeros((4, 4), np.uint8)}
    args.update(kwargs)
    gt, pred = args.pop("gt"), args.pop("pred")
    with pytest.raises(ValueError, match=message):
        error_map(gt, pred, **args)


def test_colours_names_and_palette() -> None:
    assert set(ERROR_COLOURS) == set(ErrorKind) == set(ERROR_NAMES)
    # Only mistakes are marked (issue 10): correct pixels leave the class colours below alone.
    unmarked = (K.TRUE_NEGATIVE, K.TRUE_POSITIVE, K.IGNORED)
    assert all(ERROR_COLOURS[kind][3] == 0 for kind in unmarked)
    assert set(MARKED_KINDS) == set(ErrorKind) - set(unmarked)
    assert all(ERROR_COLOURS[kind][3] == 255 for kind in MARKED_KINDS)  # mistakes stand out
    r, g, b, _ = ERROR_COLOURS[K.FALSE_POSITIVE]
    assert r > g
    r, g, b, _ = ERROR_COLOURS[K.FALSE_NEGATIVE]
    assert b > r
    assert K.WRONG_CLASS.label == "wrong class"
    palette = error_palette()
    assert palette.shape == (256, 4) and palette.dtype == np.uint8
    overlay = palette[error_map(np.array([[1]], np.uint8), np.array([[2]], np.uint8))]
    assert tuple(overlay[0, 0]) == ERROR_COLOURS[K.WRONG_CLASS]
    chosen = error_palette(colours={K.WRONG_CLASS: (1, 2, 3, 255)})
    assert tuple(chosen[K.WRONG_CLASS]) == (1, 2, 3, 255) and not chosen[K.FALSE_POSITIVE].any()
    with pytest.raises(ValueError):
        error_palette(3)
