"""The self-check: an image as exported against the same image read back, each differing pixel given one reason.

A pixel differs when its class (or ignore id) differs, or, where the format stores instances, when it lies in
another instance. Instance ids need not be the same numbers (COCO and labelme number objects themselves): each
exported instance is matched to the read-back instance holding most of its pixels (each read-back instance used
once), and a pixel differs when it is not in its instance's match.

Reasons, first that applies:

1. *ignore pixels the format cannot store* (YOLO);
2. *in holes*: the pixel lies in a hole of the region of the class it came back as: the format filled a polygon
   over it and nothing drawn later restored it;
3. *in another instance*: the class is right, the object is not (a multi-part object split into several YOLO
   lines, or an overlapping shape drawn later);
4. *at outlines*: anything else (a rasteriser's rounding at a polygon's edge).
"""

from __future__ import annotations

import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.io.exchange.model import AnnotatedImage, ExchangeFormat
from segstudio.io.exchange.objects import stores_ignore
from segstudio.io.exchange.polygons import filled_shells
from segstudio.io.exchange.report import ImageCheck, Reason

STORES_INSTANCES = frozenset(
    {ExchangeFormat.PNG, ExchangeFormat.VOC, ExchangeFormat.COCO, ExchangeFormat.COCO_POLYGONS,
     ExchangeFormat.LABELME, ExchangeFormat.YOLO}
)  # fmt: skip
STORES_IGNORE = frozenset(set(ExchangeFormat) - {ExchangeFormat.YOLO})
LITERAL_IDS = frozenset({ExchangeFormat.PNG, ExchangeFormat.VOC})


def compare_image(original: AnnotatedImage, result: AnnotatedImage | None, labels: LabelSet, fmt: ExchangeFormat) -> ImageCheck:
    if result is None:
        return ImageCheck(original.name, original.classes.size, _per_class(original.classes, None),
                          (Reason(original.classes.size, "not found in the written files"),))  # fmt: skip
    if result.size != original.size:
        text = f"read back at {result.size[1]}x{result.size[0]}, exported at {original.size[1]}x{original.size[0]}"
        return ImageCheck(original.name, original.classes.size, _per_class(original.classes, None), (Reason(original.classes.size, text),))
    before, after = original.classes, result.classes
    class_differs = before != after
    instance_differs = np.zeros_like(class_differs)
    if original.instances is not None and fmt in STORES_INSTANCES:
        if result.instances is None:
            instance_differs = original.instances.ids > 0
        elif fmt in LITERAL_IDS:
            instance_differs = original.instances.ids != result.instances.ids
        else:
            instance_differs = _instance_mismatch(original.instances.ids, result.instances.ids)
    differs = class_differs | instance_differs
    total = int(differs.sum())
    if total == 0:
        return ImageCheck(original.name)
    remaining = differs.copy()
    reasons: list[Reason] = []

    def take(mask: np.ndarray, text: str) -> None:
        count = int((mask & remaining).sum())
        if count:
            reasons.append(Reason(count, text))
            remaining[mask] = False

    if labels.ignore_index is not None and fmt not in STORES_IGNORE and stores_ignore(labels):
        take(before == labels.ignore_index, f"ignore pixels ({labels.ignore_name}) {fmt.title} cannot store")
    holes = np.zeros_like(differs)
    for value in np.unique(after[class_differs & remaining]).tolist():
        came_back = class_differs & remaining & (after == value)
        holes |= came_back & filled_shells(before == value)
    take(holes, f"in holes {fmt.title} cannot store (filled by the enclosing polygon)")
    take(instance_differs & ~class_differs, _instance_reason(fmt))
    take(remaining.copy(), "at outlines (the rasteriser's rounding)")
    return ImageCheck(original.name, total, _per_class(before, differs), tuple(reasons))


def _instance_reason(fmt: ExchangeFormat) -> str:
    if fmt is ExchangeFormat.YOLO:
        return "in another instance: multi-part objects come back as one instance per YOLO line"
    return "in another instance (overlapping shapes: the later drawn wins)"


def _per_class(classes: np.ndarray, where: np.ndarray | None) -> dict[int, int]:
    values, counts = np.unique(classes if where is None else classes[where], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def _instance_mismatch(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels not in their exported instance's best-matching read-back instance (ids matched one to one)."""
    b = before.astype(np.int64).ravel()
    a = after.astype(np.int64).ravel()
    keys, counts = np.unique(b * (int(a.max(initial=0)) + 1) + a, return_counts=True)
    pairs_b, pairs_a = keys // (int(a.max(initial=0)) + 1), keys % (int(a.max(initial=0)) + 1)
    match = {0: 0}
    used = {0}
    for index in np.argsort(-counts, kind="stable"):
        ib, ia = int(pairs_b[index]), int(pairs_a[index])
        if ib == 0 or ib in match or ia in used:
            continue
        match[ib] = ia
        used.add(ia)
    present = np.unique(b)
    lut_keys = present
    lut_values = np.array([match.get(int(v), -1) for v in present], dtype=np.int64)
    expected = lut_values[np.searchsorted(lut_keys, b)]
    return (expected != a).reshape(before.shape)
