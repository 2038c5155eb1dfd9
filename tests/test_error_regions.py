"""Error regions on real data: CamVid and ISBI, each image's "prediction" the ground truth of the next frame or slice
(so the errors are real shapes: moved cars, shifted membranes). Regions cover the error map exactly, the one under a
pixel is the listed one, and a fix writes exactly the region, as one undo step, with the live figures exact."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.core.error_map import ErrorKind
from segstudio.core.error_regions import FIXABLE, RegionFix, error_regions, region_at
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.core.session import ImageSession
from segstudio.io.datasets import open_dataset
from segstudio.io.images import read_image
from segstudio.io.mask_files import read_class_mask


def _pair(root: Path, shared: Path, kind: str) -> ImageSession:
    if kind == "camvid":
        source, names = shared / "camvid", ("0016E5_07959", "0016E5_07961")
        images, masks = source / "val", source / "valannot"
    else:
        source, names = shared / "isbi2012" / "train", ("0", "1")
        images, masks = source / "images", source / "masks"
        names = tuple(sorted((p.stem for p in images.iterdir()), key=lambda s: (len(s), s))[:2])
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    suffix = next(images.glob(f"{names[0]}.*")).suffix
    for name in names:
        shutil.copy(images / f"{name}{suffix}", root / "images" / f"{name}{suffix}")
        shutil.copy(next(masks.glob(f"{name}.*")), root / "masks" / next(masks.glob(f"{name}.*")).name)
    dataset = open_dataset(root)
    labels = dataset.spec.labels
    first, second = dataset.samples[:2]
    source_map = dataset.ground_truth_source(first).value_map
    truth = read_class_mask(dataset.ground_truth(first), labels, value_map=source_map)
    neighbour = read_class_mask(dataset.ground_truth(second), labels, value_map=source_map)
    return ImageSession.start(read_image(first.image), labels, ground_truth=truth, prediction=neighbour)


@pytest.fixture(params=["camvid", "isbi"])
def session(request, shared_data: Path, tmp_path: Path) -> ImageSession:  # noqa: ANN001
    return _pair(tmp_path / request.param, shared_data, request.param)


def _recount(session: ImageSession) -> np.ndarray:
    labels = session.labels
    truth, mask = session.ground_truth, session.mask
    if labels.ignore_index is not None:
        mask = np.where(mask == labels.ignore_index, truth, mask)
    return confusion_matrix(truth, mask, labels.num_classes, labels.ignore_index)


def test_regions_cover_the_error_map_exactly_largest_first(session: ImageSession) -> None:
    errors = session.error_map
    regions = session.error_regions()
    assert len(regions) > 3
    covered = np.zeros(errors.shape, dtype=np.int32)
    for region in regions:
        covered[region.rect.slices] += region.pixels
        assert (errors[region.rect.slices][region.pixels] == region.kind).all()
        assert region.area == int(region.pixels.sum())
    assert covered.max() == 1  # disjoint
    assert np.array_equal(covered.astype(bool), np.isin(errors, [int(k) for k in FIXABLE]))
    areas = [r.area for r in regions]
    assert areas == sorted(areas, reverse=True)
    # The region under a pixel is the listed one, found without listing the others.
    for region in regions[:5]:
        x, y = region.centre
        found = region_at(errors, x, y)
        assert found is not None and found.kind is region.kind and found.rect == region.rect
        assert np.array_equal(found.pixels, region.pixels)
    correct = np.argwhere(errors == ErrorKind.TRUE_POSITIVE) if (errors == ErrorKind.TRUE_POSITIVE).any() else \
        np.argwhere(errors == ErrorKind.TRUE_NEGATIVE)
    row, col = correct[0]
    assert region_at(errors, float(col), float(row)) is None


@pytest.mark.parametrize("fix", [RegionFix.TRUTH, RegionFix.PREDICTION, RegionFix.CLASS])
def test_a_fix_writes_exactly_the_region_as_one_undo_step(session: ImageSession, fix: RegionFix) -> None:
    session.accept_prediction()  # the working mask is the model's: its errors are what a labeler fixes
    before = session.mask.copy()
    region = session.error_regions()[0]
    value = 1 if fix is RegionFix.CLASS else None
    session.fix_error_region(region, fix, value)
    after = session.mask
    full = region.mask(session.shape)
    assert np.array_equal(after[~full], before[~full])  # nothing outside the region
    expected = {RegionFix.TRUTH: session.ground_truth, RegionFix.PREDICTION: session.prediction}.get(fix)
    if expected is None:
        assert (after[full] == 1).all()
    else:
        assert np.array_equal(after[full], expected[full])
    live = session.scores_vs_truth()
    assert np.array_equal(live.confusion, Scores.from_confusion(_recount(session)).confusion)
    if fix is RegionFix.TRUTH:
        assert session.error_region_at(*region.centre) is None  # fixed: no error there any more
    session.undo()
    assert np.array_equal(session.mask, before)


def test_fixes_are_refused_with_a_reason(session: ImageSession) -> None:
    region = session.error_regions()[0]
    bare = ImageSession.start(session.image, session.labels, ground_truth=session.ground_truth)
    with pytest.raises(ValueError, match="no prediction"):
        bare.fix_error_region(region, RegionFix.PREDICTION)
    with pytest.raises(ValueError):
        session.fix_error_region(region, RegionFix.CLASS, 999)


def test_regions_within_a_window_are_the_windows_own(session: ImageSession) -> None:
    # A huge image lists only what is looked at: the regions of a window are those of the map cut to it.
    errors = session.error_map
    height, width = errors.shape
    window = type(session.error_regions()[0].rect)(height // 4, width // 4, 3 * height // 4, 3 * width // 4)
    inside = session.error_regions(within=window)
    cut = error_regions(np.ascontiguousarray(errors[window.slices]))
    assert [r.area for r in inside] == [r.area for r in cut]
    for mine, theirs in zip(inside, cut, strict=True):
        assert mine.rect == theirs.rect.translated(window.top, window.left)
        assert np.array_equal(mine.pixels, theirs.pixels)
    x, y = inside[0].centre
    found = session.error_region_at(x, y, within=window)
    assert found is not None and found.rect == inside[0].rect
    assert session.error_region_at(float(window.left - 1), float(window.top - 1), within=window) is None
