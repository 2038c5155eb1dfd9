"""Scoring a folder of predictions against a folder of ground truth, as ``segstudio evaluate`` and the demo do."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from segstudio.app.folder_evaluation import COUNTING_TRUTH, SCORING, evaluate_folders
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import confusion_matrix
from segstudio.core.progress import Progress
from segstudio.io.demo_dataset import DEMO_LABELS, write_demo_dataset
from segstudio.io.mask_files import read_class_mask, write_class_mask


def test_the_demo_folders_score_as_the_core_counts_them(tmp_path: Path) -> None:
    folder = write_demo_dataset(tmp_path / "demo", count=3)
    (folder / "predictions" / "stray.png").write_bytes((folder / "predictions" / next((folder / "predictions").iterdir()).name).read_bytes())
    seen: list[Progress] = []
    result = evaluate_folders(folder / "masks", folder / "predictions", DEMO_LABELS, progress=seen.append)
    expected = np.zeros((DEMO_LABELS.num_classes,) * 2, np.int64)
    for stem, truth, prediction in result.plan.pairs:
        expected += confusion_matrix(read_class_mask(truth, DEMO_LABELS), read_class_mask(prediction, DEMO_LABELS), DEMO_LABELS.num_classes, DEMO_LABELS.ignore_index)
    np.testing.assert_array_equal(result.scores.overall.confusion, expected)
    assert len(result.plan.pairs) == 3 and result.plan.unmatched_predictions == ("stray",)
    assert [p.done for p in seen if p.stage == SCORING] == [1, 2, 3]


def test_the_class_count_is_found_from_the_values_when_not_given(tmp_path: Path) -> None:
    for folder in ("gt", "pred"):
        (tmp_path / folder).mkdir()
    labels = LabelSet.with_count(3)
    mask = np.zeros((10, 12), np.uint8)
    mask[2:6, 3:9] = 2
    write_class_mask(tmp_path / "gt" / "a.png", mask, labels)
    shutil.copy(tmp_path / "gt" / "a.png", tmp_path / "pred" / "a.png")
    seen: list[Progress] = []
    result = evaluate_folders(tmp_path / "gt", tmp_path / "pred", progress=seen.append)
    assert result.plan.reading.detected and result.plan.reading.labels.num_classes >= 3
    assert result.scores.overall.mean_iou == 1.0
    assert seen[0].stage == COUNTING_TRUTH
