"""What an export's self-check found: per image, the pixels that came back different and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from segstudio.io.exchange.model import ExchangeFormat


@dataclass(frozen=True)
class Reason:
    """``pixels`` of an image that differ for one cause, ``text`` saying which (the reasons of an image partition its
    differing pixels: their counts add up to :attr:`ImageCheck.differing_pixels`)."""

    pixels: int
    text: str

    def __str__(self) -> str:
        return f"{self.pixels} px {self.text}"


@dataclass(frozen=True)
class ImageCheck:
    """One image re-imported from the written files and compared with what was exported.

    ``differing_pixels``: pixels whose class, or (formats that store instances) whose instance, differs;
    ``per_class``: those pixels counted by the class (or ignore id) they had in what was exported.
    """

    name: str
    differing_pixels: int = 0
    per_class: Mapping[int, int] = field(default_factory=dict)
    reasons: tuple[Reason, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_class", MappingProxyType(dict(sorted(self.per_class.items()))))
        object.__setattr__(self, "reasons", tuple(self.reasons))

    @property
    def exact(self) -> bool:
        return self.differing_pixels == 0

    def describe(self, class_name=str) -> str:  # noqa: ANN001 - a callable id -> name
        """``"img1: 31 px differ (Road 20, Sky 11): 20 px in holes ...; 11 px ..."``, or ``"img1: exact"``."""
        if self.exact:
            return f"{self.name}: exact"
        classes = ", ".join(f"{class_name(k)} {v}" for k, v in self.per_class.items())
        return f"{self.name}: {self.differing_pixels} px differ ({classes}): " + "; ".join(map(str, self.reasons))


@dataclass(frozen=True)
class ExportReport:
    """The outcome of an export: where, how many files, and the self-check of every image.

    ``exact`` is True only when every image came back bit-exact. A caller must not report success otherwise: it
    says what differs (:meth:`describe`). ``notes`` say what the format does with what it cannot store as such
    (e.g. ignore pixels as COCO crowd regions)."""

    format: ExchangeFormat
    out_dir: Path
    files_written: int
    images: tuple[ImageCheck, ...]
    notes: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return all(check.exact for check in self.images)

    @property
    def differing_pixels(self) -> int:
        return sum(check.differing_pixels for check in self.images)

    @property
    def inexact_images(self) -> tuple[ImageCheck, ...]:
        return tuple(check for check in self.images if not check.exact)

    def describe(self, class_name=str) -> list[str]:  # noqa: ANN001
        """Lines for a person: the summary first, then each image that differs, then the notes."""
        count = len(self.images)
        if self.exact:
            head = (
                f"{self.format.title}: {count} image(s) written to {self.out_dir} ({self.files_written} files) "
                "and read back bit-exact"
            )
            return [head, *(f"note: {n}" for n in self.notes)]
        bad = self.inexact_images
        head = (
            f"{self.format.title}: NOT EXACT: {len(bad)} of {count} image(s) read back differently from "
            f"{self.out_dir}, {self.differing_pixels} px in all"
        )
        return [head, *(f"  {check.describe(class_name)}" for check in bad), *(f"note: {n}" for n in self.notes)]


class SelfCheckFailed(RuntimeError):
    """A lossless format (PNG, VOC, COCO RLE) read back differently from what was written: a bug, not a
    limitation of the format. ``check`` is the first image that differed."""

    def __init__(self, fmt: ExchangeFormat, out_dir: Path, check: ImageCheck) -> None:
        self.format = fmt
        self.out_dir = out_dir
        self.check = check
        super().__init__(
            f"{fmt.title} export to {out_dir} did not read back bit-exact, which this lossless format must: "
            f"{check.describe()}"
        )
