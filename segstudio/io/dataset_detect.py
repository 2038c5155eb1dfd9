"""Guessing a dataset folder's conventions: which folders hold images, which hold masks, how names pair up,
what the mask values mean. Every guess is written down (``DatasetSpec.notes``) so a user can check and fix it
in the project file.

Only folder listings are read, plus the pixels of a handful of sample masks: never the whole dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.labels import LabelSet, voc_palette
from segstudio.io.dataset_spec import DatasetSpec, ImageFolder, Layout, MaskKind, MaskRole, MaskSource
from segstudio.io.errors import FileProblem
from segstudio.io.folder_listing import folders_with_images, relative_posix
from segstudio.io.images import read_image
from segstudio.io.labelset_files import read_label_set
from segstudio.io.mask_files import RawMask, ValueMap, read_raw_mask

SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing", "trainval", "dev"})
MASK_FOLDER_NAMES = frozenset({
    "masks", "mask", "labels", "label", "annotations", "annotation", "annot", "annots", "gt", "groundtruth",
    "ground_truth", "ground-truth", "segmentation", "segmentations", "segmentationclass", "segmentationclasspng",
    "segmentationobject", "segmentationobjectpng", "pedmasks", "targets", "seg", "semantic", "instances",
})  # fmt: skip
INSTANCE_FOLDER_HINTS = ("segmentationobject", "instance", "object", "pedmasks")
PREDICTION_FOLDER_HINTS = ("pred", "inference", "output", "result")
MASK_SUFFIXES = (
    "", "_mask", "_masks", "-mask", "_gt", "_label", "_labels", "_seg", "_annot", "_L", "_predict", "_pred",
    "_prediction", "_probs", "_output",
)  # fmt: skip
LABEL_FILE_NAMES = (
    "segstudio-labels.toml", "labels.toml", "labels.json", "classes.json", "labels.txt", "classes.txt", "class_names.txt",
)  # fmt: skip
COLOUR_TABLE_NAMES = ("colour_lut.png", "color_lut.png", "palette.png", "colormap.png", "colourmap.png")
MASK_SAMPLES = 6


@dataclass(frozen=True)
class _Folder:
    path: Path
    relative: str
    stems: frozenset[str]

    @property
    def name(self) -> str:
        return self.path.name


def detect_dataset(root: Path) -> DatasetSpec:
    """Look at ``root``'s folders and a few sample masks, and say how the dataset is laid out."""
    root = Path(root)
    if not root.is_dir():
        raise FileProblem(root, "is not a folder")
    folders = [
        _Folder(p, relative_posix(p, root), stems)
        for p, files in folders_with_images(root)
        if (stems := frozenset(stem for name, stem in files.items() if name.lower() not in COLOUR_TABLE_NAMES))
    ]
    if not folders:
        raise FileProblem(root, "holds no image files (looked for .png, .jpg, .tif ... up to 4 folders deep)")
    notes: list[str] = []

    mask_folders = [f for f in folders if _looks_like_masks(f)]
    image_folders = [f for f in folders if f not in mask_folders and not _holds_annotation_json(f, notes)]
    pairs = _pair_mask_folders(mask_folders, image_folders, notes)
    chosen_images = _choose_image_folders(image_folders, pairs, notes)
    if not chosen_images:
        # A plain folder of images, or masks beside their images with a suffix (<stem>_mask.png).
        chosen_images = [f for f in folders if f not in mask_folders] or folders
    sources, layout = _mask_sources(pairs, chosen_images, notes)
    sources, beside = _masks_beside_images(chosen_images, sources, notes)
    if beside:
        layout = Layout.MASK_SUFFIX
    labels, sources = _labels_and_value_maps(root, sources, layout, notes)
    image_folder_specs = tuple(ImageFolder(f.relative, _split_of(f, root)) for f in chosen_images)
    return DatasetSpec(layout, image_folder_specs, tuple(sources), labels, tuple(notes))


# -- which folders hold what --------------------------------------------------------------------------------


def _looks_like_masks(folder: _Folder) -> bool:
    name = folder.name.lower()
    if name in MASK_FOLDER_NAMES or any(hint in name for hint in PREDICTION_FOLDER_HINTS):
        return True
    return name.endswith(("annot", "_masks", "masks", "_labels", "_gt", "_mask")) and name not in SPLIT_NAMES


def _holds_annotation_json(folder: _Folder, notes: list[str]) -> bool:
    """COCO (annotations.json beside the image folder) and labelme (a .json per image) are not pixel masks."""
    labelme = any((folder.path / f"{stem}.json").is_file() for stem in list(folder.stems)[:5])
    coco = (folder.path.parent / "annotations.json").is_file() or (folder.path.parent / "annotations").is_dir()
    if labelme or coco:
        kind = "labelme JSON files" if labelme else "COCO annotations"
        notes.append(f"{folder.relative}: images with {kind}, not pixel masks; left out (import them as masks first)")
        return True
    return False


def _is_prediction(folder: _Folder) -> bool:
    return any(hint in folder.name.lower() for hint in PREDICTION_FOLDER_HINTS)


@dataclass(frozen=True)
class _Pair:
    masks: _Folder
    images: _Folder
    suffix: str
    matches: int


def _pair_mask_folders(masks: list[_Folder], images: list[_Folder], notes: list[str]) -> list[_Pair]:
    pairs = []
    for mask_folder in masks:
        best: _Pair | None = None
        for image_folder in _candidate_image_folders(mask_folder, images):
            suffix, matches = _best_suffix(mask_folder.stems, image_folder.stems)
            if matches and (best is None or matches > best.matches):
                best = _Pair(mask_folder, image_folder, suffix, matches)
        if best is None:
            notes.append(f"{mask_folder.relative}: mask folder whose file names match no image folder; left out")
        else:
            pairs.append(best)
    return pairs


def _candidate_image_folders(mask_folder: _Folder, images: list[_Folder]) -> list[_Folder]:
    """SegNet's ``trainannot`` pairs with ``train``; otherwise siblings first, then any folder."""
    name = mask_folder.name.lower()
    for tail in ("annot", "_annot", "_labels", "_masks", "masks", "_gt"):
        if name.endswith(tail) and len(name) > len(tail):
            stem = name[: -len(tail)]
            named = [f for f in images if f.path.parent == mask_folder.path.parent and f.name.lower() == stem]
            if named:
                return named
    siblings = [f for f in images if f.path.parent == mask_folder.path.parent]
    return siblings or images


def _best_suffix(mask_stems: frozenset[str], image_stems: frozenset[str]) -> tuple[str, int]:
    best = ("", 0)
    for suffix in MASK_SUFFIXES:
        if suffix:
            stripped = {s[: -len(suffix)] for s in mask_stems if s.endswith(suffix)}
        else:
            stripped = set(mask_stems)
        matches = len(stripped & image_stems)
        if matches > best[1]:
            best = (suffix, matches)
    return best


def _choose_image_folders(images: list[_Folder], pairs: list[_Pair], notes: list[str]) -> list[_Folder]:
    """Folders that have masks, plus their unlabelled siblings in other splits (e.g. ISBI's test/images)."""
    paired = list(dict.fromkeys(p.images for p in pairs))
    paired_names = {f.name.lower() for f in paired}
    paired_parents = {f.path.parent for f in paired}
    chosen = list(paired)
    for folder in images:
        if folder in chosen:
            continue
        same_name_other_split = folder.name.lower() in paired_names and folder.path.parent.name.lower() in SPLIT_NAMES
        split_sibling = folder.name.lower() in SPLIT_NAMES and folder.path.parent in paired_parents
        if same_name_other_split or split_sibling:
            chosen.append(folder)
            notes.append(f"{folder.relative}: images with no ground truth folder (another split); included for prediction")
        elif paired:
            notes.append(f"{folder.relative}: images with no masks folder beside them; left out")
    return chosen


def _mask_sources(pairs: list[_Pair], chosen: list[_Folder], notes: list[str]) -> tuple[list[MaskSource], Layout]:
    sources: list[MaskSource] = []
    layout = Layout.IMAGES_MASKS
    for pair in pairs:
        if pair.images not in chosen:
            continue
        role = MaskRole.PREDICTION if _is_prediction(pair.masks) else MaskRole.GROUND_TRUTH
        kind = MaskKind.INSTANCE if any(h in pair.masks.name.lower() for h in INSTANCE_FOLDER_HINTS) else MaskKind.SEMANTIC
        name = _unique_name(pair.masks.relative.replace("/", ":"), sources)
        sources.append(MaskSource(name, pair.masks.relative, pair.images.relative, role, kind, pair.suffix))
        how = f"file name = image name + {pair.suffix!r}" if pair.suffix else "same file names"
        notes.append(
            f"{pair.masks.relative}: {role.value.replace('_', ' ')} ({kind.value}) for {pair.images.relative}, "
            f"{how}, {pair.matches} of {len(pair.images.stems)} images paired"
        )
        lowered = pair.masks.name.lower()
        if lowered.startswith("segmentation") and pair.images.name.lower() == "jpegimages":
            layout = Layout.VOC
        elif lowered.endswith("annot") and lowered[: -len("annot")] == pair.images.name.lower():
            layout = Layout.SEGNET
        elif pair.suffix and role is MaskRole.GROUND_TRUTH and layout is Layout.IMAGES_MASKS:
            layout = Layout.MASK_SUFFIX
    return sources, layout


def _masks_beside_images(chosen: list[_Folder], sources: list[MaskSource], notes: list[str]) -> tuple[list[MaskSource], bool]:
    """``photo.png`` + ``photo_mask.png`` in one folder: the suffixed files are masks, not images."""
    found = False
    for folder in chosen:
        if any(s.image_folder == folder.relative for s in sources):
            continue
        for suffix in MASK_SUFFIXES[1:]:
            masks = {s for s in folder.stems if s.endswith(suffix) and s[: -len(suffix)] in folder.stems}
            if masks and len(masks) * 2 >= len(folder.stems) * 0.5:
                role = MaskRole.PREDICTION if "pred" in suffix else MaskRole.GROUND_TRUTH
                name = _unique_name(f"{folder.relative}:{suffix.strip('_-')}", sources)
                sources.append(MaskSource(name, folder.relative, folder.relative, role, MaskKind.SEMANTIC, suffix))
                notes.append(f"{folder.relative}: masks beside their images, file name = image name + {suffix!r}")
                found = True
                break
    return sources, found


def _unique_name(base: str, sources: Sequence[MaskSource]) -> str:
    taken = {s.name for s in sources}
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}-{counter}", counter + 1
    return name


def _split_of(folder: _Folder, root: Path) -> str:
    for part in (folder.path, *folder.path.parents):
        if part == root.parent:
            break
        if part.name.lower() in SPLIT_NAMES:
            return part.name
    return "all"


# -- what the mask values mean ------------------------------------------------------------------------------


def _sample_masks(root: Path, source: MaskSource, notes: list[str]) -> list[RawMask]:
    folder = root / source.folder
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.stem.endswith(source.suffix) and not p.name.startswith("."))
    picks = [files[round(i * (len(files) - 1) / max(MASK_SAMPLES - 1, 1))] for i in range(min(MASK_SAMPLES, len(files)))]
    samples = []
    for path in dict.fromkeys(picks):
        try:
            samples.append(read_raw_mask(path))
        except FileProblem as problem:
            notes.append(f"sample mask skipped: {problem}")
    return samples


def _labels_and_value_maps(
    root: Path, sources: list[MaskSource], layout: Layout, notes: list[str]
) -> tuple[LabelSet, list[MaskSource]]:
    named = _find_label_file(root, notes)
    truths = [s for s in sources if s.role is MaskRole.GROUND_TRUTH]
    semantic = [s for s in truths if s.kind is MaskKind.SEMANTIC]
    if not truths:
        labels = named or LabelSet.with_count(2)
        if named is None:
            notes.append("no ground truth masks: two classes (background, class 1) until you name them")
        return labels, sources

    primary = (semantic or truths)[0]
    samples = _sample_masks(root, primary, notes)
    updated = list(sources)
    if primary.kind is MaskKind.SEMANTIC and samples and _looks_like_instances(samples):
        primary = MaskSource(primary.name, primary.folder, primary.image_folder, primary.role, MaskKind.INSTANCE, primary.suffix)
        updated = [primary if s.name == primary.name else s for s in updated]
        notes.append(f"{primary.folder}: every id is one compact object and ids run 1..N per image: instance masks")
    if primary.kind is MaskKind.INSTANCE and not semantic:
        labels = named if named is not None and named.num_classes == 2 else LabelSet.from_names(["background", "object"])
        notes.append("instance masks: every object is of class 'object' (rename it in the project file)")
        return labels, updated

    values = np.unique(np.concatenate([np.unique(s.values) for s in samples])) if samples else np.array([0])
    labels, value_map = _labels_from_values(samples, values, layout, named, root, notes)
    if value_map is not None:
        updated = [_with_value_map(s, value_map) if s.role is MaskRole.GROUND_TRUTH and s.kind is MaskKind.SEMANTIC else s for s in updated]
    return labels, updated


def _with_value_map(source: MaskSource, value_map: ValueMap) -> MaskSource:
    return MaskSource(source.name, source.folder, source.image_folder, source.role, source.kind, source.suffix, value_map)


def _labels_from_values(
    samples: list[RawMask],
    values: np.ndarray,
    layout: Layout,
    named: LabelSet | None,
    root: Path,
    notes: list[str],
) -> tuple[LabelSet, ValueMap | None]:
    value_set = {int(v) for v in values}
    palette = next((s.palette for s in samples if s.palette is not None), None)

    if palette is not None and len(palette) >= 21 and np.array_equal(palette[:21], voc_palette()[:21]):
        if named is not None and named.ignore_index == 255 or named is not None and named.num_classes == 21:
            notes.append("masks use the VOC palette; class names from the label file")
            return LabelSet.from_palette(voc_palette(), named.num_classes, names=named.names, ignore_index=255, ignore_name="boundary"), None
        notes.append("masks use the VOC palette: PASCAL VOC's 21 classes, 255 = boundary (ignored)")
        return LabelSet.voc(), None

    if value_set <= {0, 255} and 255 in value_set:
        return _binary_labels(samples, named, notes)

    ignore = 255 if 255 in value_set and max(value_set - {255}, default=0) < 128 else None
    class_values = value_set - ({ignore} if ignore is not None else set())
    count = max(class_values, default=0) + 1

    if layout is Layout.SEGNET and max(value_set) <= 11 and named is None:
        notes.append("SegNet layout with values 0..11: SegNet's 11 CamVid classes, 11 = Unlabelled (ignored)")
        labels = LabelSet.camvid()
        table = _find_colour_table(root)
        if table is not None:
            labels = replace(
                LabelSet.from_palette(table, 11, names=labels.names, ignore_index=11, ignore_name="Unlabelled"),
                background=labels.background,
            )
            notes.append("display colours from the colour table file")
        return labels, None

    if named is not None:
        if count > named.num_classes and (named.ignore_index is None or max(class_values) != named.ignore_index):
            notes.append(f"the label file names {named.num_classes} classes but masks hold values up to {count - 1}; extra classes added")
            for extra in range(named.num_classes, count):
                named = named.with_class(f"class {extra}")
        return named, None

    if palette is not None:
        labels = LabelSet.from_palette(palette, count, ignore_index=ignore)
        notes.append(f"palette masks with values up to {count - 1}: {count} classes, colours from the masks' palette")
        return labels, None
    table = _find_colour_table(root)
    if table is not None and len(table.reshape(-1, table.shape[-1])) >= count:
        notes.append(f"{count} classes (mask values 0..{count - 1}), colours from the colour table file")
        return LabelSet.from_palette(table, count, ignore_index=ignore), None
    labels = LabelSet.with_count(max(count, 2), ignore_index=ignore)
    extra = ", 255 = ignore" if ignore is not None else ""
    notes.append(f"grey masks with values 0..{count - 1}: {max(count, 2)} classes{extra} (name them in the project file)")
    return labels, None


def _binary_labels(samples: list[RawMask], named: LabelSet | None, notes: list[str]) -> tuple[LabelSet, ValueMap]:
    """0/255 masks. The foreground is the value covering fewer pixels (ISBI stores membrane = 0, the minority)."""
    zeros = sum(int(np.count_nonzero(s.values == 0)) for s in samples)
    total = sum(int(s.values.size) for s in samples)
    zero_share = zeros / max(total, 1)
    names = named.names if named is not None and named.num_classes == 2 else ("background", "foreground")
    if zero_share < 0.5:
        value_map = ValueMap.binary(foreground=0, background=255)
        notes.append(
            f"binary 0/255 masks where 0 covers {zero_share:.0%} of the pixels: 0 = {names[1]} (the minority), "
            f"255 = {names[0]}; swap in the project file if that is wrong"
        )
    else:
        value_map = ValueMap.binary(foreground=255, background=0)
        notes.append(f"binary 0/255 masks: 0 = {names[0]}, 255 = {names[1]} ({1 - zero_share:.0%} of the pixels)")
    return LabelSet.from_names(names), value_map


def _looks_like_instances(samples: list[RawMask]) -> bool:
    """Instance masks number their objects 1..N in each image, and each object is one blob."""
    single_blob = total = 0
    for sample in samples:
        if sample.palette is not None or sample.values.dtype.kind not in "ui":
            return False
        ids = np.unique(sample.values)
        if ids[0] != 0 or len(ids) < 2 or not np.array_equal(ids, np.arange(len(ids))) or len(ids) > 256:
            return False
        for object_id in ids[1:]:
            binary = (sample.values == object_id).astype(np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            largest = stats[1:, cv2.CC_STAT_AREA].max() if count > 1 else 0
            total += 1
            single_blob += int(largest >= 0.9 * binary.sum())
    counts_vary = len({len(np.unique(s.values)) for s in samples}) > 1
    return total > 0 and single_blob >= 0.9 * total and counts_vary


def _find_label_file(root: Path, notes: list[str]) -> LabelSet | None:
    for folder in (root, root.parent):
        for name in LABEL_FILE_NAMES:
            path = folder / name
            if path.is_file():
                try:
                    labels = read_label_set(path)
                except FileProblem as problem:
                    notes.append(f"label file not used: {problem}")
                    continue
                notes.append(f"class names from {path.name} ({labels.num_classes} classes)")
                return labels
    return None


def _find_colour_table(root: Path) -> np.ndarray | None:
    """A colour table image such as CamVid's ``colour_lut.png`` (256x1): pixel ``i`` is the colour of class ``i``."""
    for name in COLOUR_TABLE_NAMES:
        path = root / name
        if path.is_file():
            try:
                table = read_image(path)
            except FileProblem:
                continue
            if table.ndim == 3 and min(table.shape[:2]) == 1:
                return table.reshape(-1, table.shape[-1])
    return None
