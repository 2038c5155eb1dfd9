"""What the object formats (COCO, labelme, YOLO) store of a mask, and the canvas their readers paint on.

Conventions, shared by every object format:

- **Written classes**: every class but the label set's background (the background is where nothing is drawn).
  A label set without a background class (CamVid) writes all its classes.
- **Unlabelled value**: what a pixel no shape covers reads as: the background class, else the ignore id
  (CamVid's Unlabelled), else class 0.
- **Ignore pixels** (the ignore id, when it is not the unlabelled value) are written where the format can:
  COCO as ``iscrowd: 1`` RLE regions of an extra category named after the ignore id (COCO's own "evaluate nothing
  here"), labelme as shapes labelled ``__ignore__`` (labelme's own name), YOLO not at all (counted).
- **Objects**: the instances when the image has them, plus each written class's pixels that no instance covers;
  without instances, one object per written class.
- **Names, not numbers**: readers map categories and labels to the label set by name, so a format's numbering
  never decides a class: labelme's ``_background_`` and ``__ignore__`` are the background class and the ignore
  id, and so is a COCO category 0 named ``_background_`` (it does not collide with class 0 by number).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.io.exchange.model import AnnotatedImage
from segstudio.io.mask_files import class_mask_dtype

LABELME_BACKGROUND = "_background_"
LABELME_IGNORE = "__ignore__"
BACKGROUND_NAMES = frozenset({LABELME_BACKGROUND})
IGNORE_NAMES = frozenset({LABELME_IGNORE})


def written_classes(labels: LabelSet) -> tuple[int, ...]:
    return tuple(c for c in range(labels.num_classes) if c != labels.background)


def unlabelled_value(labels: LabelSet) -> int:
    if labels.background is not None:
        return labels.background
    if labels.ignore_index is not None:
        return labels.ignore_index
    return 0


def stores_ignore(labels: LabelSet) -> bool:
    """Whether ignore pixels need storing: there is an ignore id and it is not what unlabelled pixels read as."""
    return labels.ignore_index is not None and labels.ignore_index != unlabelled_value(labels)


@dataclass(frozen=True, eq=False)
class MaskObject:
    """One thing to write: the pixels of an instance (``instance_id``) or of a class region (``instance_id`` None)."""

    class_id: int
    instance_id: int | None
    mask: np.ndarray


def objects_of(image: AnnotatedImage, labels: LabelSet) -> Iterator[MaskObject]:
    """The instances (ascending id), then each written class's pixels outside every instance (ascending class)."""
    outside = None
    if image.instances is not None:
        ids = image.instances.ids
        for instance in image.instances.instance_ids:
            yield MaskObject(image.instances.class_of(instance), instance, ids == instance)
        outside = ids == 0
    present = set(np.unique(image.classes).tolist())
    for class_id in written_classes(labels):
        if class_id not in present:
            continue
        mask = image.classes == class_id
        if outside is not None:
            mask &= outside
        if mask.any():
            yield MaskObject(class_id, None, mask)


def ignore_mask(image: AnnotatedImage, labels: LabelSet) -> np.ndarray | None:
    """The ignore pixels the format must store (None when there are none to store)."""
    if not stores_ignore(labels):
        return None
    mask = image.classes == labels.ignore_index
    return mask if mask.any() else None


class LabelNames:
    """Label set <-> the names a file uses: class names, plus labelme's ``_background_``/``__ignore__``."""

    def __init__(self, labels: LabelSet) -> None:
        self.labels = labels
        self._ids: dict[str, int] = {name: i for i, name in enumerate(labels.names)}
        if labels.background is not None:
            for name in BACKGROUND_NAMES:
                self._ids.setdefault(name, labels.background)
        if labels.ignore_index is not None:
            for name in (*IGNORE_NAMES, labels.ignore_name):
                self._ids.setdefault(name, labels.ignore_index)

    def value_of(self, name: str) -> int | None:
        """The class id (or ignore id) a name stands for; None for a name the label set does not know."""
        return self._ids.get(name)

    def label_of(self, value: int) -> str:
        """The label a value is written as (the background as ``_background_``, ignore as ``__ignore__``)."""
        if value == self.labels.ignore_index:
            return LABELME_IGNORE
        if value == self.labels.background:
            return LABELME_BACKGROUND
        return self.labels.names[value]


class Canvas:
    """A reader's image: starts unlabelled, shapes painted in order, later over earlier."""

    def __init__(self, height: int, width: int, labels: LabelSet) -> None:
        self.labels = labels
        self.classes = np.full((height, width), unlabelled_value(labels), dtype=class_mask_dtype(labels))
        self.ids = np.zeros((height, width), dtype=np.int32)
        self.instance_classes: dict[int, int] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return self.classes.shape  # type: ignore[return-value]

    def paint(self, mask: np.ndarray, value: int, instance_id: int | None = None) -> None:
        """``value`` (a class id or the ignore id) over ``mask``; the pixels join ``instance_id`` (none: they leave
        any instance: background and ignore are never part of one)."""
        self.classes[mask] = value
        object_value = instance_id is not None and 0 <= value < self.labels.num_classes and value != self.labels.background
        if object_value:
            self.ids[mask] = instance_id
            self.instance_classes[int(instance_id)] = value  # type: ignore[arg-type]
        else:
            self.ids[mask] = 0

    def image(self, name: str, image_path, *, with_instances: bool) -> AnnotatedImage:  # noqa: ANN001
        instances = None
        if with_instances:
            ids = self.ids
            if int(ids.max(initial=0)) <= 0xFFFF:
                ids = ids.astype(np.uint16 if int(ids.max(initial=0)) > 0xFF else np.uint8)
            instances = InstanceMask(ids, self.instance_classes)
        return AnnotatedImage(name, self.classes, instances, image_path)
