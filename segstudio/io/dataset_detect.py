"""Guessing a dataset folder's conventions: which folders hold images, which hold masks, how names pair up,
what the mask values mean. Every guess is written down (``DatasetSpec.notes``) so a user can check and fix it
in the project file.

Only folder listings are read, plus the pixels of sample masks (all of a small folder, a handful of a big one):
never the whole dataset. What the values mean is decided in :mod:`segstudio.io.mask_convention`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.labels import LabelSet
from segstudio.io.dataset_spec import DatasetSpec, ImageFolder, Layout, MaskKind, MaskRole, MaskSource
from segstudio.core.errors import FileProblem
from segstudio.io.folder_listing import SYMLINK_LOOP, SkippedEntry, folders_with_images, relative_posix
from segstudio.io.images import read_image
from segstudio.io.labelset_files import read_label_set
from segstudio.io.mask_convention import MaskValues, convention_from_masks, not_class_mask_notes
from segstudio.core.value_map import ValueMap
from segstudio.io.mask_files import RawMask, read_raw_mask

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
MASK_SAMPLES = 6  # masks looked at in a big folder
MASK_READ_ALL = 32  # a folder with this many masks or fewer is read whole


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
    skipped: list[SkippedEntry] = []
    folders = [
        _Folder(p, relative_posix(p, root), stems)
        for p, files in folders_with_images(root, skipped=skipped)
        if (stems := frozenset(stem for name, stem in files.items() if name.lower() not in COLOUR_TABLE_NAMES))
    ]
    unreadable = [entry for entry in skipped if entry.reason != SYMLINK_LOOP]
    if unreadable:
        # A folder that cannot be listed (no permission) may hold the images or the masks: a guess made without it
        # can take the masks for images, and the project file would keep that wrong guess. Refuse, naming it.
        reason = unreadable[0].reason.removesuffix("; skipped")
        raise FileProblem(unreadable[0].path, f"{reason}: the layout of {root} cannot be guessed without this "
                          "folder; give it read permission (or move it out of the folder) and try again")
    if not folders:
        # What was skipped may be why nothing was found: say so (the first few).
        raise FileProblem(root, "holds no image files (looked for .png, .jpg, .tif ... up to 4 folders deep)"
                          + "".join(f"; {entry}" for entry in skipped[:3]))
    notes: list[str] = [f"{relative_posix(entry.path, root)}: {entry.reason}" for entry in skipped]

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


def sample_mask_files(files: Sequence[Path]) -> list[Path]:
    """The masks to look at: all of a small folder (reading a few dozen is cheap, and a class in one mask only
    is then found), else :data:`MASK_SAMPLES` evenly spaced ones, always the first and the last."""
    if len(files) <= MASK_READ_ALL:
        return list(files)
    last = len(files) - 1
    return list(dict.fromkeys(files[round(i * last / (MASK_SAMPLES - 1))] for i in range(MASK_SAMPLES)))


def _sample_masks(root: Path, source: MaskSource, notes: list[str]) -> list[tuple[str, RawMask]]:
    folder = root / source.folder
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.stem.endswith(source.suffix) and not p.name.startswith("."))
    samples = []
    for path in sample_mask_files(files):
        try:
            samples.append((relative_posix(path, root), read_raw_mask(path)))
        except FileProblem as problem:
            notes.append(f"sample mask skipped: {problem}")
    return samples


def _labels_and_value_maps(
    root: Path, sources: list[MaskSource], layout: Layout, notes: list[str]
) -> tuple[LabelSet, list[MaskSource]]:
    named = find_label_file((root, root.parent), notes)
    truths = [s for s in sources if s.role is MaskRole.GROUND_TRUTH]
    semantic = [s for s in truths if s.kind is MaskKind.SEMANTIC]
    if not truths:
        labels = named or LabelSet.with_count(2)
        if named is None:
            notes.append("no ground truth masks: two classes (background, class 1) until you name them")
        return labels, sources

    primary = (semantic or truths)[0]
    sampled = _sample_masks(root, primary, notes)
    counted = [MaskValues.of(name, raw) for name, raw in sampled]
    # Images saved as masks (thousands of values) say nothing about instances or classes: the convention names them.
    samples = [raw for (_, raw), values in zip(sampled, counted, strict=True) if values.is_class_mask]
    updated = list(sources)
    if primary.kind is MaskKind.SEMANTIC and samples and _looks_like_instances(samples):
        primary = MaskSource(primary.name, primary.folder, primary.image_folder, primary.role, MaskKind.INSTANCE, primary.suffix)
        updated = [primary if s.name == primary.name else s for s in updated]
        notes.append(f"{primary.folder}: every id is one compact object and ids run 1..N per image: instance masks")
    if primary.kind is MaskKind.INSTANCE and not semantic:
        notes.extend(not_class_mask_notes(counted))
        labels = named if named is not None and named.num_classes == 2 else LabelSet.from_names(["background", "object"])
        notes.append("instance masks: every object is of class 'object' (rename it in the project file)")
        return labels, updated

    convention = convention_from_masks(counted, layout=layout, named=named, colour_table=find_colour_table(root))
    notes.extend(convention.notes)
    if convention.value_map is not None:
        value_map = convention.value_map
        updated = [_with_value_map(s, value_map) if s.role is MaskRole.GROUND_TRUTH and s.kind is MaskKind.SEMANTIC else s for s in updated]
        updated = [_prediction_like_truth(root, s, value_map, convention.labels, notes) for s in updated]
    return convention.labels, updated


def _prediction_like_truth(
    root: Path, source: MaskSource, value_map: ValueMap, labels: LabelSet, notes: list[str]
) -> MaskSource:
    """A prediction folder stored like the ground truth (ISBI-style 0/255 next to 0/255 truth) reads with the
    truth's value map; one whose values are class ids, or a probability map, stays as it is."""
    if source.role is not MaskRole.PREDICTION or source.kind is not MaskKind.SEMANTIC or source.value_map is not None:
        return source
    stored = {value for value, _class in value_map.pairs}
    seen: set[int] = set()
    for _name, raw in _sample_masks(root, source, []):
        values = MaskValues.of(source.folder, raw)
        if values.is_colour or len(values.values) == 0:
            return source  # colours, or a probability map: read as they are
        seen.update(int(v) for v in values.values)
    if not seen or not seen <= stored or all(labels.is_valid_value(v) for v in seen):
        return source
    notes.append(f"{source.folder}: predictions stored like the ground truth ({', '.join(map(str, sorted(seen)))}): "
                 "read with its value map")
    return _with_value_map(source, value_map)


def _with_value_map(source: MaskSource, value_map: ValueMap) -> MaskSource:
    return MaskSource(source.name, source.folder, source.image_folder, source.role, source.kind, source.suffix, value_map)


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


def find_label_file(folders: Sequence[Path], notes: list[str]) -> LabelSet | None:
    """Class names from the first label file (``labels.toml``, ``classes.txt`` ...) in ``folders``."""
    for folder in folders:
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


def find_colour_table(folder: Path) -> np.ndarray | None:
    """A colour table image such as CamVid's ``colour_lut.png`` (256x1): pixel ``i`` is the colour of class ``i``."""
    for name in COLOUR_TABLE_NAMES:
        path = folder / name
        if path.is_file():
            try:
                table = read_image(path)
            except FileProblem:
                continue
            if table.ndim == 3 and min(table.shape[:2]) == 1:
                return table.reshape(-1, table.shape[-1])
    return None
