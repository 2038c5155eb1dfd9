"""Model commands of the command line: ``segstudio models``, ``segstudio train``, ``segstudio predict``.

torch is imported inside the commands, so ``segstudio --help`` and the other commands stay light.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segstudio.cli.engine_options import add_engine_options, describe_cluster, plan_workers, uses_ray

if TYPE_CHECKING:
    from segstudio.core.progress import Progress
    from segstudio.models.training import EpochRecord


def add_model_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = commands.add_parser("models", help="list the architectures and encoders segstudio can build")
    models.set_defaults(command=_run_models, command_name="models")

    train = commands.add_parser(
        "train",
        help="train or fine-tune a segmentation model on a dataset folder",
        description="Train (or fine-tune, with --init) a model on a dataset folder as `segstudio scan` reads it. "
        "The best checkpoint by validation mean IoU (instance models: by validation mask AP@0.5) is kept in --out. <out>.resume.pt, written after every epoch, "
        "lets --resume continue a run that was interrupted, failed or ran out of --max-minutes; a run that "
        "completes all its epochs removes it (--keep-resume keeps it, to add epochs later). "
        "Several processes (GPUs, machines): torchrun --nproc_per_node N -m segstudio train ... trains with "
        "DistributedDataParallel (NCCL on GPUs, gloo on the CPU); --batch-size stays the crops per step over all "
        "processes, the main process reports and writes --out, and every process must see the same --data and --out "
        "paths (a shared folder across machines).",
    )
    train.add_argument("--data", type=Path, required=True, metavar="DIR", help="dataset folder")
    train.add_argument("--arch", required=True, metavar="NAME", help="architecture (see `segstudio models`)")
    train.add_argument("--encoder", metavar="NAME", help="encoder (default: the architecture's first)")
    train.add_argument("--epochs", type=int, default=50, metavar="N", help="epochs (default 50)")
    train.add_argument("--size", type=int, default=256, metavar="PX", help="training crop size in pixels (default 256)")
    train.add_argument("--batch-size", type=int, default=4, metavar="N", help="crops per step, over all processes under torchrun (default 4)")
    train.add_argument("--samples-per-epoch", type=int, metavar="N", help="crops per epoch (default: one per image)")
    train.add_argument("--loader-workers", type=int, default=0, metavar="N",
                       help="processes reading and augmenting crops for each training process (default 0: the training "
                       "process itself); a crop depends only on the seed and its place, so N never changes the model")
    train.add_argument("--lr", type=float, metavar="RATE", help="learning rate (default 1e-3; 5e-3 for Mask R-CNN)")
    train.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="architecture option, e.g. upsampling=bilinear (repeatable)")
    train.add_argument("--init", type=Path, metavar="FILE", help="weights to fine-tune from: a segstudio checkpoint, torchvision or smp weights")
    train.add_argument("--val-split", metavar="NAME", help="dataset split to validate on (default: val/test if present, else a random 20%%)")
    train.add_argument("--max-minutes", type=float, metavar="MIN", help="stop after this long, keeping the best model so far")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0): the same seed gives the same model")
    train.add_argument("--device", metavar="DEVICE", help="cpu, cuda, cuda:1 ... (default: CUDA when present; under torchrun each process takes the GPU of its local rank)")
    train.add_argument("--resume", action="store_true", help="continue the run that writes --out from its resume state")
    train.add_argument("--keep-resume", action="store_true",
                       help="keep <out>.resume.pt after a run that completes all its epochs (to continue it with more --epochs)")
    train.add_argument("--out", type=Path, required=True, metavar="FILE", help="checkpoint to write (.safetensors)")
    train.set_defaults(command=_run_train, command_name="train")

    predict = commands.add_parser(
        "predict",
        help="predict masks for a folder of images with a checkpoint",
        description="Predict every image in a folder and write palette PNG masks (<image stem>.png) that "
        "`segstudio evaluate` and the app read.",
    )
    predict.add_argument(
        "--model", type=Path, required=True, metavar="FILE",
        help="a segstudio checkpoint (.safetensors), or torchvision's official Mask R-CNN / FCN-ResNet50 weights file",
    )
    predict.add_argument("--images", type=Path, required=True, metavar="DIR",
                         help="folder of images; with --engine ray also a text file listing image paths, one a line "
                         "(relative to the file's folder; blank lines and lines starting with # are left out)")
    predict.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the predicted masks")
    predict.add_argument("--tile", type=tile_size, metavar="PX",
                         help=f"predict in overlapping tiles of this size, {MIN_TILE}..{MAX_TILE} px (large images)")
    predict.add_argument("--device", metavar="DEVICE", help="cpu, cuda ... (default: CUDA when present; with --engine "
                         "ray: a GPU per worker when the cluster has GPUs)")
    ray_options = add_engine_options(
        predict, shared_files="the --images files and the --out folder",
        note="; --model is read here only, the workers get its bytes through Ray's object store",
    )
    ray_options.add_argument("--overwrite", action="store_true",
                         help="with --engine ray: predict every image again; by default a run is resumable, the "
                         "masks already in --out are kept and their images skipped (masks are written atomically, "
                         "so one that exists is complete)")
    predict.set_defaults(command=_run_predict, command_name="predict")


MIN_TILE = 32  # the deepest networks here shrink their input 32 times (FCN-32s, the ResNet and VGG encoders)
MAX_TILE = 16384  # beyond any window worth holding at once; a tile larger than the image is the whole image


def tile_size(text: str) -> int:
    """``--tile``'s value, a whole number of pixels in ``MIN_TILE..MAX_TILE``; argparse reports the words as a
    usage error (``--tile 0`` used to mean "no tiles", ``--tile 1`` ran one window per pixel for minutes)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not MIN_TILE <= value <= MAX_TILE:
        shown = f"{text!r} is not a whole number" if value is None else f"{value} px is outside the range"
        raise argparse.ArgumentTypeError(
            f"{shown}: tiles are {MIN_TILE}..{MAX_TILE} px (the deepest networks here shrink their input "
            f"{MIN_TILE} times); leave --tile out to predict whole images")
    return value


def check_device(text: str) -> str:
    """``--device`` when this machine can run on it; else a usage error that names the device, why not, and the
    devices there are (``--device cuda`` without a GPU used to end in torch's traceback)."""
    import torch

    available = _available_devices()
    there = f"available devices: {', '.join(available)}"
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {text!r} is not a device name; {there}") from None
    if device.type == "cpu":
        return text
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {text}: no CUDA GPU is available on this machine; {there}")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"--device {text}: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}; {there}")
        return text
    if text in available:
        return text
    raise ValueError(f"--device {text}: segstudio cannot run on {device.type!r} devices here; {there}")


def _available_devices() -> list[str]:
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        devices.extend(["cuda", *(f"cuda:{index}" for index in range(count))] if count > 1 else ["cuda"])
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


# -- models -------------------------------------------------------------------------------------------------


def _run_models(args: argparse.Namespace) -> int:
    from segstudio.models.registry import architectures

    for name, architecture in sorted(architectures().items()):
        print(f"{name}  ({architecture.task.value})")
        print(f"    {architecture.summary}")
        print(f"    encoders: {', '.join(architecture.encoders)} (default {architecture.encoders[0]})")
        for option, meaning in sorted(architecture.options.items()):
            print(f"    --option {option}=...  {meaning}")
    return 0


# -- train --------------------------------------------------------------------------------------------------


def _run_train(args: argparse.Namespace) -> int:
    from segstudio.app.training import train
    from segstudio.models.training import StopReason, TrainingConfig
    from segstudio.models.training.distributed import Ranks

    if args.out.suffix != ".safetensors":
        raise ValueError(f"--out {args.out}: checkpoints are written as .safetensors files")
    if args.device:
        check_device(args.device)
    if args.loader_workers < 0:
        raise ValueError(f"--loader-workers {args.loader_workers}: 0 (the training process reads its crops) or more")
    config = TrainingConfig(
        architecture=args.arch,
        encoder=args.encoder,
        options=parse_options(args.option),
        epochs=args.epochs,
        batch_size=args.batch_size,
        crop_size=args.size,
        samples_per_epoch=args.samples_per_epoch,
        num_workers=args.loader_workers,
        learning_rate=args.lr,
        val_split=args.val_split,
        seed=args.seed,
        initial_weights=None if args.init is None else str(args.init),
        device=args.device,
        max_seconds=None if args.max_minutes is None else args.max_minutes * 60.0,
        keep_resume_state=args.keep_resume,
    )
    ranks = Ranks.from_environment()  # under torchrun: this process's place among the run's processes
    bar = _ProgressBar()
    started = time.time()
    try:
        result = train(args.data, config, args.out, progress=bar, resume=args.resume, ranks=ranks)
    except BaseException as error:  # Ctrl+C included: say what is left to continue from, then let it end the run
        bar.close()
        if ranks.main:
            _say_resume_state_kept(args, started, error)
        raise
    finally:
        bar.close()
    if not ranks.main:  # the main process reports the run
        return 0
    if ranks.distributed:
        print(f"trained by {ranks.world_size} processes (torchrun), {config.batch_size} crops per step in all")
    for note in result.notes:
        print(f"note: {note}")
    for record in result.history:
        print(f"epoch {record.epoch:>3}: loss {record.train_loss:.4f}, {_validation_figures(record)} ({record.seconds:.0f} s)")
    best = result.best_record
    figures = "no epoch validated" if best is None else f"(by val {best.score_name}): {_validation_figures(best, '')}"
    print(f"stopped: {result.stop_reason.value} after {result.seconds:.0f} s; best epoch {result.best_epoch} {figures}")
    if result.best_epoch is not None:
        print(f"checkpoint: {result.checkpoint} ({_megabytes(result.checkpoint)})")
    else:
        print(f"no checkpoint written: no epoch finished before the run stopped (wanted at {result.checkpoint})")
    if result.resume_state_kept:
        print(f"resume state: {result.resume_state} ({_megabytes(result.resume_state)})")
        print("  to continue this run: the same command with --resume (raise --epochs or --max-minutes to train longer)")
    elif result.stop_reason is StopReason.COMPLETED:
        print("resume state removed: the run completed all its epochs (--keep-resume keeps it)")
    return 0


def _validation_figures(record: EpochRecord, prefix: str = "val ") -> str:
    """An epoch's validation figures: an instance model's mask AP first (it chose the best epoch), then class ones."""
    from segstudio.models.training import MASK_AP50

    if record.score_key == MASK_AP50:
        return (f"{prefix}mask AP@0.5 {_fmt(record.mask_ap50)}, mask AP@[.5:.95] {_fmt(record.mask_ap)}, "
                f"class mean IoU {_fmt(record.mean_iou)}")
    return (f"{prefix}mean IoU {_fmt(record.mean_iou)}, mean Dice {_fmt(record.mean_dice)}, "
            f"pixel accuracy {_fmt(record.pixel_accuracy)}")


def _say_resume_state_kept(args: argparse.Namespace, started: float, error: BaseException) -> None:
    """On stderr, where the resume state of a run that ended early is, when this run wrote it or was resuming
    from it (a stale file from an older run, or a resume refused for its settings, is not offered)."""
    from segstudio.models.training import resume_state_path

    path = resume_state_path(args.out)
    try:
        written_now = path.stat().st_mtime >= started - 1.0
    except OSError:
        return
    if written_now or (args.resume and not isinstance(error, ValueError)):
        print(
            f"the resume state of the last finished epoch is kept: {path} ({_megabytes(path)}); "
            "to continue: the same command with --resume",
            file=sys.stderr,
        )


def _megabytes(path: Path) -> str:
    try:
        return f"{path.stat().st_size / 1e6:.1f} MB"
    except OSError:
        return "size unknown"


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["upsampling=bilinear", "bins=[1,2,3,6]", "aux=false"]`` -> options; values are JSON where they parse."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {pair!r} must look like KEY=VALUE")
        try:
            options[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            options[key.strip()] = text
    return options


# -- predict ------------------------------------------------------------------------------------------------


def _run_predict(args: argparse.Namespace) -> int:
    from segstudio.core.errors import FileProblem
    from segstudio.io.folder_listing import SkippedEntry, image_files
    from segstudio.models.checkpoints import load_weights_file
    from segstudio.app.prediction import predict_folder
    from segstudio.models.predictor import Predictor

    ray = uses_ray(args)
    if ray and args.images.is_file():  # a list of images, which may come from many folders
        from segstudio.app.ray_prediction import read_image_list

        return _run_predict_on_ray(args, read_image_list(args.images))
    if not args.images.is_dir():
        raise FileProblem(args.images, "image folder does not exist" if not args.images.exists() else "is not a folder")
    if args.device and not ray:  # on Ray, the cluster's devices count, not this machine's
        check_device(args.device)
    unlisted: list[SkippedEntry] = []  # names that cannot be looked at (a symbolic link loop...): said, not fatal
    paths = [args.images / name for name in image_files(args.images, unlisted)]
    for entry in unlisted:
        print(f"note: {entry}", file=sys.stderr)
    if not paths:
        raise FileProblem(args.images, "holds no images (.png, .jpg, .tif, ...)")
    if ray:
        return _run_predict_on_ray(args, paths)
    loaded = load_weights_file(args.model, device=args.device or _default_device())
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    overrides: dict[str, Any] = {"device": args.device} if args.device else {}
    if args.tile is not None:
        overrides["tile_size"] = args.tile
    predictor = Predictor.from_checkpoint(loaded, **overrides)
    bar = _ProgressBar()
    try:
        result = predict_folder(predictor, paths, args.out, loaded.meta.labels, progress=bar)
    finally:
        bar.close()
    for skipped in result.skipped.values():
        print(f"skipped {skipped}", file=sys.stderr)
    print(f"wrote {len(result.written)} masks to {args.out}" + (f"; {len(result.skipped)} images skipped" if result.skipped else ""))
    return 0 if not result.skipped else 1


def _run_predict_on_ray(args: argparse.Namespace, paths: list[Path]) -> int:
    """``predict --engine ray``: checked and planned here, the images predicted by a pool of model actors
    (:mod:`segstudio.app.ray_prediction`); said and exited as the local run, plus the masks kept from before."""
    from segstudio.app.ray_cluster import import_ray, ray_cluster
    from segstudio.app.ray_prediction import plan_ray_prediction, predict_on_ray

    import_ray()  # the one-line "pip install" error before the model is loaded
    plan = plan_ray_prediction(args.model, paths, args.out, tile=args.tile, overwrite=args.overwrite)
    if plan.kept:
        print(f"note: {len(plan.kept)} masks already in {args.out} are kept (--overwrite predicts them again)",
              file=sys.stderr)
    bar = _ProgressBar()
    try:
        if plan.jobs:
            with ray_cluster(args.address) as cluster:
                pool = plan_workers(cluster, args, model=True)
                print(describe_cluster(cluster, pool, model=True), file=sys.stderr)
                result = predict_on_ray(cluster, pool, plan, progress=bar)
        else:
            from segstudio.app.prediction import PredictedImages

            result = PredictedImages()
    finally:
        bar.close()
    for skipped in result.skipped.values():
        print(f"skipped {skipped}", file=sys.stderr)
    kept = f" ({len(plan.kept)} kept from before)" if plan.kept else ""
    print(f"wrote {len(result.written)} masks to {args.out}{kept}" + (f"; {len(result.skipped)} images skipped" if result.skipped else ""))
    return 0 if not result.skipped else 1


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# -- shared -------------------------------------------------------------------------------------------------


class _ProgressBar:
    """A tqdm bar per stage ("train", "validate", "predict folder" ...), on stderr."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._stage = ""

    def __call__(self, progress: Progress) -> None:
        from tqdm import tqdm

        if progress.stage != self._stage or self._bar is None or self._bar.total != progress.total:
            self.close()
            self._stage = progress.stage
            self._bar = tqdm(total=progress.total, desc=progress.stage, file=sys.stderr, leave=False, dynamic_ncols=True)
        self._bar.n = progress.done
        postfix = {k: f"{v:.4f}" for k, v in progress.metrics.items() if isinstance(v, float)}
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
