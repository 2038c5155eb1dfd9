"""Train on real data under a wall-clock budget on this CPU, then score images the model never saw.

    python bench/bench_train_real.py isbi   [--minutes 10] [--arch unet] [--encoder classic] [--option base_channels=16]
    python bench/bench_train_real.py camvid [--minutes 15] [--arch segnet]

isbi: the 24 labelled ISBI 2012 slices split 15 train / 3 validation (checkpoint choice) / 6 test (slices
18..23, never seen in training), 256 px crops, scored at full 512 px resolution on the test slices: membrane
IoU, Dice, pixel accuracy and pixel error (1 - accuracy), beside the peer figures the issue gives for
segmentation_models_pytorch's Unet("resnet34") trained for 10 minutes on this CPU (random init).
camvid: train on CamVid train (100 images), validate and score on val (101 images): mean IoU over the 11
classes, 11 = unlabelled ignored.

Data is linked (not copied) into a temporary folder; the data sets stay in ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from segstudio.cli.models import parse_options  # noqa: E402
from segstudio.core.metrics import DatasetEvaluator  # noqa: E402
from segstudio.io.datasets import open_dataset  # noqa: E402
from segstudio.io.images import read_image  # noqa: E402
from segstudio.io.mask_files import read_class_mask  # noqa: E402
from segstudio.models.checkpoints import load_checkpoint  # noqa: E402
from segstudio.models.predictor import Predictor  # noqa: E402
from segstudio.core.progress import Progress  # noqa: E402
from segstudio.app.training import train  # noqa: E402
from segstudio.models.training import TrainingConfig  # noqa: E402

PEER_SMP_RESNET34 = {"membrane IoU": 0.646, "membrane Dice": 0.785, "pixel error": 0.0915}
ISBI_TEST = tuple(str(i) for i in range(18, 24))
ISBI_VAL = ("15", "16", "17")


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


def isbi_folder(root: Path) -> Path:
    source = SHARED / "isbi2012" / "train"
    for path in sorted((source / "images").glob("*.png")):
        stem = path.stem
        if stem in ISBI_TEST:
            continue
        split = "val" if stem in ISBI_VAL else "train"
        _link(path, root / split / "images" / path.name)
        _link(source / "masks" / path.name, root / split / "masks" / path.name)
    return root


def camvid_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    for split in ("train", "trainannot", "val", "valannot"):
        (root / split).symlink_to(SHARED / "camvid" / split)
    (root / "colour_lut.png").symlink_to(SHARED / "camvid" / "colour_lut.png")
    return root


def _printer(started: float) -> object:
    last = [0.0]

    def show(progress: Progress) -> None:
        now = time.monotonic()
        if progress.stage == "validate" and progress.done == progress.total or now - last[0] > 30:
            last[0] = now
            figures = ", ".join(f"{k} {v:.4f}" for k, v in progress.metrics.items() if isinstance(v, float))
            print(f"  [{now - started:6.0f} s] {progress.stage} {progress.done}/{progress.total} {figures}", flush=True)

    return show


def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix=f"segstudio-bench-{args.dataset}-"))
    data = isbi_folder(workdir / "data") if args.dataset == "isbi" else camvid_folder(workdir / "data")
    dataset = open_dataset(data)
    checkpoint = workdir / "best.safetensors"
    config = TrainingConfig(
        architecture=args.arch,
        encoder=args.encoder,
        options=parse_options(args.option),
        epochs=args.epochs,
        batch_size=args.batch_size,
        crop_size=args.size,
        samples_per_epoch=args.samples_per_epoch,
        learning_rate=args.lr,
        seed=args.seed,
        max_seconds=args.minutes * 60.0,
    )
    print(f"training {args.arch} ({args.encoder or 'default encoder'}) on {data} for at most {args.minutes} min", flush=True)
    started = time.monotonic()
    result = train(dataset, config, checkpoint, progress=_printer(started))  # type: ignore[arg-type]
    seconds = time.monotonic() - started
    print(f"stopped: {result.stop_reason.value} after {seconds:.0f} s, {len(result.history)} epochs, best epoch {result.best_epoch}")

    predictor = Predictor.from_checkpoint(load_checkpoint(checkpoint))
    if args.dataset == "isbi":
        source = SHARED / "isbi2012" / "train"
        truth_source = dataset.ground_truth_source(dataset.samples[0])
        labels = dataset.spec.labels
        evaluator = DatasetEvaluator(labels.num_classes, labels.ignore_index, labels.names)
        for stem in ISBI_TEST:
            truth = read_class_mask(source / "masks" / f"{stem}.png", labels, value_map=truth_source.value_map)
            evaluator.add(stem, truth, predictor.predict(read_image(source / "images" / f"{stem}.png")).classes)
        scores = evaluator.result().overall
        membrane = scores[1]  # the value map makes the stored-black membrane class 1
        figures = {
            "membrane IoU": membrane.iou,
            "membrane Dice": membrane.dice,
            "pixel accuracy": scores.pixel_accuracy,
            "pixel error": 1.0 - (scores.pixel_accuracy or 0.0),
        }
        print(f"\nISBI 2012, 6 test slices ({', '.join(ISBI_TEST)}) at 512x512, never seen in training:")
        print(f"  {'figure':<16}{'segstudio':>12}{'smp Unet(resnet34) peer':>26}")
        for name, value in figures.items():
            peer = PEER_SMP_RESNET34.get(name)
            print(f"  {name:<16}{value:>12.4f}{'' if peer is None else f'{peer:>26.4f}'}")
        print("  (U-Net paper, full-resolution challenge test set: pixel error 0.0611)")
    else:
        labels = dataset.spec.labels
        evaluator = DatasetEvaluator(labels.num_classes, labels.ignore_index, labels.names)
        for sample in dataset.samples:
            if sample.split != "val":
                continue
            truth = read_class_mask(dataset.ground_truth(sample), labels)
            evaluator.add(sample.name, truth, predictor.predict(read_image(sample.image)).classes)
        scores = evaluator.result().overall
        figures = {"mean IoU": scores.mean_iou, "mean Dice": scores.mean_dice, "pixel accuracy": scores.pixel_accuracy}
        print(f"\nCamVid val ({len(evaluator)} images, 480x360, 11 classes, unlabelled ignored):")
        for name, value in figures.items():
            print(f"  {name:<16}{value:.4f}")
        for cls in scores.classes:
            print(f"    {cls.name:<12} IoU {cls.iou if cls.iou is None else round(cls.iou, 4)}")
    figures["training seconds"] = seconds
    figures["epochs"] = len(result.history)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=("isbi", "camvid"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--encoder")
    parser.add_argument("--option", action="append", default=[])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--samples-per-epoch", type=int, default=64)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"real data not found at {SHARED}")
    figures = run(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
