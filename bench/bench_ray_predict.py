"""The local predictor against ``--engine ray`` on one machine (issue 15): the cost of sharding a folder over Ray.

    python bench/bench_ray_predict.py                      # 200 CamVid images, 2 Ray workers
    python bench/bench_ray_predict.py --images 60 --base-channels 4 --workers 2

In one run, the same random-weight U-Net (a checkpoint written here; timing does not depend on the weights)
predicts the same ``--images`` CamVid images (val, then train, copied into a temp folder, never written into
../shared/data):

* locally, as ``segstudio predict`` does (:func:`segstudio.app.prediction.predict_folder`, torch's default threads);
* on Ray, as ``segstudio predict --engine ray`` does: a local cluster started here (``ray.init``, timed on its own
  as "start-up"), then :func:`segstudio.app.ray_prediction.predict_on_ray` with ``--workers`` model actors of one
  CPU each (their start and model load inside the timed run, as a command pays it).

Prints images/s for both, the ratio (Ray's overhead on one machine), and checks the masks are the same bytes.
Needs Ray (``pip install "segstudio[ray]"``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="CamVid images to predict (default 200)")
    parser.add_argument("--workers", type=int, default=2, help="Ray model actors, one CPU each (default 2)")
    parser.add_argument("--base-channels", type=int, default=8, help="the U-Net's width (default 8)")
    parser.add_argument("--object-store-mb", type=int, default=300, help="the local cluster's object store")
    args = parser.parse_args()

    import torch

    from segstudio.app.prediction import predict_folder
    from segstudio.app.ray_cluster import plan_pool, ray_cluster
    from segstudio.app.ray_prediction import plan_ray_prediction, predict_on_ray
    from segstudio.core.labels import LabelSet
    from segstudio.models.checkpoints import CheckpointMeta, load_weights_file, save_checkpoint
    from segstudio.models.predictor import Predictor
    from segstudio.models.registry import ModelConfig, build_model

    sources = [p for split in ("val", "train") for p in sorted((SHARED_DATA / "camvid" / split).glob("*.png"))]
    if len(sources) < args.images:
        print(f"only {len(sources)} CamVid images under {SHARED_DATA / 'camvid'}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-ray-") as folder:
        root = Path(folder)
        images = root / "images"
        images.mkdir()
        for path in sources[: args.images]:
            shutil.copyfile(path, images / f"{path.parent.name}-{path.name}")
        paths = sorted(images.iterdir())
        labels = LabelSet.camvid()
        torch.manual_seed(0)
        config = ModelConfig("unet", labels.num_classes, 3, "classic", {"base_channels": args.base_channels})
        model = root / "unet.safetensors"
        save_checkpoint(model, build_model(config), CheckpointMeta(config, labels))

        started = time.perf_counter()
        loaded = load_weights_file(model, device="cpu")
        local = predict_folder(Predictor.from_checkpoint(loaded), paths, root / "local", loaded.meta.labels)
        local_s = time.perf_counter() - started
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # what one Ray worker has: the yardstick for Ray's overhead
        started = time.perf_counter()
        predict_folder(Predictor.from_checkpoint(loaded), paths, root / "local-1", loaded.meta.labels)
        one_thread_s = time.perf_counter() - started
        torch.set_num_threads(threads)

        started = time.perf_counter()
        with ray_cluster(None, {"num_cpus": os.cpu_count() or 2,
                                "object_store_memory": args.object_store_mb * 1024 * 1024}) as cluster:
            startup_s = time.perf_counter() - started
            pool = plan_pool(cluster.resources, workers=args.workers)
            started = time.perf_counter()
            plan = plan_ray_prediction(model, paths, root / "ray")
            on_ray = predict_on_ray(cluster, pool, plan)
            ray_s = time.perf_counter() - started
        total_ray_s = startup_s + ray_s
        different = [k for k, path in local.written.items() if path.read_bytes() != on_ray.written[k].read_bytes()]

    count = len(paths)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine skews all figures); "
          f"torch {torch.__version__}")
    print(f"model: U-Net base_channels={args.base_channels} (random weights), {count} CamVid images 480x360")
    print(f"local predictor:            {local_s:7.1f} s  {count / local_s:6.2f} images/s  ({threads} torch threads, "
          "as `segstudio predict`)")
    print(f"local predictor, 1 thread:  {one_thread_s:7.1f} s  {count / one_thread_s:6.2f} images/s  (one Ray worker's share)")
    print(f"ray, {pool.workers} workers (1 CPU each): {ray_s:7.1f} s  {count / ray_s:6.2f} images/s  "
          f"(actors' start and model load included)")
    print(f"ray start-up (ray.init):    {startup_s:7.1f} s")
    print(f"ray incl. start-up:         {total_ray_s:7.1f} s  {count / total_ray_s:6.2f} images/s")
    print(f"ray time / local time:      {ray_s / local_s:.2f} without start-up, {total_ray_s / local_s:.2f} with it")
    ideal = count / one_thread_s * pool.workers
    print(f"ray's overhead:             {1 - count / ray_s / ideal:.0%} below {pool.workers} x the 1-thread local rate "
          f"({ideal:.2f} images/s, what {pool.workers} free CPUs would give) without start-up, "
          f"{1 - count / total_ray_s / ideal:.0%} with it")
    print(f"masks: {len(local.written)} written locally, {len(on_ray.written)} on Ray; "
          + ("all byte-identical" if not different and len(local.written) == len(on_ray.written)
             else f"{len(different)} DIFFER"))
    return 0 if not different else 1


if __name__ == "__main__":
    sys.exit(main())
