"""Exporting the accepted masks of a project: each accepted image's mask as it is on disk (its saved correction,
else its ground truth), with its instances where the data set has them, written by
:mod:`segstudio.io.exchange` in the format asked for and read back to check.

Only accepted images go out: a rejected, corrected-but-not-accepted or to-do image is left out, and the report
says how many of each were left. Unsaved work is never exported (the window saves before it accepts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from segstudio.app.prediction_masks import read_truth_classes
from segstudio.core.errors import FileProblem
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.io.corrections import ground_truth_instances, is_instance_sample, read_correction
from segstudio.io.datasets import Dataset, Sample
from segstudio.io.exchange import AnnotatedImage, Annotations, ExchangeFormat, ExportReport, export_annotations
from segstudio.io.images import image_size

READ_STAGE = "read"


@dataclass(frozen=True)
class AcceptedExport:
    """What an export of accepted masks did: the exchange report, and which images it named how (a name shared by
    two splits is written as ``<split>_<name>``)."""

    report: ExportReport
    names: dict[str, str]  # sample key -> the name its files have in the export

    @property
    def exact(self) -> bool:
        return self.report.exact


def accepted_annotations(dataset: Dataset, keys: Iterable[str], *, progress: ProgressCallback | None = None,
                         cancel: CancelToken | None = None) -> tuple[Annotations, dict[str, str]]:
    """The masks of the images ``keys`` as they are saved. :class:`FileProblem` names an image whose mask is missing
    or unreadable (an accepted image with neither a correction nor a ground truth)."""
    samples = [dataset.sample(key) for key in keys]
    names = export_names(samples)
    labels = dataset.spec.labels
    images = []
    for done, sample in enumerate(samples, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        size = image_size(sample.image)
        correction = read_correction(dataset, sample, labels, expected_size=size)
        if correction is not None:
            classes, instances = correction.classes, correction.instances
        else:
            truth = dataset.ground_truth(sample)
            if truth is None:
                raise FileProblem(sample.image, "accepted, but it has neither a saved correction nor a ground truth to export")
            source = dataset.ground_truth_source(sample)
            if is_instance_sample(dataset, sample):
                instances = ground_truth_instances(dataset, sample)
                classes = instances.to_class_mask() if instances is not None else None
            else:
                instances = None
                classes = read_truth_classes(truth, labels, source.value_map if source else None, size)
        images.append(AnnotatedImage(names[sample.key], classes, instances, sample.image))
        report(progress, Progress(READ_STAGE, done, len(samples), sample.name))
    return Annotations(labels, tuple(images)), names


def export_names(samples: Iterable[Sample]) -> dict[str, str]:
    """Each sample's file name stem in an export; a name two splits share gets its split in front."""
    samples = list(samples)
    counts: dict[str, int] = {}
    for sample in samples:
        counts[sample.name] = counts.get(sample.name, 0) + 1
    names: dict[str, str] = {}
    for sample in samples:
        name = sample.name if counts[sample.name] == 1 else f"{sample.split}_{sample.name}"
        names[sample.key] = name.replace("/", "_").replace("\\", "_")
    return names


def export_accepted(dataset: Dataset, keys: Iterable[str], fmt: ExchangeFormat, out_dir: Path, *,
                    overwrite: bool = False, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> AcceptedExport:
    """Read the accepted masks ``keys`` and export them to ``out_dir`` in ``fmt`` (worker side)."""
    keys = list(keys)
    if not keys:
        raise ValueError("no image is accepted yet: accept corrected images (Ctrl+Return) to export them")
    annotations, names = accepted_annotations(dataset, keys, progress=progress, cancel=cancel)
    result = export_annotations(annotations, fmt, out_dir, overwrite=overwrite, progress=progress, cancel=cancel)
    return AcceptedExport(result, names)


__all__ = ["READ_STAGE", "AcceptedExport", "accepted_annotations", "export_accepted", "export_names"]
