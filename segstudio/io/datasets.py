"""Opening a dataset folder: every image paired with its ground truth, predictions and corrections.

Opening lists folders and never decodes an image; :func:`check_files` reads headers (sizes) only, and can run
on a worker with progress and cancel. Files that cannot be used are listed with the reason, never dropped
silently.
"""

from __future__ import annotations

from collections.abc import Mapping
import os
from dataclasses import dataclass, field
from functools import cached_property
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.io.dataset_detect import detect_dataset
from segstudio.io.dataset_spec import DatasetSpec, MaskRole, MaskSource
from segstudio.core.errors import FileProblem
from segstudio.io.folder_listing import SkippedEntry, image_files
from segstudio.io.images import image_size
from segstudio.io.project_file import find_project_file, new_project_file_location, read_project_file, write_project_file


class ProblemKind(StrEnum):
    NO_GROUND_TRUTH = "no ground truth"
    UNPAIRED_MASK = "mask without image"
    DUPLICATE_NAME = "duplicate name"
    SIZE_MISMATCH = "size mismatch"
    UNREADABLE = "unreadable"
    MISSING_FOLDER = "missing folder"
    SKIPPED_ENTRY = "skipped entry"  # a symbolic link loop, or a name that cannot be looked at


@dataclass(frozen=True)
class Problem:
    path: Path
    kind: ProblemKind
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Sample:
    """One image and the masks paired with it, by mask source name."""

    key: str  # the image's path relative to the dataset root, without extension: unique in the dataset
    image: Path
    split: str
    masks: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def name(self) -> str:
        return self.image.stem


@dataclass(frozen=True)
class Dataset:
    root: Path
    project_file: Path
    spec: DatasetSpec
    samples: tuple[Sample, ...]
    problems: tuple[Problem, ...]
    detected_now: bool = False  # True when this open guessed the layout (no project file existed)

    @property
    def corrections_dir(self) -> Path:
        return self.project_file.parent / self.spec.corrections_folder

    @cached_property
    def _sources_by_folder(self) -> dict[str, tuple[MaskSource | None, tuple[MaskSource, ...]]]:
        """Image folder -> (its ground truth source, its prediction sources): the spec's scans, done once."""
        table: dict[str, tuple[MaskSource | None, tuple[MaskSource, ...]]] = {}
        for sample in self.samples:
            folder = self._image_folder_of(sample)
            if folder not in table:
                table[folder] = self._folder_sources(folder)
        return table

    def _folder_sources(self, folder: str) -> tuple[MaskSource | None, tuple[MaskSource, ...]]:
        predictions = tuple(s for s in self.spec.sources_for(folder) if s.role is MaskRole.PREDICTION)
        return self.spec.ground_truth_for(folder), predictions

    def _sources_of(self, sample: Sample) -> tuple[MaskSource | None, tuple[MaskSource, ...]]:
        folder = self._image_folder_of(sample)
        found = self._sources_by_folder.get(folder)
        return self._folder_sources(folder) if found is None else found

    def ground_truth_source(self, sample: Sample) -> MaskSource | None:
        return self._sources_of(sample)[0]

    def ground_truth(self, sample: Sample) -> Path | None:
        source = self.ground_truth_source(sample)
        return None if source is None else sample.masks.get(source.name)

    def predictions(self, sample: Sample) -> dict[str, Path]:
        return {s.name: sample.masks[s.name] for s in self._sources_of(sample)[1] if s.name in sample.masks}

    def has_prediction(self, sample: Sample) -> bool:
        return any(s.name in sample.masks for s in self._sources_of(sample)[1])

    def corrected_keys(self) -> set[str]:
        """The keys of the samples with a saved correction, read from disk now: one listing of the corrections
        folder (and its subfolders, for keys with "/") instead of one check per sample."""
        found: set[str] = set()
        visited: set[tuple[int, int]] = set()  # links are followed, each real folder once: a link loop ends here
        for folder, folders, files in os.walk(self.corrections_dir, followlinks=True):
            try:
                status = os.stat(folder)
            except OSError:
                folders[:] = []
                continue
            if (status.st_dev, status.st_ino) in visited:
                folders[:], files = [], []
            visited.add((status.st_dev, status.st_ino))
            prefix = Path(folder).relative_to(self.corrections_dir).as_posix()
            prefix = "" if prefix == "." else f"{prefix}/"
            found.update(f"{prefix}{name[:-4]}" for name in files if name.endswith(".png"))
        return found

    def correction_path(self, sample: Sample) -> Path:
        """Where the corrected mask of ``sample`` is saved (the ground truth is never overwritten by default).

        Always inside :attr:`corrections_dir` (:class:`FileProblem` otherwise), and never one of the sample's own
        files: the image or any of its masks."""
        path = self.corrections_dir / f"{sample.key}.png"
        if not is_inside(path, self.corrections_dir):
            raise FileProblem(path, f"the correction of {sample.key!r} would be written outside {self.corrections_dir}")
        for role, own in (("image", sample.image), *((f"{name!r} mask", mask) for name, mask in sample.masks.items())):
            if same_place(path, own):
                raise FileProblem(
                    path,
                    f"is the {role} of {sample.key}, not a corrections file; set corrections_folder in "
                    f"{self.project_file} to a folder of its own",
                )
        return path

    def source(self, name: str) -> MaskSource:
        for source in self.spec.mask_sources:
            if source.name == name:
                return source
        raise KeyError(f"no mask source named {name!r}")

    def sample(self, key: str) -> Sample:
        for sample in self.samples:
            if sample.key == key or sample.name == key:
                return sample
        raise KeyError(f"no image {key!r} in {self.root}")

    def _image_folder_of(self, sample: Sample) -> str:
        return sample.key.rpartition("/")[0] or "."


def open_dataset(root: str | Path, *, redetect: bool = False, save_project: bool = True) -> Dataset:
    """Open ``root``: read its project file, or detect the layout and write one (next to the data, or in the
    user data location when the folder is read-only). ``redetect`` ignores an existing project file and
    replaces it with a fresh guess."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FileProblem(root, "is not a folder" if root.exists() else "does not exist")
    existing = None if redetect else find_project_file(root)
    if existing is not None:
        spec = read_project_file(existing)
        project_file, detected = existing, False
    else:
        spec = detect_dataset(root)
        project_file, detected = (find_project_file(root) or new_project_file_location(root)), True
        if save_project:
            write_project_file(project_file, root, spec)
    check_corrections_folder(project_file, root, spec)
    samples, problems = pair_files(root, spec)
    return Dataset(root, project_file, spec, samples, problems, detected)


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies inside ``folder`` (or is it), comparing normalised absolute paths. Symbolic links are
    not followed: a link the user made is their choice, while ``..`` and absolute names are refused."""
    path_text = os.path.normcase(os.path.normpath(os.path.abspath(path)))
    folder_text = os.path.normcase(os.path.normpath(os.path.abspath(folder)))
    return path_text == folder_text or path_text.startswith(folder_text.rstrip(os.sep) + os.sep)


def same_place(first: Path, second: Path) -> bool:
    """Whether two paths name one file: the same inode when both exist, else the same normalised path."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.normcase(os.path.normpath(os.path.abspath(first))) == os.path.normcase(
            os.path.normpath(os.path.abspath(second))
        )


def check_corrections_folder(project_file: Path, root: Path, spec: DatasetSpec) -> None:
    """Refuse a corrections folder whose files would land among the dataset's images or masks.

    A correction of the sample ``<image folder>/<stem>`` is written to ``<corrections>/<image folder>/<stem>.png``:
    when that folder is one the dataset reads images or masks from, a save would replace an image or another
    mask (``corrections_folder = "."`` did exactly that). :class:`FileProblem` naming the project file."""
    corrections = project_file.parent / spec.corrections_folder
    data_folders = {f"image folder {f.folder!r}": root / f.folder for f in spec.image_folders}
    data_folders.update({f"mask folder of {s.name!r}": root / s.folder for s in spec.mask_sources})
    for image_folder in spec.image_folders:
        written = corrections / image_folder.folder
        for what, folder in data_folders.items():
            if same_place(written, folder):
                raise FileProblem(
                    project_file,
                    f"corrections_folder {spec.corrections_folder!r} would put corrections of {image_folder.folder!r} "
                    f"into the {what} ({folder}), over the dataset's own files; name a folder of its own, such as "
                    "'segstudio-corrections'",
                )


def pair_files(root: Path, spec: DatasetSpec) -> tuple[tuple[Sample, ...], tuple[Problem, ...]]:
    """Pair by listing folders only: O(number of files), no file is opened."""
    samples: list[Sample] = []
    problems: list[Problem] = []
    any_truth = any(s.role is MaskRole.GROUND_TRUTH for s in spec.mask_sources)
    skipped_paths: set[Path] = set()
    for folder in spec.image_folders:
        image_dir = root / folder.folder
        if not image_dir.is_dir():
            problems.append(Problem(image_dir, ProblemKind.MISSING_FOLDER, "image folder named in the project file is missing"))
            continue
        sources = spec.sources_for(folder.folder)
        skipped: list[SkippedEntry] = []
        masks_by_source = {s.name: _masks_by_image_stem(root, s, problems, skipped) for s in sources}
        # Masks kept beside their images (photo.png + photo_mask.png) are not images themselves.
        beside = {p.name for s in sources if s.folder == folder.folder for p in masks_by_source[s.name].values()}
        listed = {name: stem for name, stem in image_files(image_dir, skipped).items() if name not in beside}
        for entry in skipped:
            if entry.path not in skipped_paths:  # a mask folder shared by image folders reports its entries once
                skipped_paths.add(entry.path)
                problems.append(Problem(entry.path, ProblemKind.SKIPPED_ENTRY, entry.reason))
        images = _by_stem(image_dir, listed, problems)
        truth = spec.ground_truth_for(folder.folder)
        prefix = "" if folder.folder == "." else f"{folder.folder}/"
        for stem, image_path in images.items():
            paired = {name: found[stem] for name, found in masks_by_source.items() if stem in found}
            samples.append(Sample(f"{prefix}{stem}", image_path, folder.split, MappingProxyType(paired)))
            if truth is not None and truth.name not in paired:
                problems.append(Problem(image_path, ProblemKind.NO_GROUND_TRUTH, f"no ground truth mask in {truth.folder}/"))
            elif truth is None and any_truth:
                problems.append(Problem(image_path, ProblemKind.NO_GROUND_TRUTH, f"no ground truth: {folder.folder}/ has no masks folder"))
        for source in sources:
            for stem, mask_path in masks_by_source[source.name].items():
                if stem not in images:
                    problems.append(
                        Problem(mask_path, ProblemKind.UNPAIRED_MASK, f"{source.role.value.replace('_', ' ')} mask with no image named {stem}.* in {folder.folder}/")
                    )
    return tuple(samples), tuple(problems)


def _by_stem(folder: Path, files: Mapping[str, str], problems: list[Problem]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name, stem in files.items():
        if stem in found:
            problems.append(
                Problem(folder / name, ProblemKind.DUPLICATE_NAME, f"another file has the same name: {found[stem].name}; this one is left out")
            )
            continue
        found[stem] = folder / name
    return found


def _masks_by_image_stem(
    root: Path, source: MaskSource, problems: list[Problem], skipped: list[SkippedEntry]
) -> dict[str, Path]:
    folder = root / source.folder
    if not folder.is_dir():
        problems.append(Problem(folder, ProblemKind.MISSING_FOLDER, f"mask folder of {source.name!r} is missing"))
        return {}
    found: dict[str, Path] = {}
    for name, stem in image_files(folder, skipped).items():
        if source.suffix:
            if not stem.endswith(source.suffix):
                continue  # in a shared folder (masks beside images) the images themselves are not masks
            stem = stem[: -len(source.suffix)]
        elif source.folder == source.image_folder:
            continue
        if stem in found:
            problems.append(Problem(folder / name, ProblemKind.DUPLICATE_NAME, f"another mask has the same name: {found[stem].name}; this one is left out"))
            continue
        found[stem] = folder / name
    return found


def check_files(
    dataset: Dataset,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Problem, ...]:
    """Read every image's and mask's header (not its pixels): unreadable files and masks whose size differs
    from their image's. Predictions of another size are reported too, saying the window resizes them.
    ``progress`` hears ``Progress("check files", done, total, name)``; ``cancel`` stops between images."""
    problems: list[Problem] = []
    total = len(dataset.samples)
    for index, sample in enumerate(dataset.samples):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            size = image_size(sample.image)
        except FileProblem as problem:
            problems.append(Problem(sample.image, ProblemKind.UNREADABLE, problem.problem))
            size = None
        for source_name, mask_path in sample.masks.items():
            try:
                mask_size = image_size(mask_path)
            except FileProblem as problem:
                problems.append(Problem(mask_path, ProblemKind.UNREADABLE, problem.problem))
                continue
            if size is not None and mask_size != size:
                role = dataset.source(source_name).role
                # A prediction is shown and scored resized (nearest neighbour, with a note); the ground truth is
                # what scores are measured against, so it is never resized.
                if role is MaskRole.PREDICTION:
                    note = f"; the window shows it resized to {size[0]}x{size[1]} (nearest neighbour) and says so"
                elif role is MaskRole.GROUND_TRUTH:
                    note = "; ground truth is never resized: the image does not open until the file is fixed"
                else:
                    note = ""
                problems.append(
                    Problem(
                        mask_path,
                        ProblemKind.SIZE_MISMATCH,
                        f"mask is {mask_size[0]}x{mask_size[1]} but its image {sample.image.name} is {size[0]}x{size[1]}{note}",
                    )
                )
        report(progress, Progress("check files", index + 1, total, sample.name))
    return tuple(problems)

