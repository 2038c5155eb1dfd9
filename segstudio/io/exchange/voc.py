"""PASCAL VOC's layout: ``JPEGImages/`` (the photos, copied as they are), ``SegmentationClass/<name>.png`` (palette
PNG of the class ids, the ignore id kept: VOC's 255 boundaries), ``SegmentationObject/<name>.png`` when the data
set has instances (palette PNG of the instance ids, 255 where the class mask holds the ignore id, as VOC does),
``ImageSets/Segmentation/trainval.txt``, ``class_names.txt`` (one name a line, labelme2voc's file) and
``labels.toml`` (the label set with its colours, ignore id and background). Lossless.

Reading: the label set given, else ``labels.toml``, else ``class_names.txt`` (``_background_`` is the background,
255 the ignore id), else VOC's 21 classes. Instance 255 is "no instance" (VOC's boundary); each instance's class is
the class its pixels hold in the class mask.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core.atomic import atomic_write
from segstudio.core.errors import FileProblem
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet, voc_palette
from segstudio.core.progress import Progress, ProgressCallback, report
from segstudio.io.exchange.model import AnnotatedImage, Annotations
from segstudio.io.exchange.objects import LABELME_BACKGROUND
from segstudio.io.exchange.outputs import Step, copy_step, files_in, text_step
from segstudio.io.images import IMAGE_SUFFIXES
from segstudio.io.labelset_files import read_label_set, write_label_set
from segstudio.io.mask_files import read_class_mask, read_raw_mask, write_class_mask

IMAGES = "JPEGImages"
CLASSES = "SegmentationClass"
OBJECTS = "SegmentationObject"
SPLIT = Path("ImageSets") / "Segmentation" / "trainval.txt"
CLASS_NAMES = "class_names.txt"
LABELS_FILE = "labels.toml"
VOC_BOUNDARY = 255


def plan(annotations: Annotations, out_dir: Path) -> list[Step]:
    labels = annotations.labels
    for image in annotations.images:
        if image.instances is not None and int(image.instances.ids.max(initial=0)) >= VOC_BOUNDARY:
            raise ValueError(
                f"{image.name}: instance id {int(image.instances.ids.max())}; VOC's SegmentationObject PNGs hold ids "
                f"1..{VOC_BOUNDARY - 1}"
            )
    steps = [
        Step(out_dir / LABELS_FILE, lambda: write_label_set(out_dir / LABELS_FILE, labels)),
        text_step(out_dir / CLASS_NAMES, lambda: "".join(f"{name}\n" for name in labels.names)),
        text_step(out_dir / SPLIT, lambda: "".join(f"{image.name}\n" for image in annotations.images)),
    ]
    for image in annotations.images:
        if image.image_path is not None:
            steps.append(copy_step(image.image_path, out_dir / IMAGES / f"{image.name}{image.image_path.suffix}"))
        target = out_dir / CLASSES / f"{image.name}.png"
        steps.append(Step(target, lambda t=target, m=image.classes: write_class_mask(t, m, labels)))
        if image.instances is not None:
            target = out_dir / OBJECTS / f"{image.name}.png"
            steps.append(Step(target, lambda t=target, i=image: _write_objects(t, i, labels)))
    return steps


def _write_objects(path: Path, image: AnnotatedImage, labels: LabelSet) -> None:
    assert image.instances is not None
    ids = np.asarray(image.instances.ids, dtype=np.uint8).copy()
    if labels.ignore_index is not None:
        ids[image.classes == labels.ignore_index] = VOC_BOUNDARY
    pixels = Image.fromarray(ids, mode="P")
    pixels.putpalette(voc_palette().tobytes(), "RGB")
    with atomic_write(path) as stream:
        pixels.save(stream, format="PNG")


def looks_like(folder: Path) -> bool:
    return (folder / CLASSES).is_dir()


def read(
    source: Path, labels: LabelSet | None, *, names: Collection[str] | None = None, progress: ProgressCallback | None = None
) -> Annotations:
    masks_dir = source / CLASSES
    if not masks_dir.is_dir():
        raise FileProblem(masks_dir, "folder not found: a VOC data set keeps its class masks there")
    if labels is None:
        labels = _labels_of(source)
    files = files_in(masks_dir, ".png", names)
    images = []
    for done, path in enumerate(files, 1):
        classes = read_class_mask(path, labels)
        objects = source / OBJECTS / path.name
        instances = _read_objects(objects, classes, labels) if objects.is_file() else None
        images.append(AnnotatedImage(path.stem, classes, instances, _image_of(source / IMAGES, path.stem)))
        report(progress, Progress("import", done, len(files), path.stem))
    return Annotations(labels, tuple(images))


def _read_objects(path: Path, classes: np.ndarray, labels: LabelSet) -> InstanceMask:
    ids = np.array(read_raw_mask(path).values)
    if ids.shape != classes.shape:
        raise FileProblem(path, f"is {ids.shape[1]}x{ids.shape[0]}, its class mask {classes.shape[1]}x{classes.shape[0]}")
    if ids.dtype == np.uint8:
        ids[ids == VOC_BOUNDARY] = 0
    if labels.ignore_index is not None:
        ids[classes == labels.ignore_index] = 0
    present = np.unique(ids)
    instance_classes: dict[int, int] = {}
    for instance in present[present != 0].tolist():
        held = np.unique(classes[ids == instance])
        if len(held) != 1:
            raise FileProblem(path, f"instance {instance} covers classes {', '.join(map(str, held.tolist()))} in the class mask")
        instance_classes[instance] = int(held[0])
    return InstanceMask(ids, instance_classes)


def _image_of(folder: Path, stem: str) -> Path | None:
    for suffix in (".jpg", ".jpeg", ".png", *sorted(IMAGE_SUFFIXES)):
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def _labels_of(source: Path) -> LabelSet:
    if (source / LABELS_FILE).is_file():
        return read_label_set(source / LABELS_FILE)
    names_file = source / CLASS_NAMES
    if not names_file.is_file():
        return LabelSet.voc()
    names = [line.strip() for line in names_file.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    names = ["background" if n == LABELME_BACKGROUND else n for n in names]
    if not names or len(names) >= VOC_BOUNDARY:
        raise FileProblem(names_file, f"holds {len(names)} class names; VOC masks hold 1..{VOC_BOUNDARY - 1} classes")
    palette = voc_palette()
    try:
        return LabelSet.from_names(
            names, colours=[tuple(int(v) for v in palette[i]) for i in range(len(names))],  # type: ignore[misc]
            ignore_index=VOC_BOUNDARY, ignore_name="boundary",
        )  # fmt: skip
    except ValueError as exc:
        raise FileProblem(names_file, f"not a valid class list: {exc}") from exc
