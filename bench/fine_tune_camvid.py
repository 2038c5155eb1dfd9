"""Fine-tuning on corrections, end to end on CamVid (issue 11), on this CPU:

1. a weak model: a U-Net (classic encoder) trained briefly on CamVid's *val* images (``--weak-epochs`` epochs of
   one 256 px crop per image: a fixed amount of work, so the same weak model on any machine);
2. the project: CamVid's 100 *train* images; the weak model predicts all of them (as "Predict all images" does);
3. the labeler: ``--accepted`` of them are accepted with their ground truth standing in for the corrected mask
   (statuses written to the project file with the window's :class:`ReviewKeeper`, read back from it);
4. fine-tune (:func:`segstudio.app.fine_tune.fine_tune`, the window's settings unless told otherwise); the held-out
   part of the accepted images measures it;
5. re-predict the images still to do with the new model and score them too: they were never trained on.

Printed: held-out mean IoU before/after, the to-do images' mean IoU before/after, the wall times, and the
fine-tune's time against one plain training epoch on the same images in the same process (the baseline).
``--control``: the same fine-tune (settings, image count, work) on CamVid *val* images instead of the project's
accepted ones, scored on the same to-do images: how much of the gain is just more training of a weak model.

    python bench/fine_tune_camvid.py [--accepted 40] [--weak-epochs 3] [--epochs 8] [--max-seconds 240] [--control]
    python bench/fine_tune_camvid.py --screenshots   # the fine-tune runs in the window's FineTunePanel (offscreen);
                                                    # bench/out/screenshots/fine_tune_{progress,done}.png

Data is linked (not copied) into a temporary folder; ../shared/data is only read. Torch runs one thread: on this
2-core machine two threads made a 4x256x256 training step of the 16-channel U-Net 3-4x slower (1.0 s against
3.2-4.1 s), and the window's fine-tune uses one thread too.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
OUT = REPO / "bench" / "out" / "screenshots"
sys.path.insert(0, str(REPO))

from segstudio.app.fine_tune import (  # noqa: E402
    EPOCH_STAGE,
    FineTuneResult,
    FineTuneSettings,
    fine_tune,
    plan_fine_tune,
)
from segstudio.core.metrics import Scores, confusion_matrix  # noqa: E402
from segstudio.core.progress import Progress  # noqa: E402
from segstudio.core.review import ReviewStatus  # noqa: E402
from segstudio.io.datasets import Dataset, open_dataset  # noqa: E402
from segstudio.io.mask_files import read_class_mask  # noqa: E402
from segstudio.io.review_file import read_review  # noqa: E402


def _link_folder(root: Path, *names: str) -> Path:
    root.mkdir(parents=True)
    for name in names:
        (root / name).symlink_to(SHARED / "camvid" / name)
    return root


def _printer(started: float):  # noqa: ANN202
    def show(progress: Progress) -> None:
        if progress.stage == EPOCH_STAGE or (progress.stage.startswith("held-out") and progress.done == progress.total):
            figures = ", ".join(f"{k} {v:.4f}" for k, v in progress.metrics.items())
            print(f"  [{time.monotonic() - started:6.1f} s] {progress.stage}: {progress.message} ({figures})", flush=True)

    return show


def _score_written(dataset: Dataset, written: dict[str, Path], keys: list[str]) -> float | None:
    """Mean IoU of the written predictions of ``keys`` against the ground truth (CamVid's 11 left out)."""
    labels = dataset.spec.labels
    matrix = np.zeros((labels.num_classes, labels.num_classes), dtype=np.int64)
    for key in keys:
        sample = dataset.sample(key)
        truth = read_class_mask(dataset.ground_truth(sample), labels)
        predicted = read_class_mask(written[key], labels)
        matrix += confusion_matrix(truth, predicted, labels.num_classes, labels.ignore_index)
    return Scores.from_confusion(matrix, labels.names).mean_iou


def _accept(dataset: Dataset, count: int, seed: int) -> list[str]:
    """The labeler accepts ``count`` of the images (the ground truth stands in for their corrections): statuses
    written to the project file as the window writes them, and read back from it."""
    from segstudio.app.review import ReviewKeeper, write_review

    keys = sorted(s.key for s in dataset.samples)
    chosen = sorted(np.random.default_rng(seed).choice(keys, size=count, replace=False).tolist())
    keeper = ReviewKeeper(dataset.project_file, read_review(dataset.project_file))
    for key in chosen:
        keeper.set_status(key, ReviewStatus.ACCEPTED)
    write_review(dataset.project_file, keeper.take_pending())
    book = read_review(dataset.project_file)
    return sorted(key for key, entry in book.items() if entry.status is ReviewStatus.ACCEPTED)


def _one_plain_epoch(dataset: Dataset, train_keys: tuple[str, ...], held_out: tuple[str, ...],
                     settings: FineTuneSettings, base_channels: int, out: Path) -> float:
    """Seconds of one plain training epoch (random start, validation included) on the fine-tune's own images."""
    from segstudio.app.training import DatasetFiles
    from segstudio.models.training import TrainingConfig, TrainingData, TrainingSample, train

    samples = tuple(
        TrainingSample(key, dataset.sample(key).image, dataset.ground_truth(dataset.sample(key)), None,
                       "held out" if key in held_out else "train")
        for key in (*train_keys, *held_out)
    )
    config = TrainingConfig(architecture="unet", encoder="classic", options={"base_channels": base_channels},
                            epochs=1, crop_size=settings.crop_size, batch_size=settings.batch_size,
                            learning_rate=settings.learning_rate, val_split="held out", device="cpu")
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    train(TrainingData(dataset.spec.labels, samples, DatasetFiles(), "baseline"), config, out)
    return time.monotonic() - started


def _fine_tune_in_panel(dataset: Dataset, accepted: list[str], checkpoint: Path,
                        settings: FineTuneSettings) -> FineTuneResult:
    """The fine-tune run by the window's controller in a FineTunePanel (offscreen), grabbed mid-run and at the end."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from segstudio.ui.fine_tune import CHANNEL, FineTuneController, FineTunePanel
    from segstudio.ui.workers import WorkerPool

    app = QApplication.instance() or QApplication(sys.argv)
    OUT.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool()
    panel = FineTunePanel()
    panel.resize(460, 760)
    panel.show()
    controller = FineTuneController(pool, panel)
    outcome: dict[str, object] = {}
    middle = max(1, settings.epochs // 2)

    def grab_mid_run(progress: Progress) -> None:  # after the controller's slot: the panel shows it already
        if progress.stage == EPOCH_STAGE and int(progress.metrics.get("epoch", 0)) == middle:
            app.processEvents()
            panel.grab().save(str(OUT / "fine_tune_progress.png"))
            print(f"  screenshot: {OUT / 'fine_tune_progress.png'}", flush=True)

    pool.signals(CHANNEL).progress.connect(grab_mid_run)
    started = time.monotonic()
    pool.signals(CHANNEL).progress.connect(_printer(started))
    controller.finished.connect(lambda result: outcome.setdefault("result", result))
    controller.failed.connect(lambda message: outcome.setdefault("error", message))
    controller.cancelled.connect(lambda: outcome.setdefault("error", "cancelled"))
    controller.start(dataset, accepted, checkpoint, settings)
    while not outcome:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.05)
    panel.grab().save(str(OUT / "fine_tune_done.png"))
    print(f"  screenshot: {OUT / 'fine_tune_done.png'}", flush=True)
    pool.shutdown(10000)
    if "error" in outcome:
        raise SystemExit(f"fine-tuning failed: {outcome['error']}")
    return outcome["result"]  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accepted", type=int, default=40, help="train images the labeler accepts (of 100)")
    parser.add_argument("--weak-epochs", type=int, default=3, help="training epochs of the weak model")
    parser.add_argument("--base-channels", type=int, default=16, help="the U-Net's width")
    parser.add_argument("--epochs", type=int, default=None, help="fine-tune epochs (default: the window's)")
    parser.add_argument("--max-seconds", type=float, default=None, help="fine-tune time budget (default: the window's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screenshots", action="store_true", help="run the fine-tune in the window's panel, grabbed")
    parser.add_argument("--control", action="store_true", help="also fine-tune on CamVid val images (no corrections)")
    args = parser.parse_args()
    if not (SHARED / "camvid" / "train").is_dir():
        print(f"CamVid not found under {SHARED / 'camvid'}")
        return 2

    import torch

    from segstudio.app.loaded_model import load_model
    from segstudio.app.project_predictions import predict_all
    from segstudio.app.training import train
    from segstudio.models.training import TrainingConfig
    from segstudio.ui.fine_tune import WINDOW_SETTINGS

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="segstudio-finetune-bench-"))
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", str(tmp / "user-data"))
    settings = dataclasses.replace(WINDOW_SETTINGS, device="cpu", seed=args.seed)
    if args.epochs is not None:
        settings = dataclasses.replace(settings, epochs=args.epochs)
    if args.max_seconds is not None:
        settings = dataclasses.replace(settings, max_seconds=args.max_seconds)
    print(f"work folder {tmp}; torch {torch.__version__}, 1 thread; fine-tune settings {settings}")

    # 1. the weak model, trained briefly on CamVid val
    weak_data = _link_folder(tmp / "camvid-val", "val", "valannot")
    models = tmp / "models"
    models.mkdir()
    config = TrainingConfig(architecture="unet", encoder="classic", options={"base_channels": args.base_channels},
                            epochs=args.weak_epochs, crop_size=256, batch_size=4, seed=args.seed, device="cpu")
    started = time.monotonic()
    weak = train(weak_data, config, models / "camvid-weak.safetensors")
    print(f"weak model: {len(weak.history)} epochs on CamVid val in {time.monotonic() - started:.0f} s "
          f"(its own val IoU {weak.best_metrics.get('mean_iou') or 0:.3f})")

    # 2. the project: CamVid train, every image predicted by the weak model
    dataset = open_dataset(_link_folder(tmp / "camvid-train", "train", "trainannot"))
    started = time.monotonic()
    predicted = predict_all(load_model(weak.checkpoint, "cpu"), dataset)
    predict_seconds = time.monotonic() - started
    keys = sorted(s.key for s in dataset.samples)
    print(f"predicted {len(predicted.written)} train images with the weak model in {predict_seconds:.1f} s; "
          f"mean IoU {_score_written(dataset, predicted.written, keys):.3f}")

    # 3. the labeler accepts some of them
    accepted = _accept(dataset, args.accepted, args.seed)
    to_do = [k for k in keys if k not in set(accepted)]
    plan = plan_fine_tune(accepted, held_out_fraction=settings.held_out_fraction, seed=settings.seed)
    print(f"accepted {len(accepted)} (read back from {dataset.project_file.name}): {len(plan.train_keys)} train, "
          f"{len(plan.held_out_keys)} held out; {len(to_do)} still to do")

    # baseline: one plain epoch on the same images, in this process
    baseline = _one_plain_epoch(dataset, plan.train_keys, plan.held_out_keys, settings, args.base_channels,
                                tmp / "baseline" / "plain.safetensors")
    print(f"baseline: one plain training epoch (with its validation) on the same images: {baseline:.1f} s")

    # 4. fine-tune
    before_files = sorted(p.name for p in models.iterdir())
    started = time.monotonic()
    if args.screenshots:
        result = _fine_tune_in_panel(dataset, accepted, weak.checkpoint, settings)
    else:
        result = fine_tune(dataset, accepted, weak.checkpoint, settings, progress=_printer(started))
    wall = time.monotonic() - started
    after_files = sorted(p.name for p in models.iterdir())

    # 5. re-predict; score the images still to do (never trained on) with both models
    started = time.monotonic()
    repredicted = predict_all(load_model(result.checkpoint, "cpu"), dataset)
    repredict_seconds = time.monotonic() - started
    to_do_before = _score_written(dataset, predicted.written, to_do)
    to_do_after = _score_written(dataset, repredicted.written, to_do)

    print()
    print(f"held-out mean IoU ({len(result.held_out_keys)} accepted images, never trained on): "
          f"{result.before.mean_iou:.3f} -> {result.after.mean_iou:.3f} ({result.change:+.3f})")
    print(f"to-do images' mean IoU ({len(to_do)} images, never trained on): {to_do_before:.3f} -> {to_do_after:.3f} "
          f"({to_do_after - to_do_before:+.3f})")
    names = result.class_names
    print("held-out IoU per class: " + ", ".join(
        f"{n} {_f(b)}->{_f(a)}" for n, b, a in zip(names, result.before.class_iou, result.after.class_iou)))
    print(f"fine-tune: {result.epochs}/{result.epochs_planned} epochs on {len(result.train_keys)} images, kept epoch "
          f"{result.best_epoch}; wall {wall:.1f} s (training {result.train_seconds:.1f} s); "
          f"{wall / baseline:.1f}x one plain epoch ({baseline:.1f} s)")
    print("per epoch: " + "; ".join(f"{p.epoch}: loss {p.loss:.3f}, IoU {_f(p.held_out_iou)}, {p.seconds:.1f} s"
                                    for p in result.history))
    print(f"re-predicting all {len(keys)} images with the new model: {repredict_seconds:.1f} s")
    if args.control:
        weak_dataset = open_dataset(weak_data)
        val_keys = sorted(s.key for s in weak_dataset.samples)
        chosen = sorted(np.random.default_rng(args.seed).choice(val_keys, size=len(accepted), replace=False).tolist())
        control = fine_tune(weak_dataset, chosen, weak.checkpoint, settings)
        control_predicted = predict_all(load_model(control.checkpoint, "cpu"), dataset)
        control_iou = _score_written(dataset, control_predicted.written, to_do)
        print(f"control: the same fine-tune on {len(chosen)} CamVid val images (what the weak model trained on), "
              f"{control.epochs} epochs in {control.seconds:.1f} s: to-do images' mean IoU {to_do_before:.3f} -> "
              f"{control_iou:.3f} ({control_iou - to_do_before:+.3f}), against {to_do_after:.3f} from the accepted masks")
    print(f"model folder before: {before_files}; after: {after_files}")
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
