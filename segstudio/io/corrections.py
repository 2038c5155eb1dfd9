"""Saving a corrected mask: into the project's corrections folder, atomically, never over the ground truth."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from segstudio.core.instance_carry import InstanceCarry, carry_instances
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.atomic import atomic_write
from segstudio.io.autosave import AutosaveStore
from segstudio.io.dataset_spec import MaskKind
from segstudio.io.datasets import Dataset, Sample, is_inside
from segstudio.core.errors import FileProblem
from segstudio.io.file_state import UNCHECKED, Expected, check_unchanged
from segstudio.core.value_map import ValueMap, value_counts
from segstudio.io.mask_files import (
    RawMask,
    class_mask_dtype,
    read_class_mask,
    read_classes_and_instances,
    read_instance_mask,
    read_raw_mask,
    read_tagged_instance_mask,
    write_class_mask,
    write_instance_mask,
)

GROUND_TRUTH_BACKUP_FOLDER = "segstudio-ground-truth-backup"  # beside the project file


class InstanceLoss(FileProblem):
    """Saving the correction of an instance mask would drop instances (or unlabelled pixels): the user must say
    so first. ``carry`` tells what would be kept, changed, removed and added."""

    def __init__(self, path: Path, carry: InstanceCarry) -> None:
        super().__init__(path, f"saving would lose instance information: {carry.describe()}")
        self.carry = carry


def is_instance_sample(dataset: Dataset, sample: Sample) -> bool:
    """Whether ``sample``'s ground truth is an instance mask (one id per object), so its correction is saved as one."""
    source = dataset.ground_truth_source(sample)
    return source is not None and source.kind is MaskKind.INSTANCE and dataset.ground_truth(sample) is not None


@dataclass(frozen=True, eq=False)
class Correction:
    """A saved correction as read back: the class mask to edit and, for instance samples, its instances."""

    classes: np.ndarray
    instances: InstanceMask | None


def read_correction(dataset: Dataset, sample: Sample, labels: LabelSet, *, expected_size: tuple[int, int] | None = None
                    ) -> Correction | None:
    """The saved correction of ``sample`` (None when there is none).

    A correction saved from an instance session holds instance ids (:func:`write_instance_mask`), whatever the
    sample; an instance sample's correction written as a class mask by an older segstudio still reads, with the
    ground truth's instances as the ones to carry."""
    path = dataset.correction_path(sample)
    if not path.is_file():
        return None
    if is_instance_sample(dataset, sample):
        instances = read_tagged_instance_mask(path)
        if instances is not None:
            return Correction(instance_classes(path, instances, labels, expected_size), instances)
        return Correction(read_class_mask(path, labels, expected_size=expected_size), ground_truth_instances(dataset, sample))
    # Any sample's correction saved from an instance session carries its instances: one read gives both.
    return Correction(*read_classes_and_instances(path, labels, expected_size=expected_size))


def ground_truth_instances(dataset: Dataset, sample: Sample) -> InstanceMask | None:
    """The instances of ``sample``'s ground truth, when it is an instance mask."""
    path = dataset.ground_truth(sample)
    if path is None or not is_instance_sample(dataset, sample):
        return None
    return read_instance_mask(path)


def instance_classes(path: Path, instances: InstanceMask, labels: LabelSet, expected_size: tuple[int, int] | None
                     ) -> np.ndarray:
    """``instances`` as a class mask of ``labels``; :class:`FileProblem` naming ``path`` for a wrong size or a class
    outside the label set."""
    height, width = instances.shape
    if expected_size is not None and (width, height) != tuple(expected_size):
        raise FileProblem(path, f"mask is {width}x{height} but its image is {expected_size[0]}x{expected_size[1]}")
    unknown = sorted({int(c) for c in instances.classes.values() if not 0 <= c < labels.num_classes})
    if unknown:
        raise FileProblem(path, f"instance classes {unknown} are outside the label set ({labels.num_classes} classes)")
    return instances.to_class_mask(class_mask_dtype(labels))


def plan_instances(
    dataset: Dataset, sample: Sample, mask: np.ndarray, labels: LabelSet, *, reference: InstanceMask | None = None
) -> InstanceCarry | None:
    """For an instance sample: the instances ``mask`` keeps of ``reference`` (by default the saved correction's
    instances, else the ground truth's); None for a class-mask sample."""
    if not is_instance_sample(dataset, sample):
        return None
    if reference is None:
        saved = read_correction(dataset, sample, labels)
        reference = saved.instances if saved is not None else None
    if reference is None:
        reference = ground_truth_instances(dataset, sample)
    assert reference is not None
    return carry_instances(reference, np.asarray(mask), background=labels.background, ignore_index=labels.ignore_index)


@dataclass(frozen=True)
class SavedWork:
    """Which editing session (one image opened once in one window) and which revision of it a save holds."""

    session: str
    revision: int


def save_correction(
    dataset: Dataset,
    sample: Sample,
    mask: np.ndarray,
    labels: LabelSet,
    *,
    autosave: AutosaveStore | None = None,
    work: SavedWork | None = None,
    expected: Expected = UNCHECKED,
    carry: InstanceCarry | None = None,
    allow_instance_loss: bool = False,
) -> Path:
    """Write ``mask`` as the correction of ``sample`` (a palette PNG at ``dataset.correction_path(sample)``,
    folders created as needed, replaced atomically). Returns the path written.

    ``expected``: the state the correction file had when the work started (:meth:`FileState.of`, None for "no
    file yet"); when somebody else wrote it since, :class:`SaveConflict` is raised and nothing is written.
    ``autosave`` and ``work``: the autosave this save makes redundant is removed
    (:meth:`AutosaveStore.discard_saved`; a newer one, written while this save ran, is kept).

    Instance samples (:func:`is_instance_sample`, e.g. Penn-Fudan) are saved as instance masks: ``carry`` (by
    default :func:`plan_instances`) says which instance each pixel belongs to; when it would drop instances or
    unlabelled pixels, :class:`InstanceLoss` is raised and nothing is written unless ``allow_instance_loss``.

    Refuses (:class:`FileProblem`) a correction path that is one of the sample's own files (see
    :meth:`Dataset.correction_path`). Invalid mask values raise ``ValueError`` before anything is written.
    """
    path = dataset.correction_path(sample)  # checked: inside the corrections folder, never the image or a mask
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileProblem(path.parent, f"cannot create the corrections folder: {exc.strerror or exc}") from exc
    instances = carry is not None or is_instance_sample(dataset, sample)
    if instances:
        _check_values(path, mask, labels)  # write_instance_mask cannot: it sees ids, not classes
        carry = carry if carry is not None else plan_instances(dataset, sample, mask, labels)
    if carry is not None and carry.loses and not allow_instance_loss:
        raise InstanceLoss(path, carry)
    check_unchanged(path, expected)
    if carry is not None:
        write_instance_mask(path, carry.instances)
    else:
        write_class_mask(path, mask, labels)
    if autosave is not None and work is not None:
        autosave.discard_saved(sample.key, session=work.session, revision=work.revision)
    return path


def _check_values(path: Path, mask: np.ndarray, labels: LabelSet) -> None:
    present, _ = value_counts(np.asarray(mask))
    invalid = [int(v) for v in present if not labels.is_valid_value(int(v))]
    if invalid:
        raise ValueError(f"cannot write {path}: values {invalid[:8]} are outside the label set")


def ground_truth_backup_path(dataset: Dataset, sample: Sample) -> Path | None:
    """Where the original ground truth of ``sample`` is kept before the first "save as ground truth":
    ``<project dir>/segstudio-ground-truth-backup/<sample key>.<the file's extension>``."""
    truth = dataset.ground_truth(sample)
    if truth is None:
        return None
    return dataset.project_file.parent / GROUND_TRUTH_BACKUP_FOLDER / f"{sample.key}{truth.suffix.lower()}"


def save_as_ground_truth(
    dataset: Dataset, sample: Sample, mask: np.ndarray, labels: LabelSet, *, expected: Expected = UNCHECKED
) -> Path:
    """Write ``mask`` (class ids) OVER the ground-truth file of ``sample``, in that file's own convention.

    The explicit counterpart of :func:`save_correction`, for a user who asked for it. The dataset's value map
    is inverted (ISBI: class 1 -> 0, class 0 -> 255) and the file keeps its storage: a palette PNG stays
    palette with its own palette, 8-bit grey stays 8-bit grey, 16-bit stays 16-bit, a TIFF is written with
    tifffile in its own sample type, a colour-coded mask gets the colours it was read with. Reading the file
    back through the dataset gives ``mask`` bit-exact.

    Before the first overwrite, the original bytes are copied to :func:`ground_truth_backup_path`; that backup
    is never replaced, so the truth as it was before segstudio touched it is never lost. The write is atomic.
    ``expected``: the state the file had when it was read; a file written since raises :class:`SaveConflict`.

    Refuses (:class:`FileProblem`, nothing written) when the sample has no ground-truth file, when its ground
    truth is an instance mask, when the value map sends two stored values to one class (no way to choose), or
    when a class in ``mask`` has no stored value that reads back as that class. Values outside the label set
    raise ``ValueError``.
    """
    path = dataset.ground_truth(sample)
    source = dataset.ground_truth_source(sample)
    if path is None or source is None:
        raise FileProblem(dataset.correction_path(sample), f"{sample.key} has no ground truth file to overwrite")
    if source.kind is MaskKind.INSTANCE:
        raise FileProblem(path, "is an instance mask (one id per object); a class mask cannot be saved over it")
    if not is_inside(path, dataset.root):
        raise FileProblem(path, f"lies outside the dataset folder {dataset.root}; segstudio writes only inside it")
    values = np.asarray(mask)
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"a class mask must be a 2-D integer array, got {values.dtype} {values.shape}")
    present, _counts = value_counts(values)
    invalid = [int(v) for v in present if not labels.is_valid_value(int(v))]
    if invalid:
        raise ValueError(f"cannot write {path}: values {invalid[:8]} are outside the label set")
    raw = read_raw_mask(path)
    if (raw.values.shape[0], raw.values.shape[1]) != values.shape:
        raise FileProblem(path, f"is {raw.size[0]}x{raw.size[1]} but the mask is {values.shape[1]}x{values.shape[0]}")
    value_map = source.value_map
    if value_map is None:
        value_map = ValueMap.from_label_colours(labels) if raw.is_colour else ValueMap.identity()
    stored = _inverse_values(path, value_map, present)
    table = dict(zip(present.tolist(), stored.tolist(), strict=True))
    out = np.zeros(values.shape, dtype=np.int64)
    for class_id, raw_value in table.items():
        out[values == class_id] = raw_value
    data = _encode_like(path, raw, out)  # everything checked and encoded before the disk is touched
    check_unchanged(path, expected)
    backup = ground_truth_backup_path(dataset, sample)
    assert backup is not None
    if not backup.exists():
        try:
            backup.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(backup) as stream, open(path, "rb") as original:
                shutil.copyfileobj(original, stream)
        except OSError as exc:
            raise FileProblem(backup, f"cannot keep a backup of the ground truth: {exc.strerror or exc}") from exc
    with atomic_write(path) as stream:
        stream.write(data)
    return path


def _inverse_values(path: Path, value_map: ValueMap, classes: np.ndarray) -> np.ndarray:
    """The stored value of each class id in ``classes`` under ``value_map`` inverted; FileProblem if impossible."""
    inverse: dict[int, int] = {}
    for raw_value, class_id in value_map.pairs:
        if class_id in inverse:
            raise FileProblem(
                path,
                f"cannot be written back: the value map sends both {inverse[class_id]} and {raw_value} to class "
                f"{class_id}, so there is no single stored value for it",
            )
        inverse[class_id] = raw_value
    stored = np.array([inverse.get(int(c), int(c) if value_map.keep_unlisted else -1) for c in classes], dtype=np.int64)
    back = value_map.map_values(stored)
    listed = {k for k, _ in value_map.pairs}
    bad = [
        int(c) for c, s, b in zip(classes, stored, back, strict=True)
        if s < 0 or int(b) != int(c) or (not value_map.keep_unlisted and int(s) not in listed)
    ]
    if bad:
        raise FileProblem(path, f"cannot be written back: class {bad[0]} has no stored value in the value map")
    return stored


def _encode_like(path: Path, raw: RawMask, values: np.ndarray) -> bytes:
    """``values`` (stored values) encoded in the storage ``raw`` was read from."""
    def need(limit: int, what: str) -> None:
        if values.size and (int(values.min()) < 0 or int(values.max()) > limit):
            raise FileProblem(path, f"values {int(values.min())}..{int(values.max())} do not fit its {what} storage")

    buffer = io.BytesIO()
    if raw.mode.startswith("tiff-"):
        dtype = np.dtype(raw.mode[len("tiff-"):])
        if dtype == np.bool_:
            need(1, "1-bit")
        elif np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            if values.size and (int(values.min()) < info.min or int(values.max()) > info.max):
                raise FileProblem(path, f"values do not fit its {dtype.name} TIFF storage")
        tifffile.imwrite(buffer, values.astype(dtype))
        return buffer.getvalue()
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt in ("JPEG", "JPEG2000", "WEBP"):
        raise FileProblem(path, f"{path.suffix} files cannot be written back losslessly")
    if raw.mode in ("P", "PA"):
        need(255, "palette")
        height, width = values.shape
        image = Image.frombytes("P", (width, height), np.ascontiguousarray(values, dtype=np.uint8).tobytes())
        if raw.palette is not None:
            image.putpalette(raw.palette.astype(np.uint8).tobytes(), "RGB")
    elif raw.mode in ("L", "LA", "La"):
        need(255, "8-bit grey")
        image = Image.fromarray(values.astype(np.uint8))
    elif raw.mode == "1":
        need(1, "1-bit")
        image = Image.fromarray(values.astype(bool))
    elif raw.mode == "I;16":
        need(0xFFFF, "16-bit grey")
        image = Image.fromarray(values.astype(np.uint16))
    elif raw.mode in ("RGB-grey", "RGBA-grey"):
        need(255, "grey RGB")
        image = Image.fromarray(np.repeat(values.astype(np.uint8)[..., None], 3, axis=2))
    elif raw.mode in ("RGB", "RGBA"):
        need(0xFFFFFF, "colour")
        rgb = np.stack([(values >> 16) & 0xFF, (values >> 8) & 0xFF, values & 0xFF], axis=2).astype(np.uint8)
        image = Image.fromarray(rgb)
    else:
        raise FileProblem(path, f"its storage (mode {raw.mode}) cannot be written back; save a correction instead")
    image.save(buffer, format=fmt)
    return buffer.getvalue()
