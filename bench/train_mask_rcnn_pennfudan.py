"""Train Mask R-CNN from scratch on Penn-Fudan under a wall-clock budget on this CPU, then score held-out images.

    python bench/train_mask_rcnn_pennfudan.py [--minutes 20] [--encoder mobilenet_v3] [--min-size 320]
                                              [--held-out 20] [--seed 0] [--keep DIR]

Split: Penn-Fudan's 120 images sorted by name, shuffled with ``--seed``; the first ``--held-out`` (20) are held
out (never seen by training, not even for checkpoint choice), the other 100 are linked (not copied) into a
temporary folder in the dataset's own layout (``PNGImages/`` + ``PedMasks/<stem>_mask.png``), which the app
detects as instance masks. Training takes its own validation split (a random 20% of those 100) for choosing the
checkpoint, as ``segstudio train`` does for a folder without val/test.

Steps, each timed:
1. ``segstudio train --arch mask_rcnn --encoder E --option min_size=... --max-minutes M --epochs N --device cpu
   --keep-resume`` in a subprocess: the real command; the time budget stops it if the epochs do not end first
   (the resume state is kept to read the step count from). Weights: random init (nothing downloaded).
2. ``segstudio predict`` on the held-out images, in a subprocess: shows what the CLI writes for an instance model
   (class masks, see below).
3. Instance predictions of the held-out images with the app's prediction API (``Predictor.from_checkpoint`` +
   ``write_instance_mask``: ids, classes and scores), score threshold 0.05 (the model's own box_score_thresh):
   AP needs the low-scoring detections too, and ``segstudio predict``'s class masks carry no instances or scores.
4. ``segstudio evaluate --instances`` (subprocess) of those predictions against the held-out ``PedMasks``,
   linked under the image stems.
5. Baseline, same process, same way: the same architecture freshly initialised with the same seed (untrained),
   predicted and evaluated the same way; and training time per image against one forward pass per image.

The data set stays in ../shared/data (read-only); everything written goes to a temporary folder (``--keep`` to
keep it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data")) / "pennfudan"
SCORE_THRESHOLD = 0.05
sys.path.insert(0, str(REPO))


def segstudio_command() -> list[str]:
    exe = Path(sys.executable).with_name("segstudio")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "segstudio"]


def split(seed: int, held_out: int) -> tuple[list[str], list[str]]:
    stems = sorted(p.stem for p in (DATA / "PNGImages").glob("*.png"))
    order = list(stems)
    random.Random(seed).shuffle(order)
    test = sorted(order[:held_out])
    train = sorted(order[held_out:])
    return train, test


def link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


def run(command: list[str], log: Path) -> tuple[str, float]:
    """Run a CLI command, echo and keep its stdout; stderr (progress bars) goes to ``log``. Fails loudly."""
    print("$ " + " ".join(command), flush=True)
    start = time.perf_counter()
    with log.open("w") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    for line in done.stdout.splitlines():
        print("  | " + line)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        print(f"FAILED (exit {done.returncode}) after {seconds:.0f} s; stderr tail:\n{tail}", flush=True)
        raise SystemExit(1)
    return done.stdout, seconds


def predict_instances(predictor, stems: list[str], out: Path) -> float:
    """Instance PNGs (ids + classes + scores) for the held-out images; returns seconds per image (model+write)."""
    from segstudio.io.images import read_image
    from segstudio.io.mask_files import write_instance_mask

    out.mkdir(parents=True, exist_ok=True)
    images = [read_image(DATA / "PNGImages" / f"{stem}.png") for stem in stems]
    predictor.predict(images[0])  # warm-up, not timed
    start = time.perf_counter()
    for stem, image in zip(stems, images, strict=True):
        prediction = predictor.predict(image)
        if prediction.instances is None:
            raise SystemExit(f"{stem}: the predictor returned no instances (task {predictor.task})")
        write_instance_mask(out / f"{stem}.png", prediction.instances)
    return (time.perf_counter() - start) / len(stems)


def evaluate(gt: Path, pred: Path, work: Path, name: str) -> dict:
    json_path = work / f"{name}.json"
    run(segstudio_command() + ["evaluate", "--instances", "--gt", str(gt), "--pred", str(pred), "--json", str(json_path)],
        work / f"{name}.stderr")
    return json.loads(json_path.read_text())


def figures(scores: dict) -> str:
    keys = ("ap50", "ap75", "ap", "matched_objects", "predicted_objects", "truth_objects")
    found = {k: scores.get(k) for k in keys}
    if any(v is None for v in found.values()):
        return json.dumps({k: v for k, v in scores.items() if not isinstance(v, (dict, list))})
    return (f"AP@0.5 {found['ap50']:.4f}  AP@0.75 {found['ap75']:.4f}  AP@[.5:.95] {found['ap']:.4f}  "
            f"matched {found['matched_objects']} / predicted {found['predicted_objects']} / truth {found['truth_objects']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="training wall-clock budget (--max-minutes)")
    parser.add_argument("--encoder", default="mobilenet_v3")
    parser.add_argument("--min-size", type=int, default=320, help="Mask R-CNN's shorter-side resize (train and predict)")
    parser.add_argument("--max-size", type=int, default=640)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8,
                        help="epochs (sets the warm-up and schedule length); the time budget stops the run earlier")
    parser.add_argument("--held-out", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the work folder here instead of a temporary one")
    args = parser.parse_args()

    import torch

    train_stems, test_stems = split(args.seed, args.held_out)
    work = args.keep or Path(tempfile.mkdtemp(prefix="pennfudan_mrcnn_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, threads {torch.get_num_threads()}, "
              f"load average at start {os.getloadavg()[0]:.2f}")
        print(f"split (seed {args.seed}): {len(train_stems)} train (of which training validates on its own random 20%), "
              f"{len(test_stems)} held out: {' '.join(test_stems)}")
        train_dir, test_images, test_gt = work / "train", work / "heldout_images", work / "heldout_gt"
        for stem in train_stems:
            link(DATA / "PNGImages" / f"{stem}.png", train_dir / "PNGImages" / f"{stem}.png")
            link(DATA / "PedMasks" / f"{stem}_mask.png", train_dir / "PedMasks" / f"{stem}_mask.png")
        for stem in test_stems:
            link(DATA / "PNGImages" / f"{stem}.png", test_images / f"{stem}.png")
            link(DATA / "PedMasks" / f"{stem}_mask.png", test_gt / f"{stem}.png")  # paired by image stem

        options = [f"min_size={args.min_size}", f"max_size={args.max_size}"]
        checkpoint = work / "mask_rcnn.safetensors"
        command = segstudio_command() + [
            "train", "--data", str(train_dir), "--arch", "mask_rcnn", "--encoder", args.encoder,
            "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--max-minutes", str(args.minutes),
            "--seed", str(args.seed), "--device", "cpu", "--keep-resume", "--out", str(checkpoint),
        ]
        for option in options:
            command += ["--option", option]
        print(f"\n[1] train: budget {args.minutes:g} min wall clock, from scratch (random init, nothing downloaded)")
        out, train_wall = run(command, work / "train.stderr")
        epochs = [int(m.group(1)) for m in re.finditer(r"^epoch\s+(\d+):", out, re.MULTILINE)]
        stop = re.search(r"^stopped: (.*)$", out, re.MULTILINE)
        epochs_done = max(epochs) if epochs else 0
        print(f"train wall time {train_wall:.0f} s (subprocess, incl. start-up and per-epoch validation); "
              f"epochs done {epochs_done}; {stop.group(1) if stop else 'no stop line'}")
        if not checkpoint.exists():
            print("no checkpoint written: nothing to evaluate")
            return 1

        print("\n[2] segstudio predict (CLI) on the held-out images")
        cli_pred = work / "cli_predict"
        _, cli_wall = run(segstudio_command() + ["predict", "--model", str(checkpoint), "--images", str(test_images),
                                                 "--out", str(cli_pred), "--device", "cpu"], work / "predict.stderr")
        from PIL import Image
        sample = Image.open(next(iter(sorted(cli_pred.glob("*.png")))))
        chunks = sorted(getattr(sample, "text", {}) or {})
        print(f"predict wall {cli_wall:.1f} s; its PNGs: mode {sample.mode}, text chunks {chunks or 'none'} -> "
              + ("instance PNGs" if any("instances" in c for c in chunks) else
                 "class masks only (no instance ids, classes or scores): not usable for AP, so step 3 writes instances"))

        from segstudio.models.checkpoints import load_checkpoint
        from segstudio.models.predictor import Predictor
        from segstudio.models.registry import build_model

        print(f"\n[3] instance predictions (app API, score threshold {SCORE_THRESHOLD}) + segstudio evaluate --instances")
        loaded = load_checkpoint(checkpoint)
        trained = Predictor.from_checkpoint(loaded, device="cpu", score_threshold=SCORE_THRESHOLD)
        trained_forward = predict_instances(trained, test_stems, work / "pred_trained")
        trained_scores = evaluate(test_gt, work / "pred_trained", work, "eval_trained")

        print(f"\n[4] baseline: the same architecture and options, randomly initialised (seed {args.seed}), untrained")
        torch.manual_seed(args.seed)
        fresh = build_model(loaded.meta.config)
        untrained = Predictor(fresh, task=loaded.meta.task, normalisation=loaded.meta.normalisation,
                              num_classes=loaded.meta.config.num_classes, device="cpu", score_threshold=SCORE_THRESHOLD)
        untrained_forward = predict_instances(untrained, test_stems, work / "pred_untrained")
        untrained_scores = evaluate(test_gt, work / "pred_untrained", work, "eval_untrained")

        trained_images = round(len(train_stems) * 0.8)  # training validates on a random 20% of the train folder
        state = torch.load(checkpoint.with_suffix(".resume.pt"), weights_only=True, map_location="cpu")
        steps = int(state["step"])
        history = state["history"]
        partial = any(h.get("partial") for h in history)
        seen = steps * args.batch_size
        per_image_train = train_wall / seen
        for h in history:
            print(f"  epoch {h['epoch']}: {h['steps']} steps, loss {h['train_loss']:.4f}, lr {h['learning_rate']:.2e}, "
                  f"val mean IoU {h['mean_iou']:.4f}, {h['seconds']:.0f} s" + (" (partial)" if h.get("partial") else ""))
        print("\n== summary ==")
        print(f"data: Penn-Fudan {DATA}; {len(train_stems)} train images (~{trained_images} stepped on, ~{len(train_stems) - trained_images} "
              f"for checkpoint choice), {len(test_stems)} held out")
        print(f"model: mask_rcnn / {args.encoder}, {' '.join(options)}, batch {args.batch_size}, seed {args.seed}, from scratch")
        print(f"budget: --max-minutes {args.minutes:g} on {os.cpu_count()} CPUs (torch threads {torch.get_num_threads()}); "
              f"train wall {train_wall:.0f} s; epochs done {epochs_done}" + (" (last one partial)" if partial else "")
              + f"; {steps} steps x batch {args.batch_size} = {seen} image-steps; load average now {os.getloadavg()[0]:.2f}")
        print(f"trained   (held out): {figures(trained_scores)}")
        print(f"untrained (held out): {figures(untrained_scores)}")
        print(f"time: training {per_image_train:.3f} s per image-step (train wall / image-steps, incl. per-epoch validation "
              f"and start-up) vs forward pass {trained_forward:.3f} s per image (trained, eval, incl. instance PNG write) "
              f"-> ratio {per_image_train / trained_forward:.1f}x; untrained forward {untrained_forward:.3f} s per image "
              "(more low-score detections to paste)")
        print(f"work folder: {work}" + ("" if args.keep else " (removed)"))
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
