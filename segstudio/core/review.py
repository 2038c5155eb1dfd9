"""Review of a data set, image by image: a status (to do, in progress, corrected, accepted, rejected), an optional
comment, who set it and when, and how much correcting the model's mask cost (:class:`CorrectionEffort`).

A :class:`ReviewBook` is an immutable value: every change makes a new one. Two books (two windows, or the file
on disk and the window's copy) merge image by image, the entry changed last winning, so a merge never loses a
newer decision and gives the same result whichever book it starts from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType

import numpy as np


MAX_COMMENT_LENGTH = 2000


class ReviewStatus(Enum):
    """Where an image stands. The value is the word shown to users and written to the project file."""

    TO_DO = "to do"
    IN_PROGRESS = "in progress"
    CORRECTED = "corrected"
    ACCEPTED = "accepted"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        """Still someone's work: "next to do" stops on it."""
        return self in (ReviewStatus.TO_DO, ReviewStatus.IN_PROGRESS)

    @property
    def is_done(self) -> bool:
        return self in (ReviewStatus.ACCEPTED, ReviewStatus.REJECTED)

    @classmethod
    def parse(cls, text: str) -> ReviewStatus:
        """From the shown word, the enum name, or either with ``_``/``-`` for spaces (``"to-do"``, ``TO_DO``)."""
        wanted = str(text).strip().lower().replace("_", " ").replace("-", " ")
        for status in cls:
            if status.value == wanted:
                return status
        raise ValueError(f"{text!r} is not a review status; use one of: {', '.join(s.value for s in cls)}")


@dataclass(frozen=True)
class CorrectionEffort:
    """How much of the model's prediction the accepted mask changed.

    ``changed``: pixels whose accepted class differs from the predicted one. ``added[c]``: pixels the labeler
    made class ``c`` that the model had given another class (the model missed them); ``removed[c]``: pixels
    the model gave class ``c`` that are another class now (false alarms). Each changed pixel is in one
    ``added`` and at most one ``removed`` entry (a prediction of no class, e.g. the ignore id, removes from none).
    ``iou``: mean IoU of the prediction against the accepted mask over the
    classes in either (None when both are empty of classes, e.g. an ignore-only mask). Ignore pixels of the
    accepted mask are not counted.
    """

    changed: int
    counted: int  # pixels compared (the mask less its ignore pixels)
    iou: float | None
    added: Mapping[int, int] = field(default_factory=dict)
    removed: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "added", MappingProxyType({int(k): int(v) for k, v in self.added.items() if v}))
        object.__setattr__(self, "removed", MappingProxyType({int(k): int(v) for k, v in self.removed.items() if v}))
        if self.changed < 0 or self.counted < self.changed:
            raise ValueError(f"changed pixels ({self.changed}) must lie between 0 and the pixels counted ({self.counted})")

    @property
    def changed_fraction(self) -> float:
        return self.changed / self.counted if self.counted else 0.0

    def touched(self, class_id: int) -> int:
        """Pixels changed into or out of ``class_id``: what correcting this class cost on this image."""
        return self.added.get(class_id, 0) + self.removed.get(class_id, 0)

    @classmethod
    def measure(cls, prediction: np.ndarray, accepted: np.ndarray, num_classes: int,
                ignore_index: int | None = None) -> CorrectionEffort:
        """Compare the model's ``prediction`` with the ``accepted`` mask (both class ids, one shape)."""
        if prediction.shape != accepted.shape:
            raise ValueError(f"prediction {prediction.shape} and accepted mask {accepted.shape} differ in shape")
        counted = accepted != ignore_index if ignore_index is not None else np.ones(accepted.shape, bool)
        truth = accepted[counted].astype(np.int64)
        if truth.size and (truth.min() < 0 or truth.max() >= num_classes):
            raise ValueError(f"the accepted mask holds values outside the classes 0..{num_classes - 1}")
        # A prediction value that is no class (the ignore id, a stray value) is "no class": one extra column.
        predicted = prediction[counted].astype(np.int64)
        predicted[(predicted < 0) | (predicted >= num_classes)] = num_classes
        size = num_classes + 1
        counts = np.bincount(truth * size + predicted, minlength=size * size).reshape(size, size)
        return cls.from_confusion(counts, num_classes)

    @classmethod
    def from_confusion(cls, confusion: np.ndarray, num_classes: int | None = None) -> CorrectionEffort:
        """From a confusion matrix with rows the accepted mask and columns the prediction; columns from
        ``num_classes`` on are predictions of no class (they add to a class but remove from none)."""
        counts = np.asarray(confusion, dtype=np.int64)
        n = counts.shape[0] if num_classes is None else num_classes
        overlap = np.diag(counts)[:n]
        accepted, predicted = counts.sum(axis=1)[:n], counts.sum(axis=0)[:n]
        union = accepted + predicted - overlap
        present = union > 0
        iou = float(np.mean(overlap[present] / union[present])) if present.any() else None
        return cls(
            changed=int(counts.sum() - overlap.sum()),
            counted=int(counts.sum()),
            iou=iou,
            added={c: int(accepted[c] - overlap[c]) for c in range(n)},
            removed={c: int(predicted[c] - overlap[c]) for c in range(n)},
        )

    def to_mapping(self) -> dict[str, object]:
        data: dict[str, object] = {"changed": self.changed, "counted": self.counted}
        if self.iou is not None:
            data["iou"] = self.iou
        # Dense per-class lists (index = class id): one short line each in the project file, not a table per class.
        length = max([*self.added, *self.removed], default=-1) + 1
        data["added"] = [self.added.get(c, 0) for c in range(length)]
        data["removed"] = [self.removed.get(c, 0) for c in range(length)]
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> CorrectionEffort:
        iou = data.get("iou")
        return cls(
            changed=_non_negative(data.get("changed"), "effort.changed"),
            counted=_non_negative(data.get("counted"), "effort.counted"),
            iou=None if iou is None else float(iou),  # type: ignore[arg-type]
            added=_class_counts(data.get("added", {}), "effort.added"),
            removed=_class_counts(data.get("removed", {}), "effort.removed"),
        )


@dataclass(frozen=True)
class ReviewEntry:
    """One image's review: its status, a comment, when (seconds since the epoch) and by whom it was last changed,
    and the correction effort measured when it was accepted."""

    status: ReviewStatus = ReviewStatus.TO_DO
    comment: str = ""
    changed_at: float = 0.0
    changed_by: str = ""
    effort: CorrectionEffort | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, ReviewStatus):
            raise ValueError(f"status must be a ReviewStatus, got {self.status!r}")
        if len(self.comment) > MAX_COMMENT_LENGTH:
            raise ValueError(f"a comment holds at most {MAX_COMMENT_LENGTH} characters, got {len(self.comment)}")
        if not np.isfinite(self.changed_at) or self.changed_at < 0:
            raise ValueError(f"changed_at must be a time in seconds since 1970, got {self.changed_at}")

    def newer_than(self, other: ReviewEntry) -> bool:
        """Whether this entry wins a merge with ``other``: changed later; on a tie, the one further along the
        review (accepted over corrected...), then by comment, so both sides of a merge agree."""
        return self._order() > other._order()

    def _order(self) -> tuple[float, int, str, str]:
        rank = list(ReviewStatus).index(self.status)
        return self.changed_at, rank, self.comment, self.changed_by

    def to_mapping(self) -> dict[str, object]:
        data: dict[str, object] = {"status": self.status.value}
        if self.comment:
            data["comment"] = self.comment
        data["changed_at"] = round(self.changed_at, 3)
        if self.changed_by:
            data["changed_by"] = self.changed_by
        if self.effort is not None:
            data["effort"] = self.effort.to_mapping()
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ReviewEntry:
        if not isinstance(data, Mapping):
            raise TypeError(f"a review entry must be a table, got {type(data).__name__}")
        effort = data.get("effort")
        if effort is not None and not isinstance(effort, Mapping):
            raise TypeError("effort must be a table")
        changed_at = data.get("changed_at", 0.0)
        if not isinstance(changed_at, (int, float)) or isinstance(changed_at, bool):
            raise TypeError(f"changed_at must be a number of seconds, got {changed_at!r}")
        return cls(
            status=ReviewStatus.parse(str(data.get("status", ReviewStatus.TO_DO.value))),
            comment=str(data.get("comment", "")),
            changed_at=float(changed_at),
            changed_by=str(data.get("changed_by", "")),
            effort=None if effort is None else CorrectionEffort.from_mapping(effort),
        )


@dataclass(frozen=True)
class ReviewCounts:
    """How many images stand at each status."""

    by_status: Mapping[ReviewStatus, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def __getitem__(self, status: ReviewStatus) -> int:
        return self.by_status.get(status, 0)

    @property
    def done(self) -> int:
        return self[ReviewStatus.ACCEPTED] + self[ReviewStatus.REJECTED]


class ReviewBook:
    """Image key -> :class:`ReviewEntry`, immutable. An image without an entry is "to do", unless it has a saved
    correction (a project from before statuses existed): then it counts as "corrected"."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, ReviewEntry] | Iterable[tuple[str, ReviewEntry]] = ()) -> None:
        items = entries.items() if isinstance(entries, Mapping) else entries
        self._entries: Mapping[str, ReviewEntry] = MappingProxyType(dict(items))

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReviewBook) and dict(self._entries) == dict(other._entries)

    def __hash__(self) -> int:  # pragma: no cover - books are values, not keys
        return hash(frozenset(self._entries))

    def __repr__(self) -> str:
        return f"ReviewBook({len(self)} entries)"

    def entry(self, key: str) -> ReviewEntry | None:
        return self._entries.get(key)

    def items(self) -> Iterable[tuple[str, ReviewEntry]]:
        return self._entries.items()

    def status_of(self, key: str, *, has_correction: bool = False) -> ReviewStatus:
        entry = self._entries.get(key)
        if entry is not None:
            return entry.status
        return ReviewStatus.CORRECTED if has_correction else ReviewStatus.TO_DO

    def with_entry(self, key: str, entry: ReviewEntry) -> ReviewBook:
        entries = dict(self._entries)
        entries[key] = entry
        return ReviewBook(entries)

    def with_status(self, key: str, status: ReviewStatus, *, at: float, by: str = "",
                    comment: str | None = None, effort: CorrectionEffort | None = None) -> ReviewBook:
        """``key`` set to ``status`` at time ``at``; the comment is kept unless given; the effort is kept when
        the status stays accepted and none is given, and dropped when the image leaves "accepted"."""
        old = self._entries.get(key, ReviewEntry())
        if effort is None and status is ReviewStatus.ACCEPTED:
            effort = old.effort
        entry = replace(old, status=status, changed_at=at, changed_by=by,
                        comment=old.comment if comment is None else comment, effort=effort)
        return self.with_entry(key, entry)

    def merged(self, other: ReviewBook) -> ReviewBook:
        """Both books, image by image the entry changed last (:meth:`ReviewEntry.newer_than`)."""
        entries = dict(self._entries)
        for key, theirs in other.items():
            ours = entries.get(key)
            if ours is None or theirs.newer_than(ours):
                entries[key] = theirs
        return ReviewBook(entries)

    def counts(self, keys: Iterable[str], corrected: Iterable[str] = ()) -> ReviewCounts:
        """Images per status among ``keys`` (``corrected``: the keys with a saved correction)."""
        with_correction = set(corrected)
        tally: dict[ReviewStatus, int] = {status: 0 for status in ReviewStatus}
        for key in keys:
            tally[self.status_of(key, has_correction=key in with_correction)] += 1
        return ReviewCounts(MappingProxyType(tally))

    def effort_per_class(self, num_classes: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Over the accepted images with a measured effort: (pixels changed into each class, pixels changed out of
        each class, images counted)."""
        added = np.zeros(num_classes, dtype=np.int64)
        removed = np.zeros(num_classes, dtype=np.int64)
        images = 0
        for entry in self._entries.values():
            if entry.status is not ReviewStatus.ACCEPTED or entry.effort is None:
                continue
            images += 1
            for class_id, pixels in entry.effort.added.items():
                if 0 <= class_id < num_classes:
                    added[class_id] += pixels
            for class_id, pixels in entry.effort.removed.items():
                if 0 <= class_id < num_classes:
                    removed[class_id] += pixels
        return added, removed, images

    def to_mapping(self) -> dict[str, dict[str, object]]:
        return {key: entry.to_mapping() for key, entry in sorted(self._entries.items())}

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ReviewBook:
        """Raises ValueError/TypeError naming the image whose entry is malformed."""
        if not isinstance(data, Mapping):
            raise TypeError("'review' must be a table of images")
        entries: dict[str, ReviewEntry] = {}
        for key, value in data.items():
            try:
                entries[str(key)] = ReviewEntry.from_mapping(value)  # type: ignore[arg-type]
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"review of {key!r}: {exc}") from exc
        return cls(entries)


def next_open(order: Sequence[str], current: str | None, status_of: Callable[[str], ReviewStatus]) -> str | None:
    """The first image after ``current`` in ``order`` (the list as shown), wrapping around, whose status is open
    (to do or in progress); None when none is. ``current`` itself comes last, so it is found only when it is
    the one open image left."""
    if not order:
        return None
    start = order.index(current) + 1 if current in order else 0
    for offset in range(len(order)):
        key = order[(start + offset) % len(order)]
        if status_of(key).is_open:
            return key
    return None


def _non_negative(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be a whole number of pixels, got {value!r}")
    return value


def _class_counts(value: object, what: str) -> dict[int, int]:
    if isinstance(value, (list, tuple)):
        return {c: _non_negative(pixels, f"{what}[{c}]") for c, pixels in enumerate(value)}
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a list of pixels per class id")
    counts: dict[int, int] = {}
    for key, pixels in value.items():
        try:
            class_id = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: {key!r} is not a class id") from None
        counts[class_id] = _non_negative(pixels, f"{what}.{key}")
    return counts


__all__ = [
    "CorrectionEffort", "ReviewBook", "ReviewCounts", "ReviewEntry", "ReviewStatus", "next_open",
]  # fmt: skip
