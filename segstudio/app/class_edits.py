"""Adding a class to a data set whose ground truth is stored through a value map, so that it can be saved.

Most data sets store class ids in their masks, and a new class is simply the next id. Some store other values
(ISBI: membrane black 0 -> class 1, cell interior white 255 -> class 0): there "Save as ground truth" inverts the
project file's value map, and a class the map does not know cannot be written. So a class added to such a data
set gets a stored value of its own when it is added, chosen by the user from the values the maps leave free (a
sensible one proposed), and every ground-truth value map that needs it gains the entry: saves then write it and
the files read back as the same class. This module owns that rule: which sources need a value
(:func:`new_class_storage`), which values are free and why one is refused (:class:`NewClassStorage`), and the
data set's description with the class added (:func:`spec_with_class`). Writing the project file is the caller's
(``segstudio.io.project_file.write_project_file``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from segstudio.core.labels import Colour, LabelSet, default_colours
from segstudio.core.value_map import ValueMap
from segstudio.io.dataset_spec import DatasetSpec, MaskKind, MaskRole, MaskSource


class Storage(StrEnum):
    """How wide a data set's stored mask values are, judged from its value maps (the files are not read)."""

    GREY_8 = "8-bit"
    GREY_16 = "16-bit"
    COLOUR = "colour"

    @property
    def limit(self) -> int:
        return {Storage.GREY_8: 0xFF, Storage.GREY_16: 0xFFFF, Storage.COLOUR: 0xFFFFFF}[self]

    @classmethod
    def of(cls, values: list[int]) -> Storage:
        high = max(values, default=0)
        return cls.GREY_8 if high <= 0xFF else cls.GREY_16 if high <= 0xFFFF else cls.COLOUR

    def show(self, value: int) -> str:
        """A stored value as the user reads it: ``127``, or ``#rrggbb`` for a colour-coded mask."""
        return f"#{value:06x}" if self is Storage.COLOUR else str(value)

    def describe(self) -> str:
        if self is Storage.COLOUR:
            return "colour masks (#000000..#ffffff)"
        return f"{self.value} masks (0..{self.limit})"


@dataclass(frozen=True)
class NewClassStorage:
    """How the class ``class_id`` (the next one of ``labels``) will be stored in the data set's ground truth.

    ``sources`` are the ground-truth sources whose value map has no way to store it; empty when the masks store
    class ids (nothing to ask). ``proposed``: a free value to offer (None when none is free or none is needed).
    """

    class_id: int
    labels: LabelSet
    sources: tuple[MaskSource, ...]
    storage: Storage
    proposed: int | None

    @property
    def needs_value(self) -> bool:
        return bool(self.sources)

    @property
    def taken(self) -> dict[int, int]:
        """Stored value -> class id, over every value map that needs the new class's value."""
        taken: dict[int, int] = {}
        for source in self.sources:
            assert source.value_map is not None
            taken.update(source.value_map.as_dict())
        return dict(sorted(taken.items()))

    def refusal(self, value: int) -> str | None:
        """Why ``value`` cannot store the new class, with a way forward (None: it can)."""
        if not 0 <= value <= self.storage.limit:
            shown = self.storage.show(value) if value >= 0 else str(value)
            return f"{shown} does not fit the ground truth's {self.storage.describe()}{self._suggestion()}"
        taken = self.taken.get(value)
        if taken is not None:
            return (
                f"{self.storage.show(value)} is taken: it stores class {taken} ({self._name(taken)}) in "
                f"{self._folders()}{self._suggestion()}"
            )
        return None

    def check(self, value: int | None) -> int:
        """``value`` when it can store the new class; ValueError saying why not."""
        if value is None:
            raise ValueError(
                f"class {self.class_id} needs a stored value: the ground truth in {self._folders()} is stored through "
                f"a value map{self._suggestion()}"
            )
        problem = self.refusal(value)
        if problem is not None:
            raise ValueError(f"cannot store class {self.class_id} that way: {problem}")
        return value

    def parse(self, text: str) -> int:
        """A stored value typed by the user: a whole number, or ``#rrggbb`` for colour masks. ValueError if not."""
        cleaned = text.strip()
        try:
            if cleaned.startswith("#") and len(cleaned) == 7:
                return int(cleaned[1:], 16)
            return int(cleaned, 10)
        except ValueError:
            example = "#ff8800" if self.storage is Storage.COLOUR else "127"
            raise ValueError(f"{text.strip() or 'nothing'} is not a stored value; type a whole number such as {example}") from None

    def explain(self) -> str:
        """What the user is asked and why, in a sentence or two."""
        shown = ", ".join(f"{self.storage.show(value)} = {self._name(class_id)}" for value, class_id in list(self.taken.items())[:6])
        more = ", ..." if len(self.taken) > 6 else ""
        return (
            f"The ground truth in {self._folders()} does not store class ids but values through a value map "
            f"({shown}{more}). Pick the value class {self.class_id} will be stored as: saving writes it and the "
            "project file records it, so the files read back as this class."
        )

    def stored_as(self, value: int) -> str:
        """``"stored as 127 in train/masks"``."""
        return f"stored as {self.storage.show(value)} in {self._folders()}"

    def _folders(self) -> str:
        return ", ".join(source.folder for source in self.sources)

    def _name(self, class_id: int) -> str:
        return self.labels.name_of(class_id) if self.labels.is_valid_value(class_id) else "not a class"

    def _suggestion(self) -> str:
        if self.proposed is None:
            return f"; every value of its {self.storage.describe()} is taken"
        return f"; pick a free value such as {self.storage.show(self.proposed)}"


def needs_entry(value_map: ValueMap | None, class_id: int) -> bool:
    """Whether ``value_map`` has no stored value that reads back as ``class_id``."""
    if value_map is None:
        return False  # class ids stored as they are (or colours matched by the label set's colours)
    if any(target == class_id for _raw, target in value_map.pairs):
        return False  # already stored (two values for one class is the save's to refuse, not a new value's)
    return not value_map.keep_unlisted or class_id in value_map.as_dict()  # kept as itself unless that value is taken


def new_class_storage(spec: DatasetSpec, labels: LabelSet | None = None, colour: Colour | None = None) -> NewClassStorage:
    """How the next class of ``labels`` (default: the data set's) will be stored, and a free value to propose
    (for colour-coded masks its ``colour``, by default the one :meth:`LabelSet.with_class` will give it)."""
    labels = spec.labels if labels is None else labels
    class_id = labels.num_classes
    sources = tuple(
        source for source in spec.mask_sources
        if source.role is MaskRole.GROUND_TRUTH and source.kind is MaskKind.SEMANTIC
        and needs_entry(source.value_map, class_id)
    )
    used = sorted({raw for source in sources for raw, _ in source.value_map.pairs})  # type: ignore[union-attr]
    storage = Storage.of(used)
    if colour is None:
        colour = tuple(int(v) for v in default_colours(class_id + 1)[-1])  # type: ignore[assignment]
    proposed = propose_value(used, storage, colour) if sources else None
    return NewClassStorage(class_id, labels, sources, storage, proposed)


def propose_value(used: list[int], storage: Storage, colour: Colour | None = None) -> int | None:
    """A free stored value to offer: the next level when the used values are evenly spaced grey levels that have
    room for one more (0/50/100 -> 150; ids 1000/2000 -> 3000); else the middle of the widest gap (ISBI's 0/255
    -> 127, then 191), so a new grey stays distinct in a viewer; for colour masks the class's colour when free.
    None when every value is taken."""
    taken = set(used)
    if storage is Storage.COLOUR and colour is not None:
        red, green, blue = colour
        packed = (red << 16) | (green << 8) | blue
        if packed not in taken:
            return packed
    if len(used) >= 2:
        steps = [b - a for a, b in zip(used, used[1:], strict=False)]
        if max(steps) - min(steps) <= 1 and used[-1] + max(steps) <= storage.limit:
            return used[-1] + max(steps)
    bounds = [-1, *used, storage.limit + 1]
    gaps = [(b - a, a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b - a > 1]
    if not gaps:
        return None
    _width, low, high = max(gaps, key=lambda gap: gap[0])
    if low < 0:
        return 0
    return storage.limit if high > storage.limit else (low + high) // 2


def spec_with_class(spec: DatasetSpec, labels: LabelSet, stored_value: int | None) -> DatasetSpec:
    """``spec`` with ``labels`` (its label set plus one class at the end) and, where the ground truth is stored
    through a value map, ``stored_value`` recorded for the new class in every map that needs it.

    ValueError (nothing changed) when ``labels`` is not one class more than the data set's, or the value is
    missing, taken or does not fit the masks."""
    current = spec.labels
    if labels.num_classes != current.num_classes + 1 or labels.classes[:-1] != current.classes:
        raise ValueError(f"expected the {current.num_classes} classes of the data set and one more")
    storage = new_class_storage(spec, current)
    if not storage.needs_value:
        return replace(spec, labels=labels)
    value = storage.check(stored_value)
    new = labels.classes[-1]
    needing = {source.name for source in storage.sources}
    sources = tuple(
        replace(source, value_map=_with_entry(source.value_map, value, new.id)) if source.name in needing else source
        for source in spec.mask_sources
    )
    note = f"class {new.id} {new.name!r} added in segstudio: {storage.stored_as(value)}"
    return replace(spec, labels=labels, mask_sources=sources, notes=(*spec.notes, note))


def _with_entry(value_map: ValueMap | None, value: int, class_id: int) -> ValueMap:
    assert value_map is not None
    return ValueMap((*value_map.pairs, (value, class_id)), value_map.keep_unlisted)


__all__ = ["NewClassStorage", "Storage", "needs_entry", "new_class_storage", "propose_value", "spec_with_class"]
