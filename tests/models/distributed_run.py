"""One training process of a test run, started as ``torchrun ... tests/models/distributed_run.py SETTINGS.json`` (or by
plain ``python`` for the single-process reference): trains on a dataset folder with the settings in the JSON file
and, on the main process, writes what the run reported next to the checkpoint.

Settings: ``data``, ``out``, ``config`` (a :class:`TrainingConfig` mapping), ``resume`` (bool) and
``cancel_after`` (steps after which the main process cancels the run: the others must stop at the same step).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from segstudio.app.training import train
from segstudio.core.progress import Cancelled, CancelToken, Progress
from segstudio.models.training import TrainingConfig
from segstudio.models.training.distributed import Ranks


def main(settings_path: str) -> int:
    settings = json.loads(Path(settings_path).read_text())
    torch.set_num_threads(int(settings.get("threads", 1)))  # tests: two processes on a two-core machine
    ranks = Ranks.from_environment()
    config = TrainingConfig.from_mapping(settings["config"])
    cancel = CancelToken()
    steps: list[int] = []

    def progress(report: Progress) -> None:
        if report.stage == "train":
            steps.append(report.done)
            if settings.get("cancel_after") and len(steps) >= settings["cancel_after"]:
                cancel.cancel()

    outcome: dict[str, object] = {"world_size": ranks.world_size}
    try:
        result = train(settings["data"], config, settings["out"], progress=progress, cancel=cancel,
                       resume=bool(settings.get("resume")), ranks=ranks)
    except Cancelled:
        outcome["cancelled_at_step"] = len(steps)
    else:
        outcome.update(
            losses=[r.train_loss for r in result.history],
            mean_iou=[r.mean_iou for r in result.history],
            best_epoch=result.best_epoch,
            resume_state_kept=result.resume_state_kept,
            notes=list(result.notes),
            seconds=result.seconds,
            epoch_seconds=[r.seconds for r in result.history],
        )
    if ranks.main:
        outcome["progress_reports"] = len(steps)
        Path(settings["out"] + ".outcome.json").write_text(json.dumps(outcome))
    elif steps:
        raise AssertionError(f"rank {ranks.rank} reported progress")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
