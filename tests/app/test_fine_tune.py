"""Fine-tuning the current model on the accepted masks: the held-out split, the run, what it saves and what it never
touches."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.app.fine_tune import (
    EPOCH_STAGE,
    MIN_ACCEPTED,
    AcceptedMasks,
    FineTuneSettings,
    accepted_mask_path,
    claim_new_path,
    fine_tune,
    finetuned_path,
    plan_fine_tune,
)
from segstudio.core.labels import LabelSet
from segstudio.core.progress import CancelToken, Cancelled, Progress
from segstudio.io.corrections import save_correction
from segstudio.io.datasets import Dataset, open_dataset

torch = pytest.importorskip("torch")

SIZE = (96, 72)  # CamVid's 480x360 scaled by 1/5: fast on two CPU cores, still a street scene
FAST = FineTuneSettings(epochs=8, crop_size=64, batch_size=4, samples_per_epoch=24, learning_rate=5e-3, device="cpu")


def _camvid_small(root: Path, shared_data: Path, count: int = 10) -> Path:
    source = shared_data / "camvid"
    if not (source / "train").is_dir():
        pytest.skip(f"CamVid not found under {source}")
    (root / "train").mkdir(parents=True)
    (root / "trainannot").mkdir()
    for path in sorted((source / "train").glob("*.png"))[:count]:
        image = cv2.imread(str(path))
        mask = cv2.imread(str(source / "trainannot" / path.name), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(root / "train" / path.name), cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA))
        cv2.imwrite(str(root / "trainannot" / path.name), cv2.resize(mask, SIZE, interpolation=cv2.INTER_NEAREST))
    return root


def _weak_checkpoint(path: Path, labels: LabelSet, *, num_classes: int | None = None, constant: int = 9) -> Path:
    """A tiny U-Net that predicts class ``constant`` (CamVid's rare Pedestrian) everywhere: deliberately weak."""
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.normalisation import InputNormalisation
    from segstudio.models.registry import ModelConfig, build_model

    count = num_classes or labels.num_classes
    config = ModelConfig("unet", num_classes=count, in_channels=3, encoder="classic", options={"base_channels": 4})
    torch.manual_seed(0)
    model = build_model(config)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.bias[constant] = 1.0
    model_labels = labels if num_classes is None else LabelSet.with_count(count)
    normalisation = InputNormalisation(3, (0.4, 0.4, 0.4), (0.3, 0.3, 0.3), 1 / 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model.eval(), CheckpointMeta(config, model_labels, normalisation=normalisation))
    return path


@pytest.fixture
def camvid(shared_data: Path, tmp_path: Path) -> Dataset:
    return open_dataset(_camvid_small(tmp_path / "camvid", shared_data))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the plan -------------------------------------------------------------------------------------------------


def test_the_split_is_deterministic_and_never_mixes_held_out_and_training_images() -> None:
    keys = [f"train/{i:04d}" for i in range(23)]
    plan = plan_fine_tune(keys, held_out_fraction=0.2, seed=3)
    shuffled = keys[:]
    random.Random(1).shuffle(shuffled)
    assert plan_fine_tune(shuffled + keys[:5], held_out_fraction=0.2, seed=3) == plan  # order and repeats don't matter
    assert len(plan.held_out_keys) == round(23 * 0.2) and plan.accepted == 23
    assert not set(plan.held_out_keys) & set(plan.train_keys)
    assert sorted(plan.held_out_keys + plan.train_keys) == keys
    assert plan_fine_tune(keys, seed=4).held_out_keys != plan.held_out_keys  # the seed chooses
    # accepting more images keeps most of the held-out ones held out
    grown = plan_fine_tune([*keys, *(f"train/{i:04d}" for i in range(23, 30))], held_out_fraction=0.2, seed=3)
    assert len(set(grown.held_out_keys) & set(plan.held_out_keys)) >= len(plan.held_out_keys) - 1


def test_at_least_one_image_is_held_out_and_one_trains() -> None:
    plan = plan_fine_tune(["a", "b", "c", "d"], held_out_fraction=0.01)
    assert len(plan.held_out_keys) == 1 and len(plan.train_keys) == 3
    plan = plan_fine_tune(["a", "b", "c", "d"], held_out_fraction=0.99)
    assert len(plan.train_keys) == 1 and len(plan.held_out_keys) == 3


def test_too_few_accepted_images_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=rf"at least {MIN_ACCEPTED} accepted images .* 2 are accepted: accept 2 more"):
        plan_fine_tune(["a", "b", "a"])
    with pytest.raises(ValueError, match="0 are accepted: accept 4 more"):
        plan_fine_tune([])


def test_the_new_name_counts_on_and_never_replaces_a_file(tmp_path: Path) -> None:
    base = tmp_path / "road model.safetensors"
    assert finetuned_path(base, 1) == tmp_path / "road model-finetuned-1.safetensors"
    assert finetuned_path(tmp_path / "m-finetuned-4.safetensors", 5).name == "m-finetuned-5.safetensors"
    taken = finetuned_path(base, 1)
    taken.write_bytes(b"someone's model")
    (tmp_path / "road model-finetuned-2.resume.pt").write_bytes(b"a run in progress")
    working = tmp_path / ".working.safetensors"
    working.write_bytes(b"new")
    claimed = claim_new_path(working, base)
    assert claimed.name == "road model-finetuned-3.safetensors" and claimed.read_bytes() == b"new"
    assert taken.read_bytes() == b"someone's model" and not working.exists()
    again = tmp_path / ".again.safetensors"
    again.write_bytes(b"newer")
    assert claim_new_path(again, claimed).name == "road model-finetuned-4.safetensors"


# -- the masks it trains on -----------------------------------------------------------------------------------


def test_a_saved_correction_wins_over_the_ground_truth(camvid: Dataset) -> None:
    labels = camvid.spec.labels
    corrected, plain = camvid.samples[0], camvid.samples[1]
    mask = np.full((SIZE[1], SIZE[0]), 3, dtype=np.uint8)  # all Road
    save_correction(camvid, corrected, mask, labels)
    assert accepted_mask_path(camvid, corrected.key) == camvid.correction_path(corrected)
    assert accepted_mask_path(camvid, plain.key) == camvid.ground_truth(plain)
    files = AcceptedMasks(camvid, {str(accepted_mask_path(camvid, s.key)): s.key for s in (corrected, plain)})
    np.testing.assert_array_equal(files.read_class_mask(camvid.correction_path(corrected), labels, None, SIZE), mask)
    truth = files.read_class_mask(camvid.ground_truth(plain), labels, None, SIZE)
    assert truth.shape == (SIZE[1], SIZE[0]) and 11 in np.unique(truth)  # CamVid's unlabelled id, ignored later


# -- the run --------------------------------------------------------------------------------------------------


def test_fine_tuning_improves_a_weak_model_and_leaves_the_old_checkpoint_alone(camvid: Dataset, tmp_path: Path,
                                                                                one_torch_thread: None) -> None:
    from segstudio.models.checkpoints import load_checkpoint

    labels = camvid.spec.labels
    old = _weak_checkpoint(tmp_path / "models" / "weak.safetensors", labels)
    digest = _digest(old)
    keys = [s.key for s in camvid.samples]
    reports: list[Progress] = []
    result = fine_tune(camvid, keys, old, FAST, progress=reports.append)

    plan = plan_fine_tune(keys, held_out_fraction=FAST.held_out_fraction, seed=FAST.seed)
    assert (result.train_keys, result.held_out_keys) == (plan.train_keys, plan.held_out_keys)
    assert len(result.held_out_keys) == 2 and len(result.train_keys) == 8
    # the weak model predicts one rare class: next to nothing right
    assert result.before.mean_iou is not None and result.before.mean_iou < 0.05
    assert result.after.mean_iou is not None and result.after.mean_iou > result.before.mean_iou + 0.03
    assert result.improved and result.change == pytest.approx(result.after.mean_iou - result.before.mean_iou)
    assert len(result.before.class_iou) == len(result.after.class_iou) == labels.num_classes == 11
    losses = [point.loss for point in result.history]
    assert result.epochs == len(losses) == 8 and losses[-1] < losses[0]
    assert result.after.mean_iou == pytest.approx(max(p.held_out_iou for p in result.history))
    # every epoch reached the progress as a completed report, with its loss and held-out IoU
    epochs = [r for r in reports if r.stage == EPOCH_STAGE]
    assert [int(r.metrics["epoch"]) for r in epochs] == list(range(1, 9))
    assert all(r.done == r.total and {"loss", "mean_iou"} <= set(r.metrics) for r in epochs)

    assert _digest(old) == digest  # untouched, byte for byte
    assert result.checkpoint == old.with_name("weak-finetuned-1.safetensors") and result.base_checkpoint == old
    assert sorted(p.name for p in old.parent.iterdir()) == ["weak-finetuned-1.safetensors", "weak.safetensors"]
    loaded = load_checkpoint(result.checkpoint, labels=labels)
    training = loaded.meta.training
    assert training["train_keys"] == list(plan.train_keys) and training["val_keys"] == list(plan.held_out_keys)
    assert not set(training["train_keys"]) & set(plan.held_out_keys)  # never trained on a held-out image
    assert training["training"]["initial_weights"] == str(old)


def test_a_cancelled_run_saves_nothing(camvid: Dataset, tmp_path: Path, one_torch_thread: None) -> None:
    old = _weak_checkpoint(tmp_path / "models" / "weak.safetensors", camvid.spec.labels)
    digest = _digest(old)
    token = CancelToken()

    def cancel_in_epoch_two(progress: Progress) -> None:
        if progress.stage == EPOCH_STAGE:
            token.cancel()

    with pytest.raises(Cancelled):
        fine_tune(camvid, [s.key for s in camvid.samples], old, FAST, progress=cancel_in_epoch_two, cancel=token)
    assert [p.name for p in old.parent.iterdir()] == ["weak.safetensors"]  # no model, no working or resume file
    assert _digest(old) == digest


def test_a_model_for_another_label_set_is_refused_before_anything_is_written(camvid: Dataset, tmp_path: Path) -> None:
    old = _weak_checkpoint(tmp_path / "models" / "three.safetensors", camvid.spec.labels, num_classes=3, constant=1)
    with pytest.raises(ValueError, match="the model predicts 3 classes .* but the dataset's label set has 11"):
        fine_tune(camvid, [s.key for s in camvid.samples], old, FAST)
    assert [p.name for p in old.parent.iterdir()] == ["three.safetensors"]


def test_a_time_budget_keeps_the_epochs_it_finished(camvid: Dataset, tmp_path: Path, one_torch_thread: None) -> None:
    old = _weak_checkpoint(tmp_path / "models" / "weak.safetensors", camvid.spec.labels)
    settings = FineTuneSettings(epochs=50, crop_size=64, batch_size=4, samples_per_epoch=8, learning_rate=5e-3,
                                device="cpu", max_seconds=1.0)
    result = fine_tune(camvid, [s.key for s in camvid.samples], old, settings)
    assert result.stopped_by_time and 1 <= result.epochs < 50 and result.epochs_planned == 50
    assert any("stopped by the time budget (1 s)" in note for note in result.notes)
    assert sorted(p.name for p in old.parent.iterdir()) == ["weak-finetuned-1.safetensors", "weak.safetensors"]
