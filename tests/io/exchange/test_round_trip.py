"""Every format round-trips the real masks: lossless ones bit-exact, polygon ones with the differences the report
counts being exactly the pixels that differ when the output is read back independently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.core.labels import LabelSet
from segstudio.io.exchange import AnnotatedImage, Annotations, ExchangeFormat, export_annotations, import_annotations

from tests.io.exchange.conftest import class_noise

LOSSLESS = [f for f in ExchangeFormat if f.lossless]
POLYGONS = [f for f in ExchangeFormat if not f.lossless]


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


@pytest.mark.parametrize("data", ["camvid", "pennfudan", "voc_example"])
@pytest.mark.parametrize("fmt", LOSSLESS, ids=lambda f: f.value)
def test_lossless_formats_read_back_bit_exact(fmt: ExchangeFormat, data: str, request, tmp_path: Path) -> None:  # noqa: ANN001
    annotations: Annotations = request.getfixturevalue(data)
    report = export_annotations(annotations, fmt, tmp_path / "out")
    assert report.exact and report.differing_pixels == 0
    back = import_annotations(fmt, tmp_path / "out", labels=annotations.labels)
    assert [i.name for i in back.images] == [i.name for i in annotations.images]
    for original in annotations.images:
        again = back.image(original.name)
        assert np.array_equal(again.classes, original.classes)
        if original.instances is not None:
            assert again.instances is not None
            assert dict(again.instances.classes.items()) | {} == {
                k: v for k, v in again.instances.classes.items() if k in again.instances.instance_ids}
            if fmt is ExchangeFormat.COCO:  # COCO numbers objects itself: same objects, same classes
                assert _same_partition(original.instances.ids, again.instances.ids)
            else:
                assert np.array_equal(again.instances.ids, original.instances.ids)


def test_lossless_formats_read_back_without_the_label_set(voc_example: Annotations, tmp_path: Path) -> None:
    """PNG (labels.toml), VOC (labels.toml) and COCO (info.segstudio.labels) carry the label set themselves."""
    for fmt in LOSSLESS:
        export_annotations(voc_example, fmt, tmp_path / fmt.value)
        back = import_annotations(fmt, tmp_path / fmt.value)
        assert back.labels == voc_example.labels
        assert all(np.array_equal(back.image(i.name).classes, i.classes) for i in voc_example.images)


@pytest.mark.parametrize("data", ["camvid", "pennfudan", "voc_example"])
@pytest.mark.parametrize("fmt", POLYGONS, ids=lambda f: f.value)
def test_polygon_formats_count_exactly_the_pixels_that_differ(fmt: ExchangeFormat, data: str, request, tmp_path: Path) -> None:  # noqa: ANN001
    annotations: Annotations = request.getfixturevalue(data)
    report = export_annotations(annotations, fmt, tmp_path / "out")
    back = import_annotations(fmt, tmp_path / "out", labels=annotations.labels)
    for original, check in zip(annotations.images, report.images, strict=True):
        again = back.image(original.name)
        real = original.classes != again.classes
        if original.instances is not None:
            real |= _instance_mismatch(original.instances.ids, again.instances.ids)
        assert check.differing_pixels == int(real.sum()), check.describe()
        assert sum(r.pixels for r in check.reasons) == check.differing_pixels
        assert sum(check.per_class.values()) == check.differing_pixels
        values, counts = np.unique(original.classes[real], return_counts=True)
        assert dict(check.per_class) == dict(zip(values.tolist(), counts.tolist(), strict=True))
    assert report.exact == (report.differing_pixels == 0)


def _instance_mismatch(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Independent of compare.py: greedy one-to-one matching of instances by overlap, pixel by pixel."""
    wrong = np.zeros(before.shape, dtype=bool)
    used: set[int] = set()
    pairs = []
    for b in np.unique(before[before > 0]).tolist():
        ids, counts = np.unique(after[before == b], return_counts=True)
        pairs += [(int(c), b, int(a)) for a, c in zip(ids.tolist(), counts.tolist(), strict=True) if a > 0]
    match: dict[int, int] = {}
    for _, b, a in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if b not in match and a not in used:
            match[b], _ = a, used.add(a)
    for b in np.unique(before).tolist():
        wrong |= (before == b) & (after != (0 if b == 0 else match.get(b, -1)))
    wrong |= (before == 0) & (after > 0)
    return wrong


def test_polygon_formats_measured_on_the_real_examples(camvid: Annotations, pennfudan: Annotations,
                                                       voc_example: Annotations, tmp_path: Path) -> None:  # fmt: skip
    """The measured truth: labelme stores everything (holes as later _background_/__ignore__ shapes); COCO polygons
    lose background holes only; YOLO loses holes, ignore pixels and multi-part objects' identity."""
    measured = {}
    for name, data in [("camvid", camvid), ("pennfudan", pennfudan), ("voc", voc_example)]:
        for fmt in POLYGONS:
            report = export_annotations(data, fmt, tmp_path / name / fmt.value)
            measured[name, fmt.value] = report.differing_pixels
    assert measured == {
        ("camvid", "coco-polygons"): 499, ("camvid", "labelme"): 0, ("camvid", "yolo"): 499,
        ("pennfudan", "coco-polygons"): 0, ("pennfudan", "labelme"): 0, ("pennfudan", "yolo"): 0,
        ("voc", "coco-polygons"): 267, ("voc", "labelme"): 0, ("voc", "yolo"): 17575,
    }  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fmt", POLYGONS, ids=lambda f: f.value)
def test_polygons_on_blobby_noise(fmt: ExchangeFormat, seed: int, tmp_path: Path) -> None:
    """Without a background class every pixel is drawn: slivers, one-pixel dots, diagonal joints and islands in other
    classes' holes come back (largest shapes first, nested ones after). labelme is exact (what drawing order cannot
    fix gets later shapes). COCO polygons and YOLO lose only pixels where two classes cross at a diagonal joint
    (both 8-connected through it): one's polygon then covers the other's pixels, counted as lying in its holes."""
    from dataclasses import replace

    from PIL import Image

    labels = replace(LabelSet.with_count(4), background=None)
    mask = class_noise(48, 64, 4, seed)
    image = tmp_path / "img.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(image)
    report = export_annotations(Annotations(labels, (AnnotatedImage("noise", mask, None, image),)), fmt, tmp_path / "out")
    if fmt is ExchangeFormat.LABELME:
        assert report.exact, report.describe()
    else:
        check = report.images[0]
        assert 0 < check.differing_pixels < 0.03 * mask.size  # measured 37..50 of 3072 px
        assert all(r.text.startswith("in holes") for r in check.reasons), check.describe()


def test_holes_are_counted_and_labelme_stores_them(tmp_path: Path) -> None:
    labels = LabelSet.from_names(["background", "ring", "dot"], ignore_index=255)
    mask = np.zeros((30, 40), np.uint8)
    mask[5:25, 5:35] = 1
    mask[10:20, 10:18] = 0  # a background hole: 80 px
    mask[10:20, 22:30] = 2  # another class in a hole: drawn after the ring
    mask[12:14, 24:26] = 255  # ignore pixels inside that
    image = tmp_path / "img.png"
    from PIL import Image

    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(image)
    annotations = Annotations(labels, (AnnotatedImage("ring", mask, None, image),))
    assert export_annotations(annotations, "labelme", tmp_path / "labelme").exact
    for fmt, ignore in (("coco-polygons", 0), ("yolo", 4)):
        check = export_annotations(annotations, fmt, tmp_path / fmt).images[0]
        assert check.differing_pixels == 80 + ignore
        assert check.per_class == ({0: 80, 255: 4} if ignore else {0: 80})
        texts = {r.text.split(" ")[0]: r.pixels for r in check.reasons}
        assert texts["in"] == 80
        if ignore:
            assert texts["ignore"] == 4
