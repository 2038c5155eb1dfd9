"""labelme: one ``<name>.json`` per image (labelme 5's fields, ``imageData`` null) next to a copy of the photo.

Writing: each object's outer contours as polygons of pixel centres, largest first (enclosing shapes before what
lies in their holes), ``group_id`` the instance id when the image has instances (so a multi-part object stays one),
none for class regions. The writer then draws the shapes as labelme does and, where that differs from the mask
(holes holding the background or ignore pixels, or a shape covering a neighbour), adds shapes for those pixels,
labelled ``_background_`` and ``__ignore__`` for the background and the ignore id (labelme's own names; labelme2voc
maps them to 0 and 255), up to :data:`FIX_PASSES` times. What is still different is counted by the self-check.

Reading draws shapes as labelme's ``shape_to_mask`` does (PIL, ``outline=1, fill=1``), in file order, later over
earlier, and numbers instances as labelme2voc does: by first appearance of ``(label, group_id)``, a shape without
a group being its own instance, counting ``__ignore__``/``_background_`` shapes too (their pixels hold no
instance). polygon, rectangle, circle and labelme 5's ``mask`` shapes have pixels; line, linestrip, point and
points shapes have no area and are skipped, counted in the import's notes. A point may lie up to one pixel outside
the image (tools round at the border); further out is an error, as are bad JSON, missing keys and, with a label
set given, a label it does not have: each a :class:`FileProblem` naming the file and the shape's index.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet, voc_palette
from segstudio.core.natural_order import natural_key
from segstudio.core.progress import Progress, ProgressCallback, report
from segstudio.io.exchange.model import AnnotatedImage, Annotations
from segstudio.io.exchange.objects import (
    BACKGROUND_NAMES,
    IGNORE_NAMES,
    LABELME_IGNORE,
    Canvas,
    LabelNames,
    objects_of,
    unlabelled_value,
)
from segstudio.io.exchange.outputs import Step, copy_step, files_in, text_step
from segstudio.io.exchange.polygons import (
    at_least_three_points,
    contour_area,
    labelme_circle,
    labelme_mask,
    labelme_polygon,
    labelme_rectangle,
    outer_contours,
)
from segstudio.io.labelset_files import read_label_set

LABELME_VERSION = "5.0.1"
FIX_PASSES = 3
POINT_SLACK = 1.0  # how far (pixels) beyond the image's edges (0..width, 0..height) a point may lie
AREA_SHAPES = frozenset({"polygon", "rectangle", "circle", "mask"})
NO_AREA_SHAPES = frozenset({"line", "linestrip", "point", "points"})
LABELS_TXT = "labels.txt"


def plan(annotations: Annotations, out_dir: Path) -> list[Step]:
    steps: list[Step] = []
    for image in annotations.images:
        image_file = f"{image.name}{image.image_path.suffix if image.image_path is not None else '.jpg'}"
        if image.image_path is not None:
            steps.append(copy_step(image.image_path, out_dir / image_file))
        steps.append(text_step(out_dir / f"{image.name}.json",
                               lambda i=image, f=image_file: _document(i, f, annotations.labels)))  # fmt: skip
    return steps


def _document(image: AnnotatedImage, image_file: str, labels: LabelSet) -> str:
    height, width = image.size
    data = {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": _shapes(image, labels),
        "imagePath": image_file,
        "imageData": None,
        "imageHeight": height,
        "imageWidth": width,
    }
    return json.dumps(data, indent=1) + "\n"


def _shape(label: str, contour: np.ndarray, group_id: int | None) -> dict[str, Any]:
    points = at_least_three_points(contour).astype(float).tolist()
    return {"label": label, "points": points, "group_id": group_id, "description": "", "shape_type": "polygon",
            "flags": {}}  # fmt: skip


def _shapes(image: AnnotatedImage, labels: LabelSet) -> list[dict[str, Any]]:
    names = LabelNames(labels)
    height, width = image.size
    ranked: list[tuple[float, dict[str, Any], int]] = []
    keys = _keys(image)
    for obj in objects_of(image, labels):
        key = _key(obj.class_id, obj.instance_id or 0)
        for contour in outer_contours(obj.mask):
            ranked.append((contour_area(contour), _shape(names.label_of(obj.class_id), contour, obj.instance_id), key))
    ranked.sort(key=lambda item: -item[0])
    shapes = [shape for _, shape, _ in ranked]
    drawn = np.full((height, width), _key(unlabelled_value(labels), 0), dtype=np.int64)
    for _, shape, key in ranked:
        drawn[labelme_polygon(np.asarray(shape["points"]), height, width)] = key
    for _ in range(FIX_PASSES):
        wrong = drawn != keys
        if not wrong.any():
            break
        fixes: list[tuple[float, dict[str, Any], int]] = []
        for key in np.unique(keys[wrong]).tolist():
            value, instance = key & 0xFFFFFFFF, key >> 32
            for contour in outer_contours(wrong & (keys == key)):
                fixes.append((contour_area(contour), _shape(names.label_of(value), contour, instance or None), key))
        fixes.sort(key=lambda item: -item[0])
        for _, shape, key in fixes:
            shapes.append(shape)
            drawn[labelme_polygon(np.asarray(shape["points"]), height, width)] = key
    return shapes


def _key(value: int, instance: int) -> int:
    return (int(instance) << 32) | int(value)


def _keys(image: AnnotatedImage) -> np.ndarray:
    keys = image.classes.astype(np.int64)
    if image.instances is not None:
        keys |= image.instances.ids.astype(np.int64) << 32
    return keys


# -- reading --------------------------------------------------------------------------------------------------


def looks_like(path: Path) -> bool:
    files = [path] if path.is_file() else sorted(path.glob("*.json"))[:1] if path.is_dir() else []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        return isinstance(data, dict) and "shapes" in data
    return False


def _files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileProblem(source, "not found: give a labelme JSON file or a folder of them")
    files = files_in(source, ".json")
    if not files:
        raise FileProblem(source, "holds no labelme .json files")
    return files


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise FileProblem(path, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FileProblem(path, f"not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise FileProblem(path, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise FileProblem(path, "not a labelme file: no 'shapes' list")
    for key in ("imageHeight", "imageWidth"):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise FileProblem(path, f"'{key}' is missing or not a positive integer")
    for index, shape in enumerate(data["shapes"]):
        if not isinstance(shape, dict) or not isinstance(shape.get("label"), str) or not isinstance(shape.get("points"), list):
            raise FileProblem(path, f"shape {index} needs a 'label' and a list of 'points'")
    return data


def read(
    source: Path, labels: LabelSet | None, *, names: Collection[str] | None = None, progress: ProgressCallback | None = None
) -> Annotations:
    files = _files(source)
    if names is not None:
        files = [p for p in files if p.stem in names]
    documents = [(path, _load(path)) for path in files]
    if labels is None:
        labels = _labels_of(source, documents)
    label_names = LabelNames(labels)
    skipped: dict[str, int] = {}
    images = []
    for done, (path, data) in enumerate(documents, 1):
        images.append(_read_one(path, data, labels, label_names, skipped))
        report(progress, Progress("import", done, len(documents), path.stem))
    notes = tuple(
        f"{count} {kind} shape(s) skipped: they have no area" for kind, count in sorted(skipped.items())
    )
    return Annotations(labels, tuple(images), notes)


def _read_one(path: Path, data: dict[str, Any], labels: LabelSet, names: LabelNames, skipped: dict[str, int]) -> AnnotatedImage:
    height, width = data["imageHeight"], data["imageWidth"]
    canvas = Canvas(height, width, labels)
    instances: dict[tuple[str, object], int] = {}
    for index, shape in enumerate(data["shapes"]):
        label = shape["label"]
        kind = shape.get("shape_type") or "polygon"
        where = f"shape {index} ({label!r}, {kind})"
        if kind in NO_AREA_SHAPES:
            skipped[kind] = skipped.get(kind, 0) + 1
            continue
        if kind not in AREA_SHAPES:
            raise FileProblem(path, f"{where}: unknown shape type")
        value = names.value_of(label)
        if value is None:
            raise FileProblem(path, f"{where}: label {label!r} is not a class of the label set ({', '.join(labels.names)})")
        points = _points(path, where, shape["points"], height, width)
        group = shape.get("group_id")
        if group is not None and (not isinstance(group, int) or isinstance(group, bool)):
            raise FileProblem(path, f"{where}: group_id must be an integer or null, got {group!r}")
        key = (label, group if group is not None else ("shape", index))
        instance = instances.setdefault(key, len(instances) + 1)
        try:
            mask = _rasterise(kind, points, shape, height, width)
        except ValueError as exc:
            raise FileProblem(path, f"{where}: {exc}") from exc
        canvas.paint(mask, value, instance)
    image_path = path.parent / data["imagePath"] if isinstance(data.get("imagePath"), str) and data["imagePath"] else None
    return canvas.image(path.stem, image_path if image_path is not None and image_path.is_file() else None,
                        with_instances=True)  # fmt: skip


def _points(path: Path, where: str, raw: list[Any], height: int, width: int) -> np.ndarray:
    try:
        points = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise FileProblem(path, f"{where}: points must be [x, y] pairs of numbers") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise FileProblem(path, f"{where}: points must be [x, y] pairs of numbers")
    if not np.isfinite(points).all():
        raise FileProblem(path, f"{where}: a point is not a finite number")
    outside = (points[:, 0] < -POINT_SLACK) | (points[:, 0] > width + POINT_SLACK)
    outside |= (points[:, 1] < -POINT_SLACK) | (points[:, 1] > height + POINT_SLACK)
    if outside.any():
        x, y = points[np.argmax(outside)]
        raise FileProblem(path, f"{where}: point ({x:g}, {y:g}) lies outside the {width}x{height} image")
    return points


def _rasterise(kind: str, points: np.ndarray, shape: dict[str, Any], height: int, width: int) -> np.ndarray:
    if kind == "polygon":
        if len(points) < 3:
            raise ValueError(f"a polygon needs at least 3 points, it has {len(points)}")
        return labelme_polygon(points, height, width)
    if len(points) != 2:
        raise ValueError(f"a {kind} needs 2 points, it has {len(points)}")
    if kind == "rectangle":
        return labelme_rectangle(points, height, width)
    if kind == "circle":
        return labelme_circle(points, height, width)
    encoded = shape.get("mask")
    if not isinstance(encoded, str):
        raise ValueError("a mask shape needs its 'mask' (a base64 PNG)")
    return labelme_mask(points, encoded, height, width)


def _labels_of(source: Path, documents: list[tuple[Path, dict[str, Any]]]) -> LabelSet:
    folder = source if source.is_dir() else source.parent
    if (folder / LABELS_TXT).is_file():
        return read_label_set(folder / LABELS_TXT)
    found = {shape["label"] for _, data in documents for shape in data["shapes"]}
    ignore = bool(found & IGNORE_NAMES)
    names = ["background", *sorted(found - IGNORE_NAMES - BACKGROUND_NAMES - {"background"}, key=natural_key)]
    palette = voc_palette()
    colours = [tuple(int(v) for v in palette[i % 256]) for i in range(len(names))]
    return LabelSet.from_names(names, colours=colours, ignore_index=(max(255, len(names)) if ignore else None),  # type: ignore[arg-type]
                               ignore_name=LABELME_IGNORE)  # fmt: skip


