"""COCO: ``annotations.json`` (+ the photos in ``JPEGImages/``, ``file_name`` ``JPEGImages/<file>``, as labelme2coco
lays it out).

Writing:

- Categories are the written classes (every class but the background) numbered 1..K in class order, so VOC's
  classes keep their ids and nothing is category 0. When the label set has an ignore id that unlabelled pixels do
  not already read as, category K+1 is named after it (supercategory ``"ignore"``) and each image's ignore pixels
  are one ``iscrowd: 1`` RLE annotation of it: COCO's own "evaluate nothing here".
- Objects: one annotation per instance when the image has instances, and each class's pixels outside every
  instance as one ``iscrowd: 1`` RLE annotation (COCO's region of a class without object identity); without
  instances, one annotation per class region per image (RLE) or per
  connected part of it (polygons, so parts nested in another class's holes are drawn after it). ``info.segstudio``
  says which (``"objects"``) and holds the label set, so a reader gets colours and ids back.
- RLE (:attr:`ExchangeFormat.COCO`): compressed RLE from pycocotools; lossless. Polygons
  (:attr:`ExchangeFormat.COCO_POLYGONS`): the outer outlines (see :mod:`.polygons`), largest first; holes are not
  stored (COCO polygons are filled), what they held is counted by the self-check.
- ``area`` and ``bbox`` are pycocotools' of the object's pixels.

Reading: any COCO file (polygons, RLE, crowd regions). Categories map to the label set by name (``_background_``
and ``background`` are the background class; ``__ignore__``, supercategory ``"ignore"`` or the label set's ignore
name the ignore id), so category 0 named ``_background_`` is the background, not whichever class has id 0.
Annotations are painted in file order, later over earlier (COCO itself does not order overlapping objects; this is
labelme2voc's order for files labelme2coco wrote). Every annotation of a class is an instance, numbered 1.. per
image in file order, except crowd regions (``iscrowd: 1``), unless the file says it holds class regions.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from segstudio import __version__
from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.core.progress import Progress, ProgressCallback, report
from segstudio.io.exchange.model import Annotations
from segstudio.io.exchange.objects import (
    BACKGROUND_NAMES,
    IGNORE_NAMES,
    Canvas,
    LabelNames,
    ignore_mask,
    objects_of,
    stores_ignore,
    written_classes,
)
from segstudio.io.exchange.outputs import Step, copy_step, text_step
from segstudio.io.exchange.polygons import (
    coco_area_and_box,
    coco_decode,
    coco_polygon,
    coco_rle,
    contour_area,
    outer_contours,
)

ANNOTATIONS = "annotations.json"
IMAGES = "JPEGImages"
IGNORE_SUPERCATEGORY = "ignore"
INSTANCES = "instances"
CLASS_REGIONS = "class regions"
CLASS_REGION_PARTS = "class region parts"


def plan(annotations: Annotations, out_dir: Path, *, polygons: bool) -> list[Step]:
    labels = annotations.labels
    category_of = {class_id: number for number, class_id in enumerate(written_classes(labels), 1)}
    categories: list[dict[str, Any]] = [
        {"id": category_of[c], "name": labels.names[c], "supercategory": labels.names[c]} for c in category_of
    ]
    ignore_category = None
    if stores_ignore(labels):
        ignore_category = len(categories) + 1
        categories.append({"id": ignore_category, "name": labels.ignore_name, "supercategory": IGNORE_SUPERCATEGORY})
    if annotations.has_instances:
        objects = INSTANCES
    else:
        objects = CLASS_REGION_PARTS if polygons else CLASS_REGIONS
    images: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    steps: list[Step] = []
    for image_id, image in enumerate(annotations.images, 1):
        suffix = image.image_path.suffix if image.image_path is not None else ".jpg"
        file_name = f"{IMAGES}/{image.name}{suffix}"
        if image.image_path is not None:
            steps.append(copy_step(image.image_path, out_dir / file_name))
        height, width = image.size
        images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})

        def run(image=image, image_id=image_id) -> None:  # noqa: ANN001
            found = _image_entries(image, labels, category_of, ignore_category, polygons)
            for entry in found:
                entries.append({"id": len(entries) + 1, "image_id": image_id, **entry})

        steps.append(Step(None, run))
    info = {
        "description": f"exported by segstudio {__version__}",
        "version": __version__,
        "date_created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "segstudio": {
            "objects": objects,
            "segmentation": "polygons" if polygons else "rle",
            "unlabelled": "pixels no annotation covers read as "
            + (labels.names[labels.background] if labels.background is not None else f"the ignore id {labels.ignore_index}"),
            "ignore": (
                f"category {ignore_category} ({labels.ignore_name!r}): iscrowd RLE regions, value {labels.ignore_index}"
                if ignore_category is not None else "not stored"
            ),
            "labels": labels.to_mapping(),
        },
    }  # fmt: skip

    def document() -> str:
        data = {"info": info, "licenses": [], "images": images, "annotations": entries, "categories": categories}
        return json.dumps(data, separators=(",", ":")) + "\n"

    steps.append(text_step(out_dir / ANNOTATIONS, document))
    return steps


def _image_entries(
    image, labels: LabelSet, category_of: dict[int, int], ignore_category: int | None, polygons: bool  # noqa: ANN001
) -> list[dict[str, Any]]:
    entries: list[tuple[float, dict[str, Any]]] = []
    for obj in objects_of(image, labels):
        if obj.instance_id is None and image.instances is not None:  # a class's pixels outside every instance
            entries.append((-1.0, _entry(obj.mask, category_of[obj.class_id], coco_rle(obj.mask), crowd=True)))
            continue
        if not polygons:
            entries.append((0.0, _entry(obj.mask, category_of[obj.class_id], coco_rle(obj.mask))))
            continue
        if obj.instance_id is None:  # a class region: one annotation per part, so nesting can be drawn in order
            for contour, area, box in _parts(obj.mask):
                entry = {"category_id": category_of[obj.class_id], "segmentation": [coco_polygon(contour)],
                         "area": area, "bbox": box, "iscrowd": 0}  # fmt: skip
                entries.append((contour_area(contour), entry))
        else:
            contours = outer_contours(obj.mask)
            segmentation = [coco_polygon(c) for c in contours]
            entries.append((contour_area(contours[0]), _entry(obj.mask, category_of[obj.class_id], segmentation)))
    if polygons:
        entries.sort(key=lambda item: -item[0])  # stable: enclosing shapes first, then what lies in their holes
    result = [entry for _, entry in entries]
    ignored = ignore_mask(image, labels)
    if ignored is not None and ignore_category is not None:
        result.append(_entry(ignored, ignore_category, coco_rle(ignored), crowd=True))
    return result


def _parts(mask: np.ndarray) -> list[tuple[np.ndarray, int, list[float]]]:
    """Each 8-connected part of a mask: its outer contour, pixel count and ``[x, y, w, h]`` box."""
    count, components, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    parts = []
    for component in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[component])
        contour = outer_contours(components[y : y + h, x : x + w] == component)[0] + np.array([x, y])
        parts.append((contour, area, [float(x), float(y), float(w), float(h)]))
    return parts


def _entry(mask: np.ndarray, category: int, segmentation: object, *, crowd: bool = False) -> dict[str, Any]:
    area, box = coco_area_and_box(mask)
    return {"category_id": category, "segmentation": segmentation, "area": area, "bbox": box, "iscrowd": int(crowd)}


# -- reading --------------------------------------------------------------------------------------------------


def annotations_file(source: Path) -> Path:
    return source / ANNOTATIONS if source.is_dir() else source


def looks_like(path: Path) -> bool:
    return annotations_file(path).is_file() and annotations_file(path).suffix.lower() == ".json"


def uses_polygons(path: Path) -> bool:
    """Whether the file's first object annotation is polygons (cheap enough for format detection)."""
    data = _load(annotations_file(path))
    for entry in data.get("annotations", []) if isinstance(data, dict) else []:
        if isinstance(entry, dict) and not entry.get("iscrowd"):
            return isinstance(entry.get("segmentation"), list)
    return False


def _load(path: Path) -> Any:
    if not path.is_file():
        raise FileProblem(path, "file not found" if not path.exists() else "is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileProblem(path, f"cannot read: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(path, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def read(
    source: Path, labels: LabelSet | None, *, names: Collection[str] | None = None, progress: ProgressCallback | None = None
) -> Annotations:
    path = annotations_file(source)
    data = _load(path)
    if not isinstance(data, dict):
        raise FileProblem(path, "a COCO file is a JSON object with 'images', 'annotations' and 'categories'")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise FileProblem(path, f"'{key}' is missing or not a list; this is not a COCO annotation file")
    own = (data.get("info") or {}).get("segstudio") if isinstance(data.get("info"), dict) else None
    own = own if isinstance(own, dict) else {}
    categories = _categories(path, data["categories"])
    if labels is None:
        labels = _labels_of(path, own, categories)
    value_of = _category_values(path, categories, labels)
    images = _images(path, data["images"])
    by_image: dict[int, list[tuple[int, dict[str, Any]]]] = {image_id: [] for image_id in images}
    for index, entry in enumerate(data["annotations"]):
        where = f"annotation {index}" + (f" (id {entry.get('id')})" if isinstance(entry, dict) and "id" in entry else "")
        if not isinstance(entry, dict) or not {"image_id", "category_id", "segmentation"} <= entry.keys():
            raise FileProblem(path, f"{where} needs 'image_id', 'category_id' and 'segmentation'")
        if entry["image_id"] not in by_image:
            raise FileProblem(path, f"{where} refers to image id {entry['image_id']!r}, which 'images' does not list")
        if entry["category_id"] not in value_of:
            raise FileProblem(path, f"{where} refers to category id {entry['category_id']!r}, which 'categories' does not list")
        by_image[entry["image_id"]].append((index, entry))
    with_instances = own.get("objects") not in (CLASS_REGIONS, CLASS_REGION_PARTS)
    wanted = [(image_id, info) for image_id, info in images.items() if names is None or info[0] in names]
    result = []
    for done, (image_id, (name, height, width, file_name)) in enumerate(wanted, 1):
        canvas = Canvas(height, width, labels)
        count = 0
        for index, entry in by_image[image_id]:
            try:
                mask = coco_decode(entry["segmentation"], height, width)
            except ValueError as exc:
                raise FileProblem(path, f"annotation {index} (id {entry.get('id')}): {exc}") from exc
            value = value_of[entry["category_id"]]
            instance = None
            crowd = bool(entry.get("iscrowd"))
            if with_instances and not crowd and 0 <= value < labels.num_classes and value != labels.background:
                count += 1
                instance = count
            canvas.paint(mask, value, instance)
        image_path = path.parent / file_name
        result.append(canvas.image(name, image_path if image_path.is_file() else None, with_instances=with_instances))
        report(progress, Progress("import", done, len(wanted), name))
    return Annotations(labels, tuple(result))


def _categories(path: Path, entries: list[Any]) -> dict[int, dict[str, Any]]:
    categories: dict[int, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not isinstance(entry.get("name"), str):
            raise FileProblem(path, f"category {index} needs an integer 'id' and a 'name'")
        if entry["id"] in categories:
            raise FileProblem(path, f"category id {entry['id']} is listed twice")
        categories[entry["id"]] = entry
    return categories


def _is_ignore(entry: dict[str, Any]) -> bool:
    return entry["name"] in IGNORE_NAMES or entry.get("supercategory") == IGNORE_SUPERCATEGORY


def _is_background(entry: dict[str, Any]) -> bool:
    return entry["name"] in BACKGROUND_NAMES or entry["name"] == "background"


def _labels_of(path: Path, own: dict[str, Any], categories: dict[int, dict[str, Any]]) -> LabelSet:
    if isinstance(own.get("labels"), dict):
        try:
            return LabelSet.from_mapping(own["labels"])
        except (ValueError, TypeError) as exc:
            raise FileProblem(path, f"info.segstudio.labels is not a valid label set: {exc}") from exc
    names = ["background"]
    ignore_name = None
    for category_id in sorted(categories):
        entry = categories[category_id]
        if _is_ignore(entry):
            ignore_name = entry["name"]
        elif not _is_background(entry):
            names.append(entry["name"])
    ignore_index = None if ignore_name is None else (255 if len(names) < 255 else len(names))
    try:
        return LabelSet.from_names(names, ignore_index=ignore_index, ignore_name=ignore_name or "ignore")
    except ValueError as exc:
        raise FileProblem(path, f"its categories do not make a label set: {exc}") from exc


def _category_values(path: Path, categories: dict[int, dict[str, Any]], labels: LabelSet) -> dict[int, int]:
    names = LabelNames(labels)
    values: dict[int, int] = {}
    for category_id, entry in categories.items():
        value = names.value_of(entry["name"])
        if value is None and _is_ignore(entry) and labels.ignore_index is not None:
            value = labels.ignore_index
        if value is None and _is_background(entry) and labels.background is not None:
            value = labels.background
        if value is None:
            raise FileProblem(
                path, f"category {category_id} {entry['name']!r} is not a class of the label set ({', '.join(labels.names)})"
            )
        values[category_id] = value
    return values


def _images(path: Path, entries: list[Any]) -> dict[int, tuple[str, int, int, str]]:
    images: dict[int, tuple[str, int, int, str]] = {}
    stems: set[str] = set()
    for index, entry in enumerate(entries):
        ok = isinstance(entry, dict) and isinstance(entry.get("file_name"), str)
        ok = ok and all(isinstance(entry.get(k), int) and entry[k] > 0 for k in ("height", "width")) and "id" in entry
        if not ok:
            raise FileProblem(path, f"image {index} needs an 'id', a 'file_name' and positive integer 'height', 'width'")
        if entry["id"] in images:
            raise FileProblem(path, f"image id {entry['id']!r} is listed twice")
        stem = Path(entry["file_name"]).stem
        if stem in stems:
            raise FileProblem(path, f"two images have the file name stem {stem!r}; names must differ")
        stems.add(stem)
        images[entry["id"]] = (stem, entry["height"], entry["width"], entry["file_name"])
    return images
