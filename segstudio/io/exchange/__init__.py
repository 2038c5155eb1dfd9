"""Export and import of class (and instance) masks in the formats pipelines read, each export checking itself.

>>> report = export_annotations(annotations, ExchangeFormat.COCO, "out/")   # doctest: +SKIP
>>> report.exact, report.describe()                                       # doctest: +SKIP

Formats (:class:`ExchangeFormat`): palette PNG (the default, lossless), PASCAL VOC (lossless), COCO with RLE
(lossless) or polygons, labelme JSON and YOLO segmentation polygons. Every export reads its own files back and
compares them with what it was given: a lossless format that differs raises :class:`SelfCheckFailed`; a polygon
format returns an :class:`ExportReport` whose ``exact`` is False and whose images say how many pixels differ, of
which class, and why (holes, ignore pixels, split objects, outlines). Conventions shared by the object formats
(what is written, background and ignore, category numbering, drawing order) are in
:mod:`segstudio.io.exchange.objects`; each format's module says what it writes and how it reads.
"""

from segstudio.io.exchange.api import detect_format, export_annotations, import_annotations
from segstudio.io.exchange.model import AnnotatedImage, Annotations, ExchangeFormat
from segstudio.io.exchange.report import ExportReport, ImageCheck, Reason, SelfCheckFailed

__all__ = [
    "AnnotatedImage",
    "Annotations",
    "ExchangeFormat",
    "ExportReport",
    "ImageCheck",
    "Reason",
    "SelfCheckFailed",
    "detect_format",
    "export_annotations",
    "import_annotations",
]
