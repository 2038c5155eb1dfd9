"""The values exchanged: the formats, one image's annotations and a data set's.

An :class:`AnnotatedImage` is what the window shows for one image: a class mask (class ids of the label set, or
its ignore id) and, where the data set has them, the instances. Where both are given they agree: every pixel of
an instance holds that instance's class in the class mask, and no instance is of the background class or the
ignore id (those are "nothing there" and "not annotated", not objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet


class ExchangeFormat(Enum):
    """The formats masks are exported to and imported from; the values are the command line's names."""

    PNG = "png"  # masks/<name>.png palette PNGs (+ instances/<name>.png) and labels.toml: segstudio's own, lossless
    VOC = "voc"  # JPEGImages/, SegmentationClass/, SegmentationObject/, ImageSets/Segmentation/, class_names.txt
    COCO = "coco"  # annotations.json, RLE segmentations (pycocotools): lossless
    COCO_POLYGONS = "coco-polygons"  # annotations.json, polygon segmentations: no holes
    LABELME = "labelme"  # <name>.json per image, labelme's polygons
    YOLO = "yolo"  # labels/<name>.txt "cls x1 y1 x2 y2 ..." normalised, data.yaml: no holes, no ignore

    @property
    def lossless(self) -> bool:
        """Whether every mask survives bit-exact (a mismatch on re-import is then a bug, not a limitation)."""
        return self in (ExchangeFormat.PNG, ExchangeFormat.VOC, ExchangeFormat.COCO)

    @property
    def title(self) -> str:
        return _TITLES[self]

    @classmethod
    def parse(cls, text: str) -> ExchangeFormat:
        """A format from its name, case-insensitive; ``_`` and ``-`` alike (``coco_polygons``)."""
        key = text.strip().lower().replace("_", "-")
        for fmt in cls:
            if fmt.value == key:
                return fmt
        raise ValueError(f"unknown format {text!r}; formats are {', '.join(f.value for f in cls)}")


_TITLES = {
    ExchangeFormat.PNG: "palette PNG",
    ExchangeFormat.VOC: "PASCAL VOC",
    ExchangeFormat.COCO: "COCO (RLE)",
    ExchangeFormat.COCO_POLYGONS: "COCO (polygons)",
    ExchangeFormat.LABELME: "labelme",
    ExchangeFormat.YOLO: "YOLO segmentation",
}


@dataclass(frozen=True, eq=False)
class AnnotatedImage:
    """One image's masks. ``name`` names its files (a file name stem: no folder separators); ``image_path`` is
    the photo, copied next to the annotations by the formats that carry images (VOC, COCO, labelme, YOLO)."""

    name: str
    classes: np.ndarray
    instances: InstanceMask | None = None
    image_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.name or self.name in (".", "..") or any(c in self.name for c in "/\\\0"):
            raise ValueError(f"image name {self.name!r} cannot name a file; give the file name stem")
        classes = np.asarray(self.classes)
        if classes.ndim != 2 or classes.dtype == np.bool_ or not np.issubdtype(classes.dtype, np.integer):
            raise ValueError(f"{self.name}: a class mask is a 2-D integer array, got {classes.dtype} {classes.shape}")
        if classes.flags.writeable:
            classes = classes.copy()
            classes.flags.writeable = False
        object.__setattr__(self, "classes", classes)
        if self.image_path is not None:
            object.__setattr__(self, "image_path", Path(self.image_path))
        if self.instances is None:
            return
        if self.instances.shape != classes.shape:
            raise ValueError(
                f"{self.name}: instance mask is {self.instances.shape[1]}x{self.instances.shape[0]}, "
                f"class mask {classes.shape[1]}x{classes.shape[0]}"
            )
        disagree = (self.instances.ids > 0) & (self.instances.to_class_mask(np.int64) != classes)
        if disagree.any():
            raise ValueError(
                f"{self.name}: {int(disagree.sum())} px of instances hold another class in the class mask; "
                "the two masks must agree"
            )

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return int(self.classes.shape[0]), int(self.classes.shape[1])


@dataclass(frozen=True)
class Annotations:
    """A data set's masks in one label set. ``notes`` are what an import wants said (shapes skipped, ...)."""

    labels: LabelSet
    images: tuple[AnnotatedImage, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "notes", tuple(self.notes))
        seen: set[str] = set()
        for image in self.images:
            if image.name in seen:
                raise ValueError(f"two images are named {image.name!r}; names must be unique")
            seen.add(image.name)

    def check_values(self) -> None:
        """ValueError naming the image whose masks hold values outside the label set, or whose instances are of the
        background class or the ignore id (called by every export before it writes anything)."""
        labels = self.labels
        for image in self.images:
            bad = labels.invalid_values(np.unique(image.classes).tolist())
            if bad:
                raise ValueError(
                    f"{image.name}: values {', '.join(map(str, bad))} are neither a class id "
                    f"(0..{labels.num_classes - 1}) nor the ignore id ({labels.ignore_index})"
                )
            if image.instances is None:
                continue
            for instance in image.instances.instance_ids:
                class_id = image.instances.class_of(instance)
                if class_id == labels.background or not 0 <= class_id < labels.num_classes:
                    raise ValueError(
                        f"{image.name}: instance {instance} has class {class_id}, the background or not a class; "
                        "instances are objects of the other classes"
                    )

    def image(self, name: str) -> AnnotatedImage:
        for image in self.images:
            if image.name == name:
                return image
        raise KeyError(name)

    @property
    def has_instances(self) -> bool:
        return any(image.instances is not None for image in self.images)
