"""Export and import in every format, each export checking itself by reading its own files back."""

from __future__ import annotations

from pathlib import Path

from segstudio.core.errors import FileProblem
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, Progress, ProgressCallback, report
from segstudio.io.exchange import coco, labelme, png_folder, voc, yolo
from segstudio.io.exchange.compare import compare_image
from segstudio.io.exchange.model import Annotations, ExchangeFormat
from segstudio.io.exchange.objects import stores_ignore
from segstudio.io.exchange.outputs import Step, check_targets, make_folders
from segstudio.io.exchange.report import ExportReport, SelfCheckFailed

EXPORT_STAGE = "export"
CHECK_STAGE = "check"


def export_annotations(
    annotations: Annotations,
    fmt: ExchangeFormat | str,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportReport:
    """Write ``annotations`` in ``fmt`` into ``out_dir`` (created if missing), then read the written files back
    with the same importer and compare every image with what was given.

    Nothing is written when a file the export would write exists and ``overwrite`` is False (:class:`FileProblem`
    naming it), or when the masks do not fit the label set or the format (:class:`ValueError`). Each file is
    written atomically. Lossless formats (PNG, VOC, COCO RLE) must read back bit-exact: a difference raises
    :class:`SelfCheckFailed` (a bug). Polygon formats return the differences, counted and explained, in the
    report; ``report.exact`` is False then, and a caller must say what differs instead of reporting success.
    Progress stages: ``"export"`` (one unit per file), then ``"check"`` (one per image read back).
    """
    fmt = ExchangeFormat.parse(fmt) if isinstance(fmt, str) else fmt
    out_dir = Path(out_dir)
    annotations.check_values()
    steps = _plan(annotations, fmt, out_dir)
    check_targets(out_dir, steps, overwrite=overwrite)
    make_folders(steps)
    total = len(steps)
    for done, step in enumerate(steps, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        step.run()
        report(progress, Progress(EXPORT_STAGE, done, total, step.path.name if step.path is not None else ""))
    names = {image.name for image in annotations.images}

    def check_progress(p: Progress) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, Progress(CHECK_STAGE, p.done, p.total, p.message))

    back = _read(fmt, out_dir, annotations.labels, names=names, progress=check_progress)
    found = {image.name: image for image in back.images}
    checks = []
    for image in annotations.images:
        check = compare_image(image, found.get(image.name), annotations.labels, fmt)
        if fmt.lossless and not check.exact:
            raise SelfCheckFailed(fmt, out_dir, check)
        checks.append(check)
    return ExportReport(fmt, out_dir, sum(1 for s in steps if s.path is not None), tuple(checks),
                        _notes(fmt, annotations))  # fmt: skip


def import_annotations(
    fmt: ExchangeFormat | str,
    source: str | Path,
    *,
    labels: LabelSet | None = None,
    progress: ProgressCallback | None = None,
) -> Annotations:
    """Read a data set in ``fmt`` from ``source`` (a folder; for COCO also the JSON file, for labelme also one
    JSON file). ``labels``: the label set to map the file's class names (or, for PNG and VOC, ids) to; without it
    the format's own (labels.toml, class_names.txt, COCO categories, labelme labels or labels.txt, data.yaml).
    Every problem with the input raises :class:`FileProblem` naming the file. Progress stage ``"import"``."""
    fmt = ExchangeFormat.parse(fmt) if isinstance(fmt, str) else fmt
    source = Path(source)
    if not source.exists():
        raise FileProblem(source, "not found")
    return _read(fmt, source, labels, names=None, progress=progress)


def detect_format(path: str | Path) -> ExchangeFormat:
    """The format of a folder (or file) from its layout: palette PNG (masks/ + labels.toml), VOC
    (SegmentationClass/), COCO (annotations.json or a COCO .json file; polygons or RLE by its first object),
    YOLO (data.yaml or labels/), labelme (.json files with 'shapes'). FileProblem when none fits."""
    path = Path(path)
    if not path.exists():
        raise FileProblem(path, "not found")
    if path.is_dir():
        if png_folder.looks_like(path):
            return ExchangeFormat.PNG
        if voc.looks_like(path):
            return ExchangeFormat.VOC
        if yolo.looks_like(path):
            return ExchangeFormat.YOLO
    if labelme.looks_like(path):
        return ExchangeFormat.LABELME
    if coco.looks_like(path):
        return ExchangeFormat.COCO_POLYGONS if coco.uses_polygons(path) else ExchangeFormat.COCO
    raise FileProblem(path, "cannot tell its format: expected masks/ + labels.toml, SegmentationClass/, "
                      "annotations.json, data.yaml or labels/, or labelme .json files")  # fmt: skip


def _plan(annotations: Annotations, fmt: ExchangeFormat, out_dir: Path) -> list[Step]:
    if fmt is ExchangeFormat.PNG:
        return png_folder.plan(annotations, out_dir)
    if fmt is ExchangeFormat.VOC:
        return voc.plan(annotations, out_dir)
    if fmt in (ExchangeFormat.COCO, ExchangeFormat.COCO_POLYGONS):
        return coco.plan(annotations, out_dir, polygons=fmt is ExchangeFormat.COCO_POLYGONS)
    if fmt is ExchangeFormat.LABELME:
        return labelme.plan(annotations, out_dir)
    return yolo.plan(annotations, out_dir)


def _read(fmt: ExchangeFormat, source: Path, labels: LabelSet | None, *, names, progress) -> Annotations:  # noqa: ANN001
    if fmt is ExchangeFormat.PNG:
        return png_folder.read(source, labels, names=names, progress=progress)
    if fmt is ExchangeFormat.VOC:
        return voc.read(source, labels, names=names, progress=progress)
    if fmt in (ExchangeFormat.COCO, ExchangeFormat.COCO_POLYGONS):
        return coco.read(source, labels, names=names, progress=progress)
    if fmt is ExchangeFormat.LABELME:
        return labelme.read(source, labels, names=names, progress=progress)
    return yolo.read(source, labels, names=names, progress=progress)


def _notes(fmt: ExchangeFormat, annotations: Annotations) -> tuple[str, ...]:
    labels = annotations.labels
    notes = []
    if stores_ignore(labels):
        ignore = f"ignore pixels ({labels.ignore_name}, {labels.ignore_index})"
        if fmt in (ExchangeFormat.COCO, ExchangeFormat.COCO_POLYGONS):
            notes.append(f"{ignore} are stored as iscrowd RLE regions of category {labels.ignore_name!r}")
        elif fmt is ExchangeFormat.LABELME:
            notes.append(f"{ignore} are stored as shapes labelled __ignore__")
        elif fmt is ExchangeFormat.YOLO:
            notes.append(f"{ignore} are not stored: YOLO has no ignore class")
    if fmt is ExchangeFormat.YOLO and annotations.has_instances:
        notes.append("each connected part of an instance is one YOLO line: multi-part instances come back split")
    return tuple(notes)
