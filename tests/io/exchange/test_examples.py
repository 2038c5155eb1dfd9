"""The VOC/COCO/labelme example of ../shared/data: three tools' files for the same three photos.

Measured truth: labelme's JSON drawn as labelme draws it (PIL polygon with outline and fill, file order, later over
earlier) gives labelme2voc's SegmentationClass and SegmentationObject back but for one pixel, which Pillow versions
draw differently (see the test). The COCO file decodes exactly as pycocotools' own ``COCO.annToMask`` does; against
the VOC masks it differs at polygon outlines only (pycocotools reads labelme's pixel-centre points as pixel-edge
coordinates, half a pixel off, and has no outline rule), plus the ``__ignore__`` regions labelme2coco drops.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from segstudio.core.labels import LabelSet
from segstudio.io.exchange import ExchangeFormat, detect_format, import_annotations

# pycocotools 2.0.x under NumPy 2 (its own annToMask, called here) warns about __array__'s copy keyword
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

NAMES = ["2011_000003", "2011_000006", "2011_000025"]


def test_the_formats_are_detected(example: Path) -> None:
    assert detect_format(example / "voc") is ExchangeFormat.VOC
    assert detect_format(example / "coco") is ExchangeFormat.COCO_POLYGONS
    assert detect_format(example / "coco" / "annotations.json") is ExchangeFormat.COCO_POLYGONS
    assert detect_format(example / "labelme_json") is ExchangeFormat.LABELME


def test_labelme_import_gives_labelme2voc_masks_but_one_pixel(example: Path, example_labels: LabelSet) -> None:
    voc = import_annotations("voc", example / "voc", labels=example_labels)
    labelme = import_annotations("labelme", example / "labelme_json", labels=example_labels)
    assert [i.name for i in labelme.images] == NAMES
    for name in NAMES:
        truth, ours = voc.image(name), labelme.image(name)
        assert ours.image_path == example / "labelme_json" / f"{name}.jpg"
        differs = np.argwhere(truth.classes != ours.classes)
        # instance ids too, numbered as labelme2voc numbers them (2011_000006 skips 6: its __ignore__ shape)
        assert np.array_equal(np.argwhere(truth.instances.ids != ours.instances.ids), differs)
        if name != "2011_000006":
            assert len(differs) == 0
            continue
        # Pixel (x=104, y=290) lies outside every polygon, 0.40 px from a person's outline and 0.57 px from a sofa
        # triangle's (shape 7, drawn later). Pillow 13 draws only the person's outline over it; the Pillow labelme2voc
        # ran with also drew the sofa's: outline rasterisation is all that differs.
        assert differs.tolist() == [[290, 104]]
        assert (truth.classes[290, 104], ours.classes[290, 104]) == (example_labels.id_of("sofa"), example_labels.id_of("person"))
    assert 6 not in voc.image("2011_000006").instances.instance_ids
    assert labelme.image("2011_000006").instances.instance_ids == voc.image("2011_000006").instances.instance_ids


def test_labelme_group_ids_join_parts_into_one_instance(example: Path, example_labels: LabelSet) -> None:
    image = import_annotations("labelme", example / "labelme_json", labels=example_labels).image("2011_000006")
    sofa = [i for i in image.instances.instance_ids if image.instances.class_of(i) == example_labels.id_of("sofa")]
    assert len(sofa) == 1  # shapes 6..9, group_id 0
    parts, _ = _components(image.instances.ids == sofa[0])
    assert parts >= 2


def test_labelme_ignore_shapes_become_the_ignore_id(example: Path, example_labels: LabelSet) -> None:
    image = import_annotations("labelme", example / "labelme_json", labels=example_labels).image("2011_000003")
    ignored = image.classes == 255
    assert ignored.sum() == 9460 and not (image.instances.ids[ignored] > 0).any()


def test_coco_decodes_as_pycocotools_does_with_category_0_the_background(example: Path, example_labels: LabelSet) -> None:
    from pycocotools.coco import COCO

    coco = import_annotations("coco", example / "coco", labels=example_labels)
    api = COCO(str(example / "coco" / "annotations.json"))
    overlaps = 0
    for entry in api.dataset["images"]:
        name = Path(entry["file_name"]).stem
        image = coco.image(name)
        assert image.image_path == example / "coco" / entry["file_name"]  # the JPEGImages/ prefix is followed
        painted = np.zeros((entry["height"], entry["width"]), np.int64)
        cover = np.zeros_like(painted)
        for number, annotation in enumerate(api.loadAnns(api.getAnnIds(imgIds=[entry["id"]])), 1):
            mask = api.annToMask(annotation) > 0
            painted[mask] = annotation["category_id"]  # category ids are class ids here: names match in order
            cover += mask
            assert (image.instances.ids == number).sum() <= mask.sum()  # later annotations win overlaps
        overlaps += int((cover > 1).sum())
        assert np.array_equal(image.classes, painted)
    assert overlaps > 0  # the file has overlapping objects, and later-over-earlier decided them
    # without a label set: categories make one, category 0 (_background_) is the background class, not a class
    own = import_annotations("coco", example / "coco")
    assert own.labels.names[0] == "background" and "_background_" not in own.labels.names
    assert own.labels.names[1:] == example_labels.names[1:]
    assert all(np.array_equal(own.image(n).classes, coco.image(n).classes) for n in NAMES)


def test_coco_multi_part_annotations_are_one_instance(example: Path, example_labels: LabelSet) -> None:
    coco = import_annotations("coco", example / "coco", labels=example_labels)
    image = coco.image("2011_000006")  # annotation 11: a sofa in 4 polygons
    sofa = [i for i in image.instances.instance_ids if image.instances.class_of(i) == example_labels.id_of("sofa")]
    assert len(sofa) == 1 and _components(image.instances.ids == sofa[0])[0] >= 2
    person = coco.image("2011_000003")  # annotation 1: a person in 2 polygons
    assert person.instances.num_instances == 3


def test_coco_against_voc_differs_at_outlines_only(example: Path, example_labels: LabelSet) -> None:
    voc = import_annotations("voc", example / "voc", labels=example_labels)
    coco = import_annotations("coco", example / "coco", labels=example_labels)
    shapes = {p.stem: json.loads(p.read_text())["shapes"] for p in (example / "labelme_json").glob("*.json")}
    measured = {}
    for name in NAMES:
        truth, ours = voc.image(name).classes, coco.image(name).classes
        differs = (truth != ours) & (truth != 255)  # labelme2coco drops __ignore__ shapes
        measured[name] = int(differs.sum())
        outlines = shapely.MultiLineString([s["points"] + s["points"][:1] for s in shapes[name]])
        ys, xs = np.nonzero(differs)
        distance = shapely.distance(shapely.points(np.stack([xs, ys], axis=1)), outlines)
        assert distance.max() < 2.0, name  # every such pixel hugs an outline (measured: at most 1.53 px from one)
    assert measured == {"2011_000003": 620, "2011_000006": 1100, "2011_000025": 635}


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    import cv2

    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return count - 1, labels
