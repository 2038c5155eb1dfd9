"""segstudio's own format: ``masks/<name>.png`` palette PNGs of the class ids (the label set's colours, the ignore
id kept as it is), ``instances/<name>.png`` for images with instances (grey ids, classes in the file's
``segstudio:instances`` chunk), and ``labels.toml``, the label set. Lossless; no photos are copied."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.core.progress import Progress, ProgressCallback, report
from segstudio.io.exchange.model import AnnotatedImage, Annotations
from segstudio.io.exchange.outputs import Step, files_in
from segstudio.io.labelset_files import read_label_set, write_label_set
from segstudio.io.mask_files import read_class_mask, read_tagged_instance_mask, write_class_mask, write_instance_mask

MASKS = "masks"
INSTANCES = "instances"
LABELS_FILE = "labels.toml"


def plan(annotations: Annotations, out_dir: Path) -> list[Step]:
    labels = annotations.labels
    steps = [Step(out_dir / LABELS_FILE, lambda: write_label_set(out_dir / LABELS_FILE, labels))]
    for image in annotations.images:
        target = out_dir / MASKS / f"{image.name}.png"
        steps.append(Step(target, lambda t=target, m=image.classes: write_class_mask(t, m, labels)))
        if image.instances is not None:
            target = out_dir / INSTANCES / f"{image.name}.png"
            steps.append(Step(target, lambda t=target, i=image.instances: write_instance_mask(t, i)))
    return steps


def looks_like(folder: Path) -> bool:
    return (folder / MASKS).is_dir() and (folder / LABELS_FILE).is_file()


def read(
    source: Path, labels: LabelSet | None, *, names: Collection[str] | None = None, progress: ProgressCallback | None = None
) -> Annotations:
    if not source.is_dir():
        raise FileProblem(source, "a palette PNG export is a folder with masks/ and labels.toml")
    masks_dir = source / MASKS
    if not masks_dir.is_dir():
        raise FileProblem(masks_dir, "folder not found: the palette PNG format keeps its masks there")
    if labels is None:
        labels = read_label_set(source / LABELS_FILE)
    files = files_in(masks_dir, ".png", names)
    images = []
    for done, path in enumerate(files, 1):
        classes = read_class_mask(path, labels)
        instance_path = source / INSTANCES / path.name
        instances = read_tagged_instance_mask(instance_path) if instance_path.is_file() else None
        try:
            images.append(AnnotatedImage(path.stem, classes, instances))
        except ValueError as exc:
            raise FileProblem(instance_path, str(exc)) from exc
        report(progress, Progress("import", done, len(files), path.stem))
    return Annotations(labels, tuple(images))
