"""A long hostile run (issue 14): the machinery the hardening tests use, at larger scale and with random seeds, for
a while; then a table of counts.

    python bench/bench_hostile_run.py [--minutes 5 | --rounds N] [--seed S] [--kills-per-round 2] [--mutants 24]

Each round (seeded from ``--seed`` and the round's number):

* **bad inputs**: tests/bad_inputs.py's corpus plus random mutants of real image and mask files (cut at a random
  byte, random bytes flipped, noise spliced in) through ``predict`` (the whole folder at once), ``scan --check``,
  the window's load job (``load_sample``) on every sample, and ``evaluate`` and ``convert`` on each bad mask. A
  traceback, an unexpected exception or exit 70 is a crash; a file that cannot be used must be named in the output
  (an "error exit naming the file") and nothing written for it.
* **fuzzed project and label files**: the hypothesis fuzzes of tests/io/test_project_file_fuzz.py and
  test_label_file_fuzz.py, rerun with this round's seed; every document is read or refused naming the file.
* **kills**: the real window (offscreen, its own process) painting, saving and autosaving, SIGKILLed at a random
  moment; alternately tests/ui/test_window_kills.py's window (saves and autosaves waited for) and
  tests/ui/test_save_autosave_race.py's (both on workers, random delays in every writer). After each kill every
  file must read back and a restart must offer every stroke made durable.
* **save vs autosave race** (every other round): the in-window race test run with this round's seed (pytest in a
  subprocess), whose printed counts are added up.

Real CamVid images for the window (``../shared/data`` or ``$SEGSTUDIO_SHARED_DATA``, copied, never written);
everything else is generated in a temporary folder. Exit status 1 when any crash, corrupt file or lost stroke was
counted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from segstudio.app.sample_loader import load_sample  # noqa: E402
from segstudio.cli import main as cli_main  # noqa: E402
from segstudio.core.errors import FileProblem  # noqa: E402
from segstudio.io.datasets import open_dataset  # noqa: E402
from segstudio.io.demo_dataset import DEMO_LABELS  # noqa: E402
from tests.bad_inputs import CORPUS, MASK_CORPUS, BadInput  # noqa: E402

SHARED_DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
CAMVID_NAMES = ("0016E5_07959", "0016E5_07961", "0016E5_07963")
EXIT_CRASH = 70


class Tally:
    """The counts the table shows, and the first few problems in words."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []

    def problem(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        if len(self.problems) < 30:
            self.problems.append(f"{kind}: {detail}")


# -- bad inputs ---------------------------------------------------------------------------------------------------


def _photo(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)


def _mask() -> np.ndarray:
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20] = 1
    mask[25:30, 5:40] = 2
    return mask


def _encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def mutant(data: bytes, rng: random.Random) -> bytes:
    """A random corruption of a real file: cut short, bytes flipped, or noise spliced in (the header stays in
    reach, so readers get past the signature)."""
    how = rng.choice(("cut", "flip", "splice"))
    if how == "cut":
        return data[: rng.randrange(0, len(data))]
    buffer = bytearray(data)
    if how == "flip":
        for _ in range(rng.randint(1, 12)):
            buffer[rng.randrange(8, len(buffer))] ^= rng.randrange(1, 256)
        return bytes(buffer)
    at = rng.randrange(8, len(buffer))
    return bytes(buffer[:at]) + rng.randbytes(rng.randint(1, 64)) + bytes(buffer[at + rng.randint(0, 64):])


def run_command(argv: list[str]) -> tuple[int, str]:
    """One command in this process, its stdout and stderr together."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exit_:  # argparse
            code = exit_.code if isinstance(exit_.code, int) else 2
        except BaseException:  # noqa: BLE001 - counted as a crash below
            code = EXIT_CRASH
            traceback.print_exc()
    return code, out.getvalue() + err.getvalue()


def _crashed(code: int, text: str) -> bool:
    return code == EXIT_CRASH or "Traceback" in text


def bad_input_round(base: Path, model: Path, rng: random.Random, tally: Tally, mutants: int) -> None:
    """The corpus and ``mutants`` random mutants of images, then of masks, through every command."""
    nrng = np.random.default_rng(rng.randrange(2**32))
    root = base / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray(_photo(nrng)).save(root / "images" / "good.png")
    Image.fromarray(_mask()).save(root / "masks" / "good.png")
    inputs: list[BadInput] = list(CORPUS)
    formats = {".png": "PNG", ".jpg": "JPEG", ".tif": "TIFF"}
    for number in range(mutants):
        suffix = rng.choice(tuple(formats))
        data = mutant(_encoded(_photo(nrng), formats[suffix]), rng)
        inputs.append(BadInput(f"mutant{number}{suffix}", lambda p, data=data: p.write_bytes(data), refused=False))
    # One folder for all: predict refuses two files of one stem (empty.png, empty.jpg), so each gets its number.
    inputs = [BadInput(f"{Path(bad.name).stem}-{number}{Path(bad.name).suffix}", bad.write, bad.refused)
              for number, bad in enumerate(inputs)]
    for bad in inputs:
        bad.write(root / "images" / bad.name)
        Image.fromarray(_mask()).save(root / "masks" / f"{Path(bad.name).stem}.png")
        tally.counts["inputs tried"] += 1

    # predict: the whole folder in one run; every file is predicted or named.
    out = base / "predicted"
    code, text = run_command(["predict", "--model", str(model), "--images", str(root / "images"), "--out", str(out)])
    tally.counts["command runs"] += 1
    if _crashed(code, text):
        tally.problem("crashes", f"predict: {text[-500:]}")
    written = {p.stem for p in out.iterdir()} if out.is_dir() else set()
    if "good" not in written:
        tally.problem("crashes", f"predict did not write the good image: {text[-300:]}")
    for bad in inputs:
        stem = Path(bad.name).stem
        if stem in written:
            if bad.refused:
                tally.problem("refused files written", f"predict wrote {bad.name}")
        elif bad.name in text:
            tally.counts["error exits naming the file"] += 1
        elif stem != "good":
            tally.problem("unnamed refusals", f"predict left out {bad.name} without naming it")

    # scan --check reads every header; it must say what it cannot read, never crash.
    code, text = run_command(["scan", "--check", str(root)])
    tally.counts["command runs"] += 1
    if _crashed(code, text):
        tally.problem("crashes", f"scan: {text[-500:]}")

    # the window's load job on every sample: loads, or a FileProblem naming the image or its mask.
    try:
        dataset = open_dataset(root)
    except FileProblem as problem:
        tally.problem("crashes", f"the folder did not open: {problem}")
        return
    refused = {bad.name for bad in inputs if bad.refused}
    for sample in dataset.samples:
        tally.counts["window loads"] += 1
        image = Path(sample.image)
        try:
            load_sample(dataset, sample)
        except FileProblem as problem:
            if Path(problem.path).name in (image.name, f"{image.stem}.png") and problem.problem:
                tally.counts["error exits naming the file"] += 1
            else:
                tally.problem("unnamed refusals", f"load of {sample.key} named {problem.path}")
        except Exception as error:  # noqa: BLE001 - any other exception is what this run looks for
            tally.problem("crashes", f"load of {sample.key}: {type(error).__name__}: {error}")
        else:
            if image.name in refused:
                tally.problem("refused files read", f"the window opened {image.name}")

    # evaluate and convert on each bad mask, on the ground-truth or the prediction side.
    masks: list[BadInput] = list(MASK_CORPUS)
    for number in range(mutants):
        data = mutant(_encoded(_mask(), "PNG"), rng)
        masks.append(BadInput(f"mask-mutant{number}.png", lambda p, data=data: p.write_bytes(data), refused=False))
    for number, bad in enumerate(masks):
        tally.counts["inputs tried"] += 1
        gt, pred = base / f"gt{number}", base / f"pred{number}"
        for folder in (gt, pred):
            folder.mkdir()
            Image.fromarray(_mask()).save(folder / "good.png")
            Image.fromarray(_mask()).save(folder / bad.name)
        bad.write((gt if rng.random() < 0.5 else pred) / bad.name)
        scores = base / f"scores{number}.json"
        code, text = run_command(["evaluate", "--gt", str(gt), "--pred", str(pred), "--num-classes", "3",
                                  "--json", str(scores)])
        tally.counts["command runs"] += 1
        if _crashed(code, text):
            tally.problem("crashes", f"evaluate {bad.name}: {text[-500:]}")
        elif code != 0:
            if bad.name in text:
                tally.counts["error exits naming the file"] += 1
            else:
                tally.problem("unnamed refusals", f"evaluate refused {bad.name} without naming it: {text[-200:]}")
            if scores.exists():
                tally.problem("refused files written", f"evaluate wrote {scores.name} after refusing {bad.name}")
        elif bad.refused:
            tally.problem("refused files read", f"evaluate scored {bad.name}")
        convert_root = base / f"convert{number}"
        (convert_root / "masks").mkdir(parents=True)
        shutil.copy(gt / "good.png", convert_root / "masks" / "good.png")
        bad.write(convert_root / "masks" / bad.name)
        code, text = run_command(["convert", "--from", "png", "--to", "coco", str(convert_root),
                                  str(base / f"converted{number}")])
        tally.counts["command runs"] += 1
        if _crashed(code, text):
            tally.problem("crashes", f"convert {bad.name}: {text[-500:]}")
        elif code != 0 and bad.name in text:
            tally.counts["error exits naming the file"] += 1


# -- fuzzed project and label files -------------------------------------------------------------------------------


def fuzz_round(base: Path, seed: int, tally: Tally) -> None:
    """The project-file and label-file fuzzes of the test suite (their own numbers of examples), rerun with
    ``seed``; every document read is counted."""
    from hypothesis import seed as hypothesis_seed

    import tests.io.test_label_file_fuzz as label_fuzz
    import tests.io.test_project_file_fuzz as project_fuzz

    def counted(module, name: str):  # noqa: ANN001, ANN202 - the fuzz's own check, counting what it reads
        real = getattr(module, name)

        def check(path: Path) -> None:
            tally.counts["fuzzed files read"] += 1
            real(path)

        return check

    fuzzes = [
        (project_fuzz, "_check", project_fuzz.test_any_value_anywhere_reads_as_a_data_set_inside_the_folder_or_a_named_problem),
        (project_fuzz, "_check", project_fuzz.test_any_text_or_bytes_is_refused_by_name),
        (label_fuzz, "_read", label_fuzz.test_any_value_anywhere_in_a_label_file_is_read_or_refused_by_name),
        (label_fuzz, "_read", label_fuzz.test_any_text_as_a_label_file_is_read_or_refused_by_name),
    ]
    for number, (module, name, test) in enumerate(fuzzes):
        folder = base / f"fuzz{number}"
        folder.mkdir(parents=True)
        real = getattr(module, name)
        setattr(module, name, counted(module, name))
        try:
            # The tests carry their own settings (200-300 examples each); the seed is what changes per round.
            hypothesis_seed(seed)(test)(tmp_path=folder)
        except Exception as error:  # noqa: BLE001 - a failing example: a crash, or a file not named
            tally.problem("crashes", f"{test.__name__}: {type(error).__name__}: {str(error)[:300]}")
        finally:
            setattr(module, name, real)


# -- kills and races ----------------------------------------------------------------------------------------------


def camvid_copy(folder: Path) -> Path:
    source = SHARED_DATA / "camvid"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for name in CAMVID_NAMES:
        shutil.copy(source / "val" / f"{name}.png", folder / "images" / f"{name}.png")
        shutil.copy(source / "valannot" / f"{name}.png", folder / "masks" / f"{name}.png")
    return folder


def kill_round(base: Path, rng: random.Random, tally: Tally, kills: int) -> None:
    from tests.ui.test_save_autosave_race import RACE_PROCESS, RaceCounts, check_killed_run
    from tests.ui.test_window_kills import WINDOW_PROCESS, _run_and_kill

    for number in range(kills):
        racing = rng.random() < 0.5
        folder = camvid_copy(base / f"kill{number}")  # camvid_copy makes the folders
        counts = RaceCounts()
        try:
            lines = _run_and_kill(folder, base / f"user{number}", seed=rng.randrange(10**6),
                                  wait_s=rng.uniform(0.0, 2.5), script=RACE_PROCESS if racing else WINDOW_PROCESS)
        except AssertionError as error:  # the window made nothing durable in 120 s (it died, or hung)
            tally.problem("crashes", f"window {'race' if racing else 'kill'} process: {error}")
            continue
        tally.counts["faults injected (SIGKILLs)"] += 1
        tally.counts["strokes painted before kills"] += sum(line.startswith("stroke") for line in lines)
        try:
            check_killed_run(folder, lines, counts)
        except AssertionError as error:
            if not counts.corrupt_files and not counts.strokes_lost:
                tally.problem("crashes", f"kill check: {error}")
            else:
                tally.problems.append(f"kill: {error}")
        tally.counts["files read back after kills"] += counts.files_checked
        tally.counts["files corrupted"] += counts.corrupt_files
        tally.counts["interrupted autosaves flagged"] += counts.interrupted
        tally.counts["strokes lost beyond the autosave interval"] += counts.strokes_lost


RACE_LINE = re.compile(r"save/autosave race: (\d+) iterations, (\d+) saves, (\d+) autosaves, (\d+) delays injected, "
                       r"(\d+) files read back, (\d+) corrupt, (\d+) recoveries, (\d+) strokes lost")


def race_round(seed: int, tally: Tally) -> None:
    """The in-window race test with another seed, in pytest (it needs pytest-qt), its printed counts added up."""
    environment = dict(os.environ, SEGSTUDIO_RACE_SEED=str(seed), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         "tests/ui/test_save_autosave_race.py::test_save_racing_autosave_at_random_moments_corrupts_nothing_and_loses_no_stroke"],
        capture_output=True, text=True, env=environment, cwd=REPO, timeout=600,
    )
    found = RACE_LINE.search(result.stdout)
    if found is None:
        failure = [line for line in result.stdout.splitlines() if line.startswith("E ")][:6]
        if "corrupt" in result.stdout or "work lost" in result.stdout or "older work" in result.stdout:
            tally.problem("strokes lost beyond the autosave interval", f"race seed {seed}: {failure}")
        else:
            tally.problem("crashes", f"race seed {seed}: {failure or result.stdout[-500:]}")
        return
    iterations, saves, autosaves, delays, files, corrupt, _recoveries, lost = map(int, found.groups())
    tally.counts["race iterations"] += iterations
    tally.counts["race saves and autosaves"] += saves + autosaves
    tally.counts["faults injected (writer delays)"] += delays
    tally.counts["files read back after races"] += files
    tally.counts["files corrupted"] += corrupt
    tally.counts["strokes lost beyond the autosave interval"] += lost


# -- the run ------------------------------------------------------------------------------------------------------


def tiny_model(folder: Path) -> Path:
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    path = folder / "tiny.safetensors"
    config = ModelConfig("unet", DEMO_LABELS.num_classes, 3, "classic", {"base_channels": 4})
    save_checkpoint(path, build_model(config), CheckpointMeta(config, DEMO_LABELS))
    return path


ROWS = (
    "rounds", "inputs tried", "command runs", "window loads", "fuzzed files read", "faults injected (SIGKILLs)",
    "strokes painted before kills", "files read back after kills", "interrupted autosaves flagged", "race iterations", "race saves and autosaves",
    "faults injected (writer delays)", "files read back after races", "error exits naming the file",
    "crashes", "unnamed refusals", "refused files read", "refused files written", "files corrupted",
    "strokes lost beyond the autosave interval",
)
MUST_BE_ZERO = ("crashes", "unnamed refusals", "refused files read", "refused files written", "files corrupted",
                "strokes lost beyond the autosave interval")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="run this long (default 5)")
    parser.add_argument("--rounds", type=int, help="run this many rounds instead")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="the run's seed (default: the time)")
    parser.add_argument("--kills-per-round", type=int, default=2)
    parser.add_argument("--mutants", type=int, default=24, help="random mutant images and masks per round")
    args = parser.parse_args()
    if not (SHARED_DATA / "camvid" / "val").is_dir():
        print(f"CamVid not found under {SHARED_DATA}; set SEGSTUDIO_SHARED_DATA", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)  # tiny tensors; the kills' windows want the cores
    tally = Tally()
    started = time.monotonic()
    deadline = started + args.minutes * 60
    print(f"seed {args.seed}; " + (f"{args.rounds} rounds" if args.rounds else f"{args.minutes:g} minutes"), flush=True)
    with tempfile.TemporaryDirectory(prefix="segstudio-hostile-") as scratch:
        model = tiny_model(Path(scratch))
        round_number = 0
        while (round_number < args.rounds) if args.rounds else (time.monotonic() < deadline):
            seed = args.seed * 1000 + round_number
            rng = random.Random(seed)
            base = Path(scratch) / f"round{round_number}"
            base.mkdir()
            os.environ["SEGSTUDIO_DATA_DIR"] = str(base / "user-data")  # project files of the commands go here
            bad_input_round(base / "inputs", model, rng, tally, args.mutants)
            fuzz_round(base / "fuzz", seed, tally)
            kill_round(base / "kills", rng, tally, args.kills_per_round)
            if round_number % 2 == 0:
                race_round(seed, tally)
            shutil.rmtree(base, ignore_errors=True)
            round_number += 1
            tally.counts["rounds"] = round_number
            print(f"round {round_number} done at {time.monotonic() - started:.0f} s: "
                  + ", ".join(f"{row} {tally.counts[row]}" for row in ("inputs tried", "faults injected (SIGKILLs)",
                                                                        "crashes", "files corrupted")), flush=True)
    elapsed = time.monotonic() - started
    print(f"\nhostile run: seed {args.seed}, {elapsed / 60:.1f} minutes, {tally.counts['rounds']} rounds\n")
    width = max(map(len, ROWS))
    print(f"| {'count':<{width}} | {'value':>7} |\n|{'-' * (width + 2)}|{'-' * 9}|")
    for row in ROWS:
        flag = "  <- must be 0" if row in MUST_BE_ZERO and tally.counts[row] else ""
        print(f"| {row:<{width}} | {tally.counts[row]:>7} |{flag}")
    for problem in tally.problems:
        print(f"  {problem}")
    return 1 if any(tally.counts[row] for row in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
