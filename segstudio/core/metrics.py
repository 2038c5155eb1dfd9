"""Segmentation metrics: the confusion matrix and everything that follows from it, in one import.

The work lives in modules named after what they own; this module gathers their public names so callers can
keep writing ``from segstudio.core.metrics import ...``:

* :mod:`segstudio.core.confusion`: counting (:func:`confusion_matrix`) and its rules (ignore id, invalid
  values, the prediction of the ignore id on a scored pixel);
* :mod:`segstudio.core.scores`: one matrix's scores (:class:`Scores`, :class:`ClassScores`; n/a is ``None``);
* :mod:`segstudio.core.evaluation`: a dataset's scores (:class:`DatasetEvaluator`, :class:`DatasetScores`,
  :class:`ImageMeanScores`);
* :mod:`segstudio.core.tiling`: the worker threads the count runs on (:func:`map_tiles`).
"""

from __future__ import annotations

from segstudio.core.confusion import IndexMap, check_class_count, confusion_matrix, unexpected_values
from segstudio.core.evaluation import DatasetEvaluator, DatasetScores, ImageMeanScores
from segstudio.core.scores import ClassScores, Scores
from segstudio.core.tiling import map_tiles

__all__ = [
    "ClassScores",
    "DatasetEvaluator",
    "DatasetScores",
    "ImageMeanScores",
    "IndexMap",
    "Scores",
    "check_class_count",
    "confusion_matrix",
    "map_tiles",
    "unexpected_values",
]
