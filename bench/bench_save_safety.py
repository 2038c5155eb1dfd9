"""What the save's safety costs: the file-state check, the autosave clean-up and, for instance masks, carrying the
instance ids, each against a plain PNG write of the same mask in the same run.

Run: ``python bench/bench_save_safety.py`` (``--scale 4`` by default: a real CamVid annotation and a real Penn-Fudan
instance mask, each upscaled 4x with nearest neighbours, so about 1920x1440 and 1500-4000 px). Needs ../shared/data.

Prints, per case, the median of ``--repeats`` runs and the ratio to the baseline measured in the same run:

- class mask: ``save_correction`` (correction path checks, stat check, atomic write, autosave discard) against
  ``write_class_mask`` of the same mask to the same folder;
- instance mask: ``save_correction`` of an edited Penn-Fudan mask (carry ids, write the instance PNG) against
  ``write_class_mask`` of the same class mask;
- sniffing a checkpoint's format before loading it, against reading its first 16 bytes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.io.autosave import AutosaveStore  # noqa: E402
from segstudio.io.corrections import SavedWork, plan_instances, save_correction  # noqa: E402
from segstudio.io.datasets import open_dataset  # noqa: E402
from segstudio.io.file_state import FileState  # noqa: E402
from segstudio.io.mask_files import read_class_mask, read_instance_mask, write_class_mask  # noqa: E402

SHARED = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def upscaled(path_image: Path, path_mask: Path, root: Path, folder: str, mask_folder: str, name: str, scale: int) -> None:
    image = cv2.imread(str(path_image), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(path_mask), cv2.IMREAD_UNCHANGED)
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / mask_folder).mkdir(parents=True, exist_ok=True)
    size = (image.shape[1] * scale, image.shape[0] * scale)
    cv2.imwrite(str(root / folder / f"{name}.png"), cv2.resize(image, size, interpolation=cv2.INTER_NEAREST))
    cv2.imwrite(str(root / mask_folder / path_mask.name), cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if not (SHARED / "camvid").is_dir() or not (SHARED / "pennfudan").is_dir():
        print(f"needs CamVid and Penn-Fudan under {SHARED}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-save-"))
    try:
        camvid = work / "camvid"
        upscaled(SHARED / "camvid/val/0016E5_07959.png", SHARED / "camvid/valannot/0016E5_07959.png",
                 camvid, "images", "masks", "0016E5_07959", args.scale)
        penn = work / "penn"
        upscaled(SHARED / "pennfudan/PNGImages/FudanPed00006.png", SHARED / "pennfudan/PedMasks/FudanPed00006_mask.png",
                 penn, "PNGImages", "PedMasks", "FudanPed00006", args.scale)

        print(f"{'case':<44} {'median':>10} {'baseline':>10} {'ratio':>7}")
        for label, root in (("class mask (CamVid)", camvid), ("instance mask (Penn-Fudan)", penn)):
            dataset = open_dataset(root)
            sample = dataset.samples[0]
            labels = dataset.spec.labels
            truth_path = dataset.ground_truth(sample)
            assert truth_path is not None
            reference = read_instance_mask(truth_path) if label.startswith("instance") else None
            truth = reference.to_class_mask() if reference is not None else read_class_mask(truth_path, labels)
            mask = truth.copy()
            height, width = mask.shape
            mask[height // 3: height // 3 + 40, width // 4: width // 2] = 1  # an edit
            store = AutosaveStore.for_dataset(dataset)
            baseline_path = work / f"baseline-{root.name}.png"
            revision = [0]

            def save() -> None:
                revision[0] += 1
                store.save(sample.key, mask, revision=revision[0], labels=labels, session="bench")
                path = dataset.correction_path(sample)
                carry = plan_instances(dataset, sample, mask, labels, reference=reference)  # as the window does
                save_correction(dataset, sample, mask, labels, autosave=store, work=SavedWork("bench", revision[0]),
                                expected=FileState.of(path), carry=carry)

            def autosave_only() -> None:
                revision[0] += 1
                store.save(sample.key, mask, revision=revision[0], labels=labels, session="bench")

            plain = median_seconds(lambda: write_class_mask(baseline_path, mask, labels), args.repeats)
            saving = median_seconds(save, args.repeats) - median_seconds(autosave_only, args.repeats)
            print(f"{label + f' {width}x{height}':<44} {saving * 1e3:>8.1f}ms {plain * 1e3:>8.1f}ms {saving / plain:>7.2f}")

        from segstudio.models.checkpoints.files import _sniff  # the sniffer alone, private on purpose

        checkpoint = work / "weights.safetensors"
        import safetensors.numpy

        checkpoint.write_bytes(safetensors.numpy.save({"w": np.zeros((256, 256), np.float32)}, metadata={"m": "x" * 120}))

        def head() -> bytes:
            with checkpoint.open("rb") as stream:
                return stream.read(16)

        sniff = median_seconds(lambda: [_sniff(checkpoint) for _ in range(1000)], args.repeats) / 1000
        read = median_seconds(lambda: [head() for _ in range(1000)], args.repeats) / 1000
        print(f"{'sniff a checkpoint (format check)':<44} {sniff * 1e6:>8.1f}us {read * 1e6:>8.1f}us {sniff / read:>7.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
