"""Opening a folder as a project: the dataset and the predictions segstudio wrote there before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.app.project import open_project
from segstudio.app.project_predictions import PREDICTIONS_FOLDER
from segstudio.cli import main
from segstudio.core.errors import FileProblem
from segstudio.io.demo_dataset import DEMO_LABELS, write_demo_dataset
from segstudio.io.mask_files import write_class_mask


def test_a_project_finds_the_predictions_written_in_an_earlier_run(tmp_path: Path) -> None:
    folder = write_demo_dataset(tmp_path / "demo", count=3)
    first = open_project(folder)
    assert dict(first.app_predictions) == {}
    key = first.dataset.samples[0].key
    written = first.dataset.project_file.parent / PREDICTIONS_FOLDER / "model" / f"{key}.png"
    written.parent.mkdir(parents=True)
    write_class_mask(written, np.zeros((8, 8), np.uint8), DEMO_LABELS)
    again = open_project(folder)
    assert dict(again.app_predictions) == {key: written}
    assert again.has_prediction(again.dataset.samples[0])


def test_scan_counts_the_predictions_segstudio_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_demo_dataset(tmp_path / "demo", count=3)
    project = open_project(folder)
    for sample in project.dataset.samples[:2]:
        path = project.dataset.project_file.parent / PREDICTIONS_FOLDER / "model" / f"{sample.key}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_class_mask(path, np.zeros((8, 8), np.uint8), DEMO_LABELS)
    assert main(["scan", str(folder)]) == 0
    assert "predicted by segstudio in earlier runs: 2 images" in capsys.readouterr().out


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileProblem, match="does not exist") as caught:
        open_project(tmp_path / "nowhere")
    assert caught.value.path == tmp_path / "nowhere"
