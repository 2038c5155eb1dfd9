"""Carry instance ids through a class-mask edit: the instances a corrected class mask still holds.

Until instances can be edited one by one, the user corrects an instance data set (Penn-Fudan: one id per person)
as classes: the window shows and edits the class of each pixel. Saving must not flatten the objects back into
one class mask, so :func:`carry_instances` maps the edited class mask back onto the instances it started from:

- a pixel keeps its instance id when its class is still that instance's class (untouched instances keep every
  pixel and their id; a partly erased one keeps the rest);
- painted pixels of an object class that belong to no instance are grouped into connected regions (8-connected,
  per class); a region touching exactly one instance of its class joins it (painting the missed arm of a person),
  any other region becomes a new instance with a fresh id (touching none, or touching several: joining one of
  them would be a guess);
- pixels of the background class, and unlabelled pixels, belong to no instance.

What would be lost is reported, never done silently: instances with no pixel left (:attr:`InstanceCarry.removed`)
and unlabelled pixels, which an instance mask cannot store (they are written as background). The caller asks the
user before writing a carry whose :attr:`InstanceCarry.loses` is true.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.instances import InstanceMask


@dataclass(frozen=True, eq=False)
class InstanceCarry:
    """The instances of an edited class mask, and what happened to those it started from."""

    instances: InstanceMask
    unchanged: tuple[int, ...]  # ids with exactly the pixels they had
    changed: tuple[int, ...]  # ids kept, with pixels taken away or added
    removed: tuple[int, ...]  # ids with no pixel left: painted over or erased whole
    new: tuple[int, ...]  # fresh ids for painted regions that belong to no instance
    unlabelled_pixels: int  # pixels holding the ignore id, stored as background
    # True when the instances were edited one by one (:func:`edited_instances`): nothing was guessed, and an
    # instance that is gone was deleted by the user, so only unlabelled pixels can still be lost.
    deliberate: bool = False

    @property
    def loses(self) -> bool:
        """True when writing this carry drops something the instance mask held or the user painted."""
        return (bool(self.removed) and not self.deliberate) or self.unlabelled_pixels > 0

    def describe(self) -> str:
        """One sentence for a status bar or a question: what the save keeps, changes, removes and adds."""
        parts = [f"{len(self.unchanged)} instance(s) unchanged"]
        if self.changed:
            parts.append(f"instance(s) {_ids(self.changed)} changed")
        if self.removed:
            why = "deleted" if self.deliberate else "removed (no pixel of their class is left)"
            parts.append(f"instance(s) {_ids(self.removed)} {why}")
        if self.new:
            how = "" if self.deliberate else " from painted regions"
            parts.append(f"{len(self.new)} new instance(s) ({_ids(self.new)}){how}")
        if self.unlabelled_pixels:
            parts.append(f"{self.unlabelled_pixels:,} unlabelled pixel(s) stored as background")
        return "; ".join(parts)


def carry_instances(
    reference: InstanceMask,
    working: np.ndarray,
    *,
    background: int | None,
    ignore_index: int | None,
) -> InstanceCarry:
    """The instances of ``working`` (a class mask edited from ``reference``'s classes); see the module notes.

    ``background``: the class that is "no object" (None: every class is an object, so every pixel that is not
    unlabelled belongs to an instance). ``ignore_index``: the unlabelled value, if the label set has one.
    """
    ids = np.asarray(reference.ids)
    working = np.asarray(working)
    if working.shape != ids.shape:
        raise ValueError(f"the working mask is {working.shape[1]}x{working.shape[0]} but the instances are "
                         f"{ids.shape[1]}x{ids.shape[0]}")
    highest = int(ids.max(initial=0))
    class_of = np.full(highest + 1, -1, dtype=np.int32)  # id 0 and unknown ids: no class
    for instance, class_id in reference.classes.items():
        if instance <= highest:
            class_of[instance] = class_id
    out_dtype = np.uint16 if highest > 0xFF else np.uint8
    kept = (ids > 0) & (working == class_of[ids])
    carried = np.where(kept, ids, 0).astype(np.int32)  # room for new ids past the reference's highest

    unlabelled = working == ignore_index if ignore_index is not None else np.zeros(working.shape, dtype=bool)
    is_object = ~unlabelled if background is None else (working != background) & ~unlabelled
    loose = is_object & ~kept
    classes = dict(reference.classes)
    next_id = highest + 1
    new_ids: list[int] = []
    for class_id in np.unique(working[loose]).tolist():
        region_mask = (loose & (working == class_id)).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(region_mask, connectivity=8)
        for region in range(1, count):
            x, y, w, h = (int(v) for v in stats[region, :4])
            top, left = max(0, y - 1), max(0, x - 1)
            bottom, right = min(ids.shape[0], y + h + 1), min(ids.shape[1], x + w + 1)
            pixels = labels[top:bottom, left:right] == region
            grown = cv2.dilate(pixels.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            around = carried[top:bottom, left:right][grown & ~pixels]
            neighbours = {int(i) for i in np.unique(around) if i > 0 and classes.get(int(i)) == class_id}
            if len(neighbours) == 1:
                target = neighbours.pop()
            else:
                target = next_id
                next_id += 1
                classes[target] = int(class_id)
                new_ids.append(target)
            carried[top:bottom, left:right][pixels] = target

    if next_id - 1 > 0xFFFF:
        raise ValueError(f"{next_id - 1} instances do not fit a 16-bit instance mask")
    if next_id - 1 > 0xFF:
        out_dtype = np.uint16
    result = carried.astype(out_dtype)
    before = set(reference.instance_ids)
    present = {int(i) for i in np.unique(result) if i > 0}
    differs = result != ids
    touched = {int(i) for i in np.unique(ids[differs]) if i > 0} | {int(i) for i in np.unique(result[differs]) if i > 0}
    new = tuple(sorted(new_ids))
    return InstanceCarry(
        instances=InstanceMask(result, {i: c for i, c in classes.items() if i in present}, _scores_of(reference, present)),
        unchanged=tuple(sorted((before & present) - touched)),
        changed=tuple(sorted((before & present) & touched)),
        removed=tuple(sorted(before - present)),
        new=new,
        unlabelled_pixels=int(np.count_nonzero(unlabelled)),
    )


def edited_instances(
    previous: InstanceMask | None, working: InstanceMask, classes: np.ndarray, *, ignore_index: int | None
) -> InstanceCarry:
    """The instances of an instance session (edited object by object) as they are written, described against
    ``previous`` (what the file held; None: nothing yet). ``classes``: the session's class mask, for the unlabelled
    pixels an instance mask cannot store. Nothing is guessed: ``working`` is written exactly."""
    classes = np.asarray(classes)
    unlabelled = int(np.count_nonzero(classes == ignore_index)) if ignore_index is not None else 0
    now = set(working.instance_ids)
    if previous is None or previous.shape != working.shape:
        return InstanceCarry(working, (), (), (), tuple(sorted(now)), unlabelled, deliberate=True)
    before = set(previous.instance_ids)
    same: list[int] = []
    for instance in sorted(before & now):
        if previous.class_of(instance) == working.class_of(instance) and np.array_equal(
                previous.ids == instance, working.ids == instance):
            same.append(instance)
    both = before & now
    return InstanceCarry(
        instances=working,
        unchanged=tuple(same),
        changed=tuple(sorted(both - set(same))),
        removed=tuple(sorted(before - now)),
        new=tuple(sorted(now - before)),
        unlabelled_pixels=unlabelled,
        deliberate=True,
    )


def _scores_of(reference: InstanceMask, present: set[int]) -> dict[int, float] | None:
    if reference.scores is None:
        return None
    return {i: s for i, s in reference.scores.items() if i in present}


def _ids(values: tuple[int, ...], limit: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown if len(values) <= limit else f"{shown} and {len(values) - limit} more"


__all__ = ["InstanceCarry", "carry_instances", "edited_instances"]
