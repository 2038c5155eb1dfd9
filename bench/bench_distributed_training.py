"""Benchmark: training throughput under torchrun (gloo, CPU) against one process, same global batch, one run.

    python bench/bench_distributed_training.py [--processes 2] [--epochs 3]

Trains a U-Net (classic encoder, ``base_channels=16``) on 24 CamVid training images (256 px crops, 8 crops per
step over all processes) three ways, timed by the runs themselves (epoch seconds, validation included):

- one process using every core (``torch.set_num_threads(cores)``): the baseline;
- ``torchrun --nproc_per_node N``, each process one share of the cores;
- and prints the ratio, with the final losses of both (the same crops and, to float rounding, the same gradients).

On one machine the processes share its cores, so the ratio says what the distribution costs (gradient reduction,
shared batch norm, one more process's start); on N machines or N GPUs each process brings its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
RUN = REPO / "tests" / "models" / "distributed_run.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=24)
    args = parser.parse_args(argv)
    source = SHARED / "camvid"
    if not (source / "train").is_dir():
        print(f"CamVid not found under {SHARED}")
        return 2
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "camvid"
        for split, truth, count in (("train", "trainannot", args.images), ("val", "valannot", 4)):
            for folder in (split, truth):
                (data / folder).mkdir(parents=True)
                for path in sorted((source / folder).iterdir())[:count]:
                    shutil.copyfile(path, data / folder / path.name)
        config = {"architecture": "unet", "encoder": "classic", "options": {"base_channels": 16}, "epochs": args.epochs,
                  "batch_size": 8, "crop_size": 256, "samples_per_epoch": args.images, "seed": 0, "device": "cpu"}
        outcomes = {}
        for name, processes in (("one", 1), ("torchrun", args.processes)):
            settings = {"data": str(data), "out": str(tmp / f"{name}.safetensors"), "config": config,
                        "threads": max(1, cores // processes)}
            path = tmp / f"{name}.json"
            path.write_text(json.dumps(settings))
            environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(settings["threads"])}
            prefix = [sys.executable] if processes == 1 else [
                sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
            subprocess.run([*prefix, str(RUN), str(path)], check=True, env=environment, capture_output=True)
            outcomes[name] = json.loads(Path(settings["out"] + ".outcome.json").read_text())
    one, many = outcomes["one"], outcomes["torchrun"]
    # the first epoch pays for reading and decoding the images: the later ones are the steady state
    steady_one, steady_many = sum(one["epoch_seconds"][1:]), sum(many["epoch_seconds"][1:])
    print(f"{cores} cores; {args.images} CamVid images, 256 px crops, 8 crops per step, {args.epochs} epochs")
    print(f"one process, {cores} threads:          {steady_one:6.1f} s for epochs 2..{args.epochs}; final loss {one['losses'][-1]:.4f}")
    print(f"torchrun, {args.processes} processes x {max(1, cores // args.processes)} threads:  "
          f"{steady_many:6.1f} s for epochs 2..{args.epochs}; final loss {many['losses'][-1]:.4f}")
    print(f"ratio torchrun / one process (time): {steady_many / steady_one:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
