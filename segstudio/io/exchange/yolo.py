"""YOLO segmentation (ultralytics' layout): ``images/<file>`` (the photos), ``labels/<name>.txt`` with one object
a line, ``cls x1 y1 x2 y2 ...`` (pixel-centre coordinates divided by the width and height, 6 decimals), and
``data.yaml`` (``path``, ``train``, ``val``, ``names``).

``cls`` counts from 0 over the written classes (every class but the background), in class order; ``names`` lists
them. A YOLO polygon has no holes and the format has no ignore id: holes and ignore pixels are not stored, and the
self-check counts them. Each connected part of an object is one line (YOLO has one polygon per object), so a
multi-part instance comes back as several: counted too. Label files hold no image size, so images are required
(the size is read from the photo on import). Reading fills each line's polygon with its outline (OpenCV
``fillPoly``, vertices rounded to the nearest pixel), in line order, later over earlier; each line is an instance.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from pathlib import Path

import numpy as np

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.core.progress import Progress, ProgressCallback, report
from segstudio.io.exchange.model import AnnotatedImage, Annotations
from segstudio.io.exchange.objects import Canvas, LabelNames, objects_of, written_classes
from segstudio.io.exchange.outputs import Step, copy_step, files_in, text_step
from segstudio.io.exchange.polygons import at_least_three_points, contour_area, fill_polygon, outer_contours
from segstudio.io.images import IMAGE_SUFFIXES, image_size

IMAGES = "images"
LABELS = "labels"
DATA_YAML = "data.yaml"
DECIMALS = 6


def plan(annotations: Annotations, out_dir: Path) -> list[Step]:
    labels = annotations.labels
    classes = written_classes(labels)
    index_of = {class_id: index for index, class_id in enumerate(classes)}
    for image in annotations.images:
        if image.image_path is None:
            raise ValueError(f"{image.name}: YOLO label files hold no image size, so the image must be exported too; "
                             "this one has no image file")  # fmt: skip
    steps = [text_step(out_dir / DATA_YAML, lambda: _data_yaml([labels.names[c] for c in classes]))]
    for image in annotations.images:
        assert image.image_path is not None
        steps.append(copy_step(image.image_path, out_dir / IMAGES / f"{image.name}{image.image_path.suffix}"))
        steps.append(text_step(out_dir / LABELS / f"{image.name}.txt", lambda i=image: _lines(i, labels, index_of)))
    return steps


def _data_yaml(names: list[str]) -> str:
    # JSON strings are YAML strings: the names stay exact whatever they hold.
    listed = "".join(f"  {index}: {json.dumps(name, ensure_ascii=False)}\n" for index, name in enumerate(names))
    return (
        "# YOLO segmentation data set, exported by segstudio\n"
        f"path: .\ntrain: {IMAGES}\nval: {IMAGES}\nnc: {len(names)}\nnames:\n{listed}"
    )


def _lines(image: AnnotatedImage, labels: LabelSet, index_of: dict[int, int]) -> str:
    height, width = image.size
    ranked: list[tuple[float, str]] = []
    scale = np.array([width, height], dtype=np.float64)
    for obj in objects_of(image, labels):
        for contour in outer_contours(obj.mask):
            xy = at_least_three_points(contour) / scale
            coords = " ".join(f"{v:.{DECIMALS}f}" for v in xy.ravel())
            ranked.append((contour_area(contour), f"{index_of[obj.class_id]} {coords}\n"))
    ranked.sort(key=lambda item: -item[0])  # enclosing polygons first, then what lies in their holes
    return "".join(line for _, line in ranked)


# -- reading --------------------------------------------------------------------------------------------------


def looks_like(folder: Path) -> bool:
    return (folder / DATA_YAML).is_file() or (folder / LABELS).is_dir()


def read_names(path: Path) -> list[str]:
    """The class names of a ``data.yaml``: ``names`` as a block mapping (``0: a``), a block list (``- a``) or a flow
    list (``[a, b]``). Enough YAML for the files YOLO tools write, without a YAML library."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileProblem(path, f"cannot read: {exc}") from exc
    for number, line in enumerate(lines):
        match = re.match(r"^names\s*:\s*(.*?)\s*$", line)
        if not match:
            continue
        inline = match.group(1)
        if inline:
            if not (inline.startswith("[") and inline.endswith("]")):
                raise FileProblem(path, f"line {number + 1}: expected a [...] list or indented names after 'names:'")
            try:
                return [str(v) for v in json.loads(inline)]
            except json.JSONDecodeError:  # YAML's flow list: unquoted or single-quoted names
                return [_scalar(v) for v in inline[1:-1].split(",") if v.strip()]
        names: dict[int, str] = {}
        for offset, item in enumerate(lines[number + 1:]):
            if not item.strip() or item.lstrip().startswith("#"):
                continue
            if not item[:1].isspace():
                break
            entry = item.strip()
            if entry.startswith("- "):
                names[len(names)] = _scalar(entry[2:])
                continue
            key, colon, value = entry.partition(":")
            if not colon or not key.strip().isdigit():
                raise FileProblem(path, f"line {number + offset + 2}: expected '<index>: <name>' under names")
            names[int(key)] = _scalar(value)
        if sorted(names) != list(range(len(names))):
            raise FileProblem(path, "the names' indices must run 0..N-1")
        return [names[i] for i in range(len(names))]
    raise FileProblem(path, "has no 'names' list")


def _scalar(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        return str(json.loads(text))
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    return text


def read(
    source: Path, labels: LabelSet | None, *, names: Collection[str] | None = None, progress: ProgressCallback | None = None
) -> Annotations:
    labels_dir = source / LABELS
    if not labels_dir.is_dir():
        raise FileProblem(labels_dir, "folder not found: a YOLO data set keeps its label files there")
    yaml_names = read_names(source / DATA_YAML) if (source / DATA_YAML).is_file() else None
    if labels is None:
        if yaml_names is None:
            raise FileProblem(source / DATA_YAML, "file not found: it names the classes (or give a label set)")
        try:
            labels = LabelSet.from_names(["background", *yaml_names])
        except ValueError as exc:
            raise FileProblem(source / DATA_YAML, f"its names do not make a label set: {exc}") from exc
    classes = _class_values(source / DATA_YAML, labels, yaml_names)
    files = files_in(labels_dir, ".txt", names)
    images = []
    for done, path in enumerate(files, 1):
        image_path = _image_of(source / IMAGES, path.stem)
        if image_path is None:
            raise FileProblem(path, f"no image {path.stem}.* in {source / IMAGES}: YOLO labels need it for the size")
        width, height = image_size(image_path)
        canvas = Canvas(height, width, labels)
        for number, polygon, class_index in _parse(path, len(classes)):
            canvas.paint(fill_polygon(polygon * np.array([width, height]), height, width), classes[class_index], number)
        images.append(canvas.image(path.stem, image_path, with_instances=True))
        report(progress, Progress("import", done, len(files), path.stem))
    return Annotations(labels, tuple(images))


def _class_values(path: Path, labels: LabelSet, yaml_names: list[str] | None) -> list[int]:
    """YOLO class index -> class id: by name when data.yaml names them, else the written classes in order."""
    if yaml_names is None:
        return list(written_classes(labels))
    lookup = LabelNames(labels)
    values = []
    for index, name in enumerate(yaml_names):
        value = lookup.value_of(name)
        if value is None:
            raise FileProblem(path, f"class {index} {name!r} is not a class of the label set ({', '.join(labels.names)})")
        values.append(value)
    return values


def _parse(path: Path, class_count: int) -> list[tuple[int, np.ndarray, int]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileProblem(path, f"cannot read: {exc}") from exc
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            class_index = int(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise FileProblem(path, f"line {number}: expected 'class x1 y1 x2 y2 ...' numbers") from None
        if not 0 <= class_index < class_count:
            raise FileProblem(path, f"line {number}: class {class_index} is not 0..{class_count - 1}")
        if len(values) % 2:
            raise FileProblem(path, f"line {number}: {len(values)} coordinates, an odd number; they come in x y pairs")
        if len(values) < 6:
            raise FileProblem(path, f"line {number}: a polygon needs at least 3 points, this has {len(values) // 2}")
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
            bad = next(v for v in values if not (math.isfinite(v) and 0.0 <= v <= 1.0))
            raise FileProblem(path, f"line {number}: coordinate {bad:g} is outside 0..1 (YOLO coordinates are normalised)")
        found.append((len(found) + 1, np.array(values).reshape(-1, 2), class_index))
    return found


def _image_of(folder: Path, stem: str) -> Path | None:
    if not folder.is_dir():
        return None
    for candidate in sorted(folder.glob(f"{glob_escape(stem)}.*")):
        if candidate.stem == stem and candidate.suffix.lower() in IMAGE_SUFFIXES:
            return candidate
    return None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
