"""What a dataset folder holds and how its files pair up: detected once, stored in the project file."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from segstudio.core.labels import LabelSet
from segstudio.core.value_map import ValueMap


class Layout(StrEnum):
    """The folder conventions people actually use."""

    VOC = "voc"  # JPEGImages/ + SegmentationClass/ (+ SegmentationObject/)
    SEGNET = "segnet"  # train/ + trainannot/, val/ + valannot/ (SegNet's CamVid)
    IMAGES_MASKS = "images+masks"  # images/ + masks/ (also labels/, gt/, annotations/ ...), optionally per split
    MASK_SUFFIX = "mask-suffix"  # <stem>_mask.png in a sibling folder or beside the image (Penn-Fudan)
    CUSTOM = "custom"  # written by hand in the project file


class MaskRole(StrEnum):
    GROUND_TRUTH = "ground_truth"
    PREDICTION = "prediction"
    CORRECTION = "correction"


class MaskKind(StrEnum):
    SEMANTIC = "semantic"  # one class id per pixel
    INSTANCE = "instance"  # one id per object; every object has a class


@dataclass(frozen=True)
class ImageFolder:
    """A folder of images, relative to the dataset root (POSIX separators), and the split it belongs to."""

    folder: str
    split: str


@dataclass(frozen=True)
class MaskSource:
    """A folder of masks paired to an image folder: ``<folder>/<image stem><suffix>.<any image extension>``."""

    name: str
    folder: str
    image_folder: str
    role: MaskRole
    kind: MaskKind = MaskKind.SEMANTIC
    suffix: str = ""
    value_map: ValueMap | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to pair a folder's files without looking at their pixels again."""

    layout: Layout
    image_folders: tuple[ImageFolder, ...]
    mask_sources: tuple[MaskSource, ...]
    labels: LabelSet
    notes: tuple[str, ...] = field(default=())
    corrections_folder: str = "segstudio-corrections"  # relative to the project file's folder

    def __post_init__(self) -> None:
        names = [s.name for s in self.mask_sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"mask source names must be unique; repeated: {', '.join(repeated)}")
        folders = {f.folder for f in self.image_folders}
        for source in self.mask_sources:
            if source.image_folder not in folders:
                raise ValueError(
                    f"mask source {source.name!r} pairs with image folder {source.image_folder!r}, "
                    f"which is not one of the image folders ({', '.join(sorted(folders)) or 'none'})"
                )

    def sources_for(self, image_folder: str) -> tuple[MaskSource, ...]:
        return tuple(s for s in self.mask_sources if s.image_folder == image_folder)

    def ground_truth_for(self, image_folder: str) -> MaskSource | None:
        """The primary ground truth of an image folder: the first semantic one, else the first of any kind."""
        truths = [s for s in self.sources_for(image_folder) if s.role is MaskRole.GROUND_TRUTH]
        semantic = [s for s in truths if s.kind is MaskKind.SEMANTIC]
        return (semantic or truths or [None])[0]

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.split for f in self.image_folders))
