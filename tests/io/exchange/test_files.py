"""What the exports write (checked with the formats' own tools), what they refuse, and how bad input is reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from PIL import Image

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, Cancelled
from segstudio.io.exchange import (
    AnnotatedImage,
    Annotations,
    ExchangeFormat,
    SelfCheckFailed,
    detect_format,
    export_annotations,
    import_annotations,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.mark.parametrize("fmt", [ExchangeFormat.COCO, ExchangeFormat.COCO_POLYGONS], ids=lambda f: f.value)
def test_coco_segmentations_decode_with_pycocotools_to_the_objects(fmt: ExchangeFormat, pennfudan: Annotations, tmp_path: Path) -> None:
    export_annotations(pennfudan, fmt, tmp_path)
    data = json.loads((tmp_path / "annotations.json").read_text())
    assert data["info"]["segstudio"]["objects"] == "instances"
    assert [c["id"] for c in data["categories"]] == [1] and data["categories"][0]["name"] == "person"
    for entry in data["images"]:
        image = pennfudan.image(Path(entry["file_name"]).stem)
        assert (tmp_path / entry["file_name"]).is_file() and entry["file_name"].startswith("JPEGImages/")
        ours = [a for a in data["annotations"] if a["image_id"] == entry["id"]]
        assert len(ours) == image.instances.num_instances
        for annotation, instance in zip(ours, image.instances.instance_ids, strict=True):
            truth = image.instances.ids == instance
            segmentation = annotation["segmentation"]
            if fmt is ExchangeFormat.COCO:
                rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode()}
            else:
                rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, entry["height"], entry["width"]))
            assert np.array_equal(coco_mask.decode(rle).astype(bool), truth)
            assert annotation["area"] == int(coco_mask.area(rle)) == int(truth.sum())
            assert annotation["bbox"] == [float(v) for v in coco_mask.toBbox(rle)]


def test_coco_class_regions_ignore_as_crowd_and_no_category_0(voc_example: Annotations, tmp_path: Path) -> None:
    plain = Annotations(voc_example.labels, tuple(AnnotatedImage(i.name, i.classes, None, i.image_path) for i in voc_example.images))
    assert export_annotations(plain, "coco", tmp_path).exact
    data = json.loads((tmp_path / "annotations.json").read_text())
    assert data["info"]["segstudio"]["objects"] == "class regions"
    ids = {c["name"]: c["id"] for c in data["categories"]}
    assert ids["person"] == 15 and 0 not in ids.values() and "background" not in ids  # VOC's ids kept, 1..20
    assert ids[voc_example.labels.ignore_name] == 21
    crowd = [a for a in data["annotations"] if a["iscrowd"]]
    assert {a["category_id"] for a in crowd} == {21} and len(crowd) == 2  # 2011_000025 has no ignore pixels
    back = import_annotations("coco", tmp_path, labels=voc_example.labels)
    assert all(i.instances is None for i in back.images)


def test_yolo_lines_and_data_yaml(voc_example: Annotations, tmp_path: Path) -> None:
    export_annotations(voc_example, "yolo", tmp_path)
    yaml = (tmp_path / "data.yaml").read_text()
    assert 'nc: 20' in yaml and '  0: "aeroplane"' in yaml and '  14: "person"' in yaml  # 0-based, no background
    for line in (tmp_path / "labels" / "2011_000003.txt").read_text().splitlines():
        cls, *coords = line.split()
        assert 0 <= int(cls) < 20 and len(coords) % 2 == 0 and len(coords) >= 6
        assert all(0.0 <= float(v) <= 1.0 for v in coords)
    back = import_annotations("yolo", tmp_path)  # names from data.yaml, background added
    assert back.labels.names[1:] == voc_example.labels.names[1:]


def test_export_refuses_to_overwrite_and_writes_nothing(camvid: Annotations, tmp_path: Path) -> None:
    for fmt in ExchangeFormat:
        out = tmp_path / fmt.value
        export_annotations(camvid, fmt, out)
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        with pytest.raises(FileProblem, match="exists; the export does not replace files"):
            export_annotations(camvid, fmt, out)
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
        assert export_annotations(camvid, fmt, out, overwrite=True).files_written == len(before)


def test_export_reports_progress_and_can_be_cancelled(camvid: Annotations, tmp_path: Path) -> None:
    seen = []
    export_annotations(camvid, "labelme", tmp_path / "a", progress=seen.append)
    assert {p.stage for p in seen} == {"export", "check"} and seen[-1].fraction == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        export_annotations(camvid, "png", tmp_path / "b", cancel=token)


def test_a_lossless_mismatch_is_an_error_not_a_report(camvid: Annotations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from segstudio.io.exchange import png_folder

    real = png_folder.read

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        result = real(*args, **kwargs)
        first = result.images[0]
        classes = np.array(first.classes)
        classes[0, 0] = (classes[0, 0] + 1) % 11
        return Annotations(result.labels, (AnnotatedImage(first.name, classes), *result.images[1:]))

    monkeypatch.setattr(png_folder, "read", broken)
    with pytest.raises(SelfCheckFailed, match="did not read back bit-exact.*1 px differ"):
        export_annotations(camvid, "png", tmp_path)


def test_masks_outside_the_label_set_are_refused_before_writing(tmp_path: Path) -> None:
    labels = LabelSet.from_names(["background", "a"])
    bad = Annotations(labels, (AnnotatedImage("x", np.full((4, 4), 7, np.uint8)),))
    with pytest.raises(ValueError, match="values 7 are neither a class id"):
        export_annotations(bad, "png", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="image must be exported too"):
        export_annotations(Annotations(labels, (AnnotatedImage("x", np.zeros((4, 4), np.uint8)),)), "yolo", tmp_path / "y")


# -- broken input ---------------------------------------------------------------------------------------------


def _coco(tmp_path: Path, **changes) -> Path:  # noqa: ANN003
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}],
        "categories": [{"id": 0, "name": "_background_"}, {"id": 1, "name": "thing"}],
    }
    data.update(changes)
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_broken_input_names_the_file(tmp_path: Path) -> None:
    path = _coco(tmp_path)
    assert import_annotations("coco", path).images[0].classes.sum() > 0
    path.write_text(path.read_text()[:-20])
    with pytest.raises(FileProblem, match="annotations.json: not valid JSON") as error:
        import_annotations("coco", tmp_path)
    assert error.value.path == path
    _coco(tmp_path, annotations=[{"id": 7, "image_id": 99, "category_id": 1, "segmentation": []}])
    with pytest.raises(FileProblem, match=r"annotation 0 \(id 7\) refers to image id 99, which 'images' does not list"):
        import_annotations("coco", tmp_path)
    _coco(tmp_path, annotations=[{"id": 7, "image_id": 1, "category_id": 5, "segmentation": []}])
    with pytest.raises(FileProblem, match="refers to category id 5"):
        import_annotations("coco", tmp_path)
    _coco(tmp_path, annotations=[{"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 3]]}])
    with pytest.raises(FileProblem, match=r"annotation 0 \(id 7\): polygon 0 must be"):
        import_annotations("coco", tmp_path)
    _coco(tmp_path)
    with pytest.raises(FileProblem, match="category 1 'thing' is not a class of the label set"):
        import_annotations("coco", tmp_path, labels=LabelSet.from_names(["background", "other"]))


def _labelme(tmp_path: Path, shapes: list, **changes) -> Path:  # noqa: ANN003
    data = {"version": "5.0.1", "shapes": shapes, "imagePath": "a.jpg", "imageData": None, "imageHeight": 10, "imageWidth": 10}
    data.update(changes)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    return path


def _shape(label: str, points: list, kind: str = "polygon", group: int | None = None) -> dict:
    return {"label": label, "points": points, "group_id": group, "shape_type": kind, "flags": {}}


def test_labelme_shapes_of_every_kind(tmp_path: Path) -> None:
    import base64
    import io

    patch = np.zeros((3, 4), bool)
    patch[1, 1:3] = True
    buffer = io.BytesIO()
    Image.fromarray(patch).save(buffer, format="PNG")
    shapes = [
        _shape("a", [[1, 1], [4, 3]], "rectangle"),
        _shape("b", [[7, 7], [7, 8]], "circle"),
        {**_shape("a", [[5, 0], [8, 2]], "mask"), "mask": base64.b64encode(buffer.getvalue()).decode()},
        _shape("a", [[0, 9], [9, 9]], "line"),
        _shape("b", [[2, 8]], "point"),
        _shape("b", [[0, 0], [1, 1], [2, 0]], "linestrip"),
    ]
    _labelme(tmp_path, shapes)
    labels = LabelSet.from_names(["background", "a", "b"])
    result = import_annotations("labelme", tmp_path, labels=labels)
    image = result.images[0]
    assert (image.classes[1:4, 1:5] == 1).all() and (image.classes == 1).sum() == 12 + 2
    assert (image.classes == 2).sum() == 5 and image.classes[7, 7] == 2  # PIL's radius-1 circle is a plus
    assert (image.classes[1, 6:8] == 1).all() and image.instances.num_instances == 3
    assert sorted(result.notes) == sorted(f"1 {k} shape(s) skipped: they have no area" for k in ("line", "linestrip", "point"))


def test_labelme_broken_input_names_the_file_and_shape(tmp_path: Path) -> None:
    labels = LabelSet.from_names(["background", "a"])
    path = _labelme(tmp_path, [_shape("a", [[0, 0], [5, 0], [5, 5]])])
    path.write_text(path.read_text()[:40])
    with pytest.raises(FileProblem, match="a.json: not valid JSON"):
        import_annotations("labelme", tmp_path, labels=labels)
    cases = [
        ([_shape("a", [[0, 0], [5, 0], [5, 5]])], {"imageHeight": None}, "'imageHeight' is missing"),
        ([{"label": "a"}], {}, "shape 0 needs a 'label' and a list of 'points'"),
        ([_shape("a", [[0, 0], [5, 0], [5, 5]]), _shape("a", [[0, 0], [12, 0], [5, 5]])], {},
         r"shape 1 \('a', polygon\): point \(12, 0\) lies outside the 10x10 image"),
        ([_shape("zebra", [[0, 0], [5, 0], [5, 5]])], {}, "shape 0 .*label 'zebra' is not a class of the label set"),
        ([_shape("a", [[0, 0], [5, 0]])], {}, "shape 0 .*a polygon needs at least 3 points"),
        ([_shape("a", [[0, 0], [5, 0], [5, 5]], "blob")], {}, "shape 0 .*unknown shape type"),
    ]  # fmt: skip
    for shapes, changes, message in cases:
        _labelme(tmp_path, shapes, **changes)
        with pytest.raises(FileProblem, match=message) as error:
            import_annotations("labelme", tmp_path, labels=labels)
        assert error.value.path == path


def _yolo(tmp_path: Path, line: str) -> Path:
    (tmp_path / "images").mkdir(exist_ok=True)
    (tmp_path / "labels").mkdir(exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: ['thing', 'other']\n")
    path = tmp_path / "labels" / "a.txt"
    path.write_text(line + "\n")
    return path


def test_yolo_broken_input_names_the_file_and_line(tmp_path: Path) -> None:
    path = _yolo(tmp_path, "0 0.1 0.1 0.9 0.1 0.9 0.9")
    image = import_annotations("yolo", tmp_path).images[0]
    assert image.classes.max() == 1 and detect_format(tmp_path) is ExchangeFormat.YOLO
    for line, message in [
        ("0 0.1 0.1 0.9 0.1 0.9", "line 1: 5 coordinates, an odd number"),
        ("0 0.1 0.1 1.5 0.1 0.9 0.9", "line 1: coordinate 1.5 is outside 0..1"),
        ("0 -0.1 0.1 0.5 0.1 0.9 0.9", "line 1: coordinate -0.1 is outside 0..1"),
        ("2 0.1 0.1 0.9 0.1 0.9 0.9", "line 1: class 2 is not 0..1"),
        ("0 0.1 0.1 0.9 0.1", "line 1: a polygon needs at least 3 points"),
        ("x 0.1 0.1 0.9 0.1 0.9 0.9", "line 1: expected 'class x1 y1"),
    ]:
        _yolo(tmp_path, line)
        with pytest.raises(FileProblem, match=message) as error:
            import_annotations("yolo", tmp_path)
        assert error.value.path == path
    (tmp_path / "images" / "a.png").unlink()
    with pytest.raises(FileProblem, match="no image a.*YOLO labels need it for the size"):
        import_annotations("yolo", tmp_path)


def test_yolo_data_yaml_names_in_every_layout(tmp_path: Path) -> None:
    from segstudio.io.exchange.yolo import read_names

    path = tmp_path / "data.yaml"
    for text in ["names: [a, 'b c', \"d\"]\n", "names:\n  0: a\n  1: b c\n  2: \"d\"\nnc: 3\n", "names:\n  - a\n  - 'b c'\n  - d\n"]:
        path.write_text("path: .\n" + text)
        assert read_names(path) == ["a", "b c", "d"]
    path.write_text("path: .\n")
    with pytest.raises(FileProblem, match="has no 'names' list"):
        read_names(path)


def test_detect_format_says_when_it_cannot_tell(tmp_path: Path) -> None:
    with pytest.raises(FileProblem, match="cannot tell its format"):
        detect_format(tmp_path)


def test_a_labelme_mask_shape_declaring_a_huge_png_is_refused_before_it_is_decoded(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A few hundred bytes of base64 can declare a 40000 x 30000 PNG: the patch's size is checked against the
    image from its header, so nothing is decoded and the message says where it leaves the image."""
    import base64

    from PIL import Image as PilImage

    from tests.io.decompression_bombs import write_png_bomb

    bomb = write_png_bomb(tmp_path / "patch.png", 40000, 30000)  # 1.2 Gpx: under Pillow's own refusal at 2 Gpx
    encoded = base64.b64encode(bomb.read_bytes()).decode()
    bomb.unlink()
    decoded: list[object] = []
    convert = PilImage.Image.convert
    monkeypatch.setattr(PilImage.Image, "convert", lambda self, *a, **k: (decoded.append(self), convert(self, *a, **k))[1])
    labels = LabelSet.from_names(["background", "a"])
    path = _labelme(tmp_path, [{**_shape("a", [[1, 1], [2, 2]], "mask"), "mask": encoded}])
    with pytest.raises(FileProblem, match=r"40000x30000 mask at \(1, 1\) leaves the image") as error:
        import_annotations("labelme", tmp_path, labels=labels)
    assert error.value.path == path and decoded == []
