"""Loading a model for the window: a file that is no model is refused in a user's words (what it is, what to load
instead), the technical reason kept for the log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from segstudio.app.loaded_model import ModelFileRefused, load_model, refusal_words  # noqa: E402
from segstudio.app.training import train  # noqa: E402
from segstudio.io.demo_dataset import write_demo_dataset  # noqa: E402
from segstudio.models.checkpoints import ProblemKind  # noqa: E402
from segstudio.models.training import TrainingConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) run's checkpoint, its resume state kept beside it."""
    folder = tmp_path_factory.mktemp("run")
    data = write_demo_dataset(folder / "demo", count=3)
    config = TrainingConfig(architecture="unet", encoder="classic", options={"base_channels": 4}, epochs=1,
                            batch_size=2, crop_size=32, samples_per_epoch=2, keep_resume_state=True)
    return train(data, config, folder / "tiny.safetensors").checkpoint


def test_the_app_s_own_resume_state_is_refused_in_words(trained: Path) -> None:
    resume_state = trained.with_name("tiny.resume.pt")
    with pytest.raises(ModelFileRefused) as refused:
        load_model(resume_state)
    assert str(refused.value) == "tiny.resume.pt: this is a training resume state, not a model: load tiny.safetensors beside it"
    for jargon in ("encoder.stages", "name the model", "state dict"):
        assert jargon not in str(refused.value)
    assert str(resume_state) in refused.value.detail  # the technical text, for the log
    assert load_model(trained).name == "tiny"  # the checkpoint beside it loads


def test_a_file_that_holds_no_model_is_refused_in_words(tmp_path: Path) -> None:
    noise = tmp_path / "noise.pt"
    noise.write_bytes(bytes([0x42]) + np.random.default_rng(0).bytes(4095))
    with pytest.raises(ModelFileRefused, match=r"^noise\.pt: not a model checkpoint segstudio can read: it holds no model weights$"):
        load_model(noise)
    torch.save({"layer.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(ModelFileRefused, match="network segstudio does not recognise; load a segstudio checkpoint"):
        load_model(tmp_path / "other.pth")


def test_every_refusal_has_words_for_a_user(tmp_path: Path) -> None:
    for kind in ProblemKind:
        words = refusal_words(tmp_path / "model.pt", kind)
        assert not words.endswith(f": {kind.value}"), f"no words for {kind!r}"
