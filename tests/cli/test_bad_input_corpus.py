"""The bad-input corpus (tests/bad_inputs.py) through the commands and the window's load job (issue 14): each
broken or unusual file sits beside a good one; no command prints a traceback, every file that cannot be used is
named with its problem, nothing is written for it, and the good file is still done."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.app.sample_loader import load_sample
from segstudio.cli import main
from segstudio.core.errors import FileProblem
from segstudio.io.datasets import open_dataset
from segstudio.io.demo_dataset import DEMO_LABELS
from tests.bad_inputs import CORPUS, MASK_CORPUS, BadInput

MASK_VALUES = 3  # the masks here use classes 0..2 of the demo's label set


def _mask(height: int = 40, width: int = 60) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[10:20] = 1
    mask[25:30, 5:40] = 2
    return mask


def _photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (40, 60, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    config = ModelConfig("unet", DEMO_LABELS.num_classes, 3, "classic", {"base_channels": 4})
    save_checkpoint(path, build_model(config), CheckpointMeta(config, DEMO_LABELS))
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "Traceback" not in text, text
    assert code in (0, 1, 2), (code, text)
    return code, text


@pytest.mark.parametrize("bad", CORPUS, ids=[b.name for b in CORPUS])
def test_an_image_file_of_the_corpus_through_predict_scan_and_the_window(
    bad: BadInput, tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray(_photo()).save(root / "images" / "good.png")
    Image.fromarray(_mask()).save(root / "masks" / "good.png")
    path = root / "images" / bad.name
    bad.write(path)
    Image.fromarray(_mask()).save(root / "masks" / f"{Path(bad.name).stem}.png")
    out = tmp_path / "out"

    code, text = _run(["predict", "--model", str(tiny_checkpoint), "--images", str(root / "images"), "--out", str(out)],
                      capsys)
    written = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    assert "good.png" in written, text
    if bad.refused:
        assert code == 1 and bad.name in text, text  # skipped, named with its problem
        assert f"{Path(bad.name).stem}.png" not in written or Path(bad.name).stem == "good", written

    _run(["scan", str(root)], capsys)

    dataset = open_dataset(root)
    sample = next((s for s in dataset.samples if Path(s.image).name == bad.name), None)
    if sample is None:  # not listed as an image (a suffix the data set does not take): nothing to open
        assert not bad.name.endswith((".png", ".jpg")), [s.image for s in dataset.samples]
        return
    try:
        loaded = load_sample(dataset, sample)
    except FileProblem as problem:  # the window shows str(problem): the file and what is wrong
        # the image, or its mask when the image reads but they do not fit (an EXIF-rotated photo is shown upright)
        assert Path(problem.path).name in (bad.name, f"{Path(bad.name).stem}.png") and problem.problem
        assert bad.refused or Path(problem.path).parent.name == "masks", problem
    else:
        assert not bad.refused, f"{bad.name} opened as an image"
        assert loaded.session.image.ndim in (2, 3)


@pytest.mark.parametrize("bad", MASK_CORPUS, ids=[b.name for b in MASK_CORPUS])
@pytest.mark.parametrize("side", ["gt", "pred"])
def test_a_mask_file_of_the_corpus_through_evaluate(bad: BadInput, side: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for folder in (gt, pred):
        folder.mkdir()
        Image.fromarray(_mask()).save(folder / "good.png")
        Image.fromarray(_mask()).save(folder / bad.name)
    bad.write((gt if side == "gt" else pred) / bad.name)
    code, text = _run(["evaluate", "--gt", str(gt), "--pred", str(pred), "--num-classes", str(MASK_VALUES)], capsys)
    if bad.refused:
        assert code != 0 and bad.name in text, text
