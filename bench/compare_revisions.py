"""The bench/ figures of a baseline revision and of the current working tree, measured in one run (issue 9).

    python bench/compare_revisions.py                    # base 256ca5d, 2 rounds, all benchmarks
    python bench/compare_revisions.py --rounds 3 --only metrics --only paint
    python bench/compare_revisions.py --base HEAD~5 --xvfb   # GUI benchmarks under xvfb-run (real X server)

The baseline revision is checked out once as a detached ``git worktree`` outside the repository
(``/tmp/segstudio-base-<sha>`` unless ``--worktree``; reused when it is already there at that commit). For each
benchmark the baseline tree's own script and the current tree's script run alternately - base, current, base,
current ... for ``--rounds`` rounds - each as a subprocess of this same Python (``sys.executable``), in its tree's
root, with ``PYTHONPATH`` set to that tree so ``import segstudio`` resolves there and not to the venv's editable
install (checked before anything runs). "Current" is the working tree as it is now, committed or not.

Each script already measures its own baselines in its own process and prints ratios; this parses its headline
figures (the ratios and the milliseconds / seconds they come from) and prints one table: figure, baseline value,
current value (medians over the rounds), current/baseline, which direction is better, and every round's value.
Rows marked ``*`` are the figures issue 9 names. A script exiting 1 only means it printed a FAIL verdict; its
figures still count. A run that crashes, times out or prints none of the expected figures is reported as failed
with the tail of its output, and the other runs go on.

Raw outputs (stdout + stderr of every run), the table and a JSON of all values go to
``bench/out/compare/<timestamp>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CURRENT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "256ca5d"
NUMBER = r"([-+]?\d+(?:\.\d+)?)"


# -- parsing ------------------------------------------------------------------------------------------------------

def grab(pattern: str, text: str, group: int = 1) -> float | None:
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(group)) if match else None


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    better: str  # "lower", "higher", "~1" or "info"
    issue: bool = False  # a figure issue 9 names


@dataclass(frozen=True)
class Bench:
    name: str  # short name for --only
    script: str
    figures: tuple[Figure, ...]
    parse: Callable[[str], dict[str, float | None]]
    quick_args: tuple[str, ...] = ()


def parse_metrics(text: str) -> dict[str, float | None]:
    return {
        "count_nonzero(gt == pred) pass": grab(rf"baseline np\.count_nonzero\(gt == pred\)\s+{NUMBER} ms", text),
        "confusion matrix": grab(rf"confusion_matrix\(gt, pred, \d+, \d+\)\s+{NUMBER} ms", text),
        "confusion matrix / compare pass": grab(rf"confusion_matrix\(gt, pred, \d+, \d+\)\s+[\d.]+ ms\s+=\s*{NUMBER}x baseline", text),
        "incremental update, big image": grab(rf"^\s+update on (?!512x512)\d+x\d+\s+{NUMBER} us", text),
        "incremental update, 512x512": grab(rf"^\s+update on 512x512\s+{NUMBER} us", text),
        "full recount / update": grab(rf"=\s*{NUMBER}x the update", text),
        "update big / update 512": grab(rf"update on \d+x\d+ / on 512x512 = {NUMBER}", text),
        "tracker.scores() + mean IoU": grab(rf"tracker\.scores\(\) \+ mean IoU \[info\]\s+{NUMBER} us", text),
        "cores the count got": grab(rf"cores the count got .*?\[info\] {NUMBER} of", text),
    }


def parse_history(text: str) -> dict[str, float | None]:
    return {
        "time per step (stamp + document)": grab(rf"time per step: {NUMBER} ms", text),
        "document time per step": grab(rf"\+ document {NUMBER} ms", text),
        "document / copy of changed box": grab(rf"changed box once: [\d.]+ ms/step -> document time {NUMBER}x", text),
        "history held": grab(rf"^history: {NUMBER} MiB held", text),
        "undo all 1,000 steps": grab(rf"undo all: \d+ steps in {NUMBER} s", text),
        "redo all 1,000 steps": grab(rf"redo all: \d+ steps in {NUMBER} s", text),
    }


def parse_paint(text: str) -> dict[str, float | None]:
    return {
        "paint latency 1024^2": grab(rf"^segstudio 1024x1024: median {NUMBER} ms", text),
        "paint latency 8192^2": grab(rf"^segstudio 8192x8192: median {NUMBER} ms", text),
        "paint latency 8192^2 / 1024^2": grab(rf"segstudio ratio 8192/1024: {NUMBER}x", text),
    }


def parse_event_loop(text: str) -> dict[str, float | None]:
    return {
        "worker: longest gap idle": grab(rf"^baseline \(no job\):\s+longest\s+{NUMBER} ms", text),
        "worker: longest gap predicting": grab(rf"^prediction on worker:\s+longest\s+{NUMBER} ms", text),
        "worker: predicting / idle": grab(rf"longest gap while predicting .*ratio {NUMBER}x", text),
        "worker: p99 gap predicting": grab(rf"^prediction on worker:.*?p99\s+{NUMBER} ms", text),
        "worker: prediction time": grab(rf"tiles in {NUMBER} s", text),
    }


def parse_app_event_loop(text: str) -> dict[str, float | None]:
    figures: dict[str, float | None] = {
        "app: longest gap idle": grab(rf"^baseline \(no job\)\s+longest\s+{NUMBER} ms", text),
    }
    for case in ("cold", "warm"):
        figures[f"app: longest gap predicting ({case})"] = grab(rf"^prediction \({case}\)\s+longest\s+{NUMBER} ms", text)
        figures[f"app: predicting ({case}) / idle"] = grab(rf"{case} prediction in the app: .*ratio {NUMBER}x", text)
        figures[f"app: prediction time ({case})"] = grab(rf"^prediction \({case}\).*prediction took {NUMBER} s", text)
    return figures


def parse_open_folder(text: str) -> dict[str, float | None]:
    figures: dict[str, float | None] = {}
    cases = (("first open", r"^first open \(detect \+ write project file\):\s*$"), ("reopen", r"^reopen \(project file exists\):\s*$"))
    for label, header in cases:
        match = re.search(header, text, re.MULTILINE)
        block = text[match.end():] if match else ""
        verdict = re.search(r"^(PASS|FAIL):.*$", block, re.MULTILINE)  # the case's block ends with its verdict
        block = block[: verdict.end()] if verdict else block
        figures[f"open {label}: 10 images shown"] = grab(rf"^\s+10 images: .*shown \(repainted\)\s+{NUMBER} ms", block)
        figures[f"open {label}: 10,000 images shown"] = grab(rf"^\s+(?!10 )\d+ images: .*shown \(repainted\)\s+{NUMBER} ms", block)
        figures[f"open {label}: 10,000 images sample_loaded"] = grab(rf"^\s+(?!10 )\d+ images: .*sample_loaded\s+{NUMBER} ms", block)
        figures[f"open {label}: 10,000 / 10 images"] = grab(rf"^\s+ratio \d+/10: {NUMBER}x", block)
    return figures


def figures_of(parse: Callable[[str], dict[str, float | None]], spec: dict[str, tuple[str, str, bool]]) -> tuple[Figure, ...]:
    names = list(parse(""))
    assert set(names) == set(spec), (set(names) ^ set(spec))
    return tuple(Figure(name, *spec[name]) for name in names)


BENCHES: tuple[Bench, ...] = (
    Bench("metrics", "bench/bench_metrics.py", figures_of(parse_metrics, {
        "count_nonzero(gt == pred) pass": ("ms", "lower", True),
        "confusion matrix": ("ms", "lower", True),
        "confusion matrix / compare pass": ("x", "lower", True),
        "incremental update, big image": ("us", "lower", True),
        "incremental update, 512x512": ("us", "lower", False),
        "full recount / update": ("x", "higher", True),
        "update big / update 512": ("x", "~1", True),
        "tracker.scores() + mean IoU": ("us", "lower", False),
        "cores the count got": ("cores", "info", False),
    }), parse_metrics, quick_args=("--quick",)),
    Bench("history", "bench/bench_history.py", figures_of(parse_history, {
        "time per step (stamp + document)": ("ms", "lower", False),
        "document time per step": ("ms", "lower", False),
        "document / copy of changed box": ("x", "lower", False),
        "history held": ("MiB", "lower", False),
        "undo all 1,000 steps": ("s", "lower", False),
        "redo all 1,000 steps": ("s", "lower", False),
    }), parse_history, quick_args=("--size", "4096")),
    Bench("paint", "bench/bench_paint_latency.py", figures_of(parse_paint, {
        "paint latency 1024^2": ("ms", "lower", True),
        "paint latency 8192^2": ("ms", "lower", True),
        "paint latency 8192^2 / 1024^2": ("x", "lower", True),
    }), parse_paint),
    Bench("event_loop", "bench/bench_event_loop.py", figures_of(parse_event_loop, {
        "worker: longest gap idle": ("ms", "lower", False),
        "worker: longest gap predicting": ("ms", "lower", True),
        "worker: predicting / idle": ("x", "lower", True),
        "worker: p99 gap predicting": ("ms", "lower", False),
        "worker: prediction time": ("s", "lower", False),
    }), parse_event_loop),
    Bench("app_event_loop", "bench/bench_app_event_loop.py", figures_of(parse_app_event_loop, {
        "app: longest gap idle": ("ms", "lower", False),
        "app: longest gap predicting (cold)": ("ms", "lower", True),
        "app: predicting (cold) / idle": ("x", "lower", True),
        "app: prediction time (cold)": ("s", "lower", False),
        "app: longest gap predicting (warm)": ("ms", "lower", True),
        "app: predicting (warm) / idle": ("x", "lower", True),
        "app: prediction time (warm)": ("s", "lower", False),
    }), parse_app_event_loop),
    Bench("open_folder", "bench/bench_open_large_folder.py", figures_of(parse_open_folder, {
        "open first open: 10 images shown": ("ms", "lower", False),
        "open first open: 10,000 images shown": ("ms", "lower", True),
        "open first open: 10,000 images sample_loaded": ("ms", "lower", False),
        "open first open: 10,000 / 10 images": ("x", "lower", True),
        "open reopen: 10 images shown": ("ms", "lower", False),
        "open reopen: 10,000 images shown": ("ms", "lower", True),
        "open reopen: 10,000 images sample_loaded": ("ms", "lower", False),
        "open reopen: 10,000 / 10 images": ("x", "lower", True),
    }), parse_open_folder, quick_args=("--repeats", "1")),
)


# -- the trees ----------------------------------------------------------------------------------------------------

def git(*args: str, cwd: Path = CURRENT_ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def base_worktree(rev: str, path: Path | None) -> Path:
    """A detached worktree of ``rev`` outside the repository, made once and reused."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    path = path or Path(f"/tmp/segstudio-base-{sha[:7]}")
    if path.exists():
        try:
            if git("rev-parse", "HEAD", cwd=path) == sha:
                dirty = git("status", "--porcelain", "--untracked-files=no", cwd=path)
                if dirty:
                    print(f"WARNING: the base worktree {path} has local changes:\n{dirty}", file=sys.stderr)
                return path
        except subprocess.CalledProcessError:
            pass
        raise SystemExit(f"{path} exists but is not a worktree at {sha[:7]}; remove it (git worktree remove) or pass --worktree")
    git("worktree", "prune")
    git("worktree", "add", "--detach", str(path), sha)
    print(f"made worktree {path} at {sha[:7]}", file=sys.stderr)
    return path


def tree_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)  # before site-packages, so before the editable install's finder
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ written into the trees
    return env


def check_import(root: Path) -> str:
    found = subprocess.run([sys.executable, "-c", "import segstudio; print(segstudio.__file__)"], cwd=root,
                           env=tree_env(root), capture_output=True, text=True)
    location = found.stdout.strip()
    if found.returncode != 0 or not Path(location).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"import segstudio under PYTHONPATH={root} gives {location or found.stderr.strip()!r}, "
                         f"not a module in {root}")
    return location


# -- running ------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    bench: str
    tree: str
    round: int
    rc: int | None
    seconds: float
    output_file: str
    load: float | None = None  # 1-minute load average when the run began
    values: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine, the usual reason two runs disagree."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def tail(text: str, lines: int = 12) -> str:
    kept = [line for line in text.splitlines() if "propagateSizeHints" not in line]
    return "\n".join(kept[-lines:])


def run_one(bench: Bench, tree: str, root: Path, round_: int, args: argparse.Namespace, out_dir: Path) -> Run:
    output_file = out_dir / f"{bench.name}-{tree}-r{round_}.txt"
    script = root / bench.script
    if not script.is_file():
        output_file.write_text(f"{bench.script} does not exist in {root}\n")
        return Run(bench.name, tree, round_, None, 0.0, str(output_file), error=f"{bench.script} not in this tree")
    command = [sys.executable, bench.script, *(bench.quick_args if args.quick else ())]
    env = tree_env(root)
    if args.xvfb:
        command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *command]
        env.pop("QT_QPA_PLATFORM", None)
    load = load_average()
    started = time.perf_counter()
    timed_out = False
    try:
        # Its own process group, so a timeout also ends what it started (xvfb-run's X server and python).
        process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace", start_new_session=True)
        try:
            text, _ = process.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            text, _ = process.communicate()
            text += f"\n[timed out after {args.timeout} s]\n"
        rc = None if timed_out else process.returncode
    except OSError as error:
        rc, text = None, f"[could not start {command}: {error}]\n"
    seconds = time.perf_counter() - started
    header = f"# {' '.join(command)}\n# cwd {root}\n# PYTHONPATH {env['PYTHONPATH']}\n# rc {rc}, {seconds:.1f} s, load average {load} at start\n"
    output_file.write_text(header + text)
    run = Run(bench.name, tree, round_, rc, seconds, str(output_file), load)
    try:
        run.values = bench.parse(text)
    except Exception as error:  # noqa: BLE001 - a parser bug must not end the whole comparison
        run.error = f"parse error: {error!r}"
    found = sum(value is not None for value in run.values.values())
    if timed_out:
        run.error = f"timed out after {args.timeout} s: {tail(text)}"
    elif rc is None or rc not in (0, 1):
        run.error = f"rc={rc}: {tail(text)}"
    elif found == 0:
        run.error = f"rc={rc}, none of the expected figures in the output: {tail(text)}"
    return run


# -- the table ----------------------------------------------------------------------------------------------------

def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def median_of(runs: list[Run], name: str) -> tuple[float | None, list[float | None]]:
    values = [run.values.get(name) for run in runs]
    present = [value for value in values if value is not None]
    return (statistics.median(present) if present else None), values


def table(benches: list[Bench], runs: list[Run]) -> tuple[str, list[dict[str, object]]]:
    header = ("figure", "unit", "baseline", "current", "cur/base", "better", "runs: baseline | current")
    rows: list[tuple[str, ...]] = []
    records: list[dict[str, object]] = []
    failures: list[str] = []
    for bench in benches:
        by_tree = {tree: [run for run in runs if run.bench == bench.name and run.tree == tree] for tree in ("base", "current")}
        for tree, tree_runs in by_tree.items():
            for run in tree_runs:
                if run.error:
                    failures.append(f"[{bench.name} / {tree} / round {run.round}] {run.error}")
        for figure in bench.figures:
            base, base_all = median_of(by_tree["base"], figure.name)
            cur, cur_all = median_of(by_tree["current"], figure.name)

            def cell(value: float | None, tree: str) -> str:
                if value is not None:
                    return fmt(value)
                return "FAILED" if any(run.error for run in by_tree[tree]) or not by_tree[tree] else "n/a"

            ratio = cur / base if base not in (None, 0) and cur is not None else None
            spread = " ".join(fmt(v) for v in base_all) + " | " + " ".join(fmt(v) for v in cur_all)
            rows.append(((" * " if figure.issue else "   ") + figure.name, figure.unit, cell(base, "base"),
                         cell(cur, "current"), f"{ratio:.2f}" if ratio is not None else "-", figure.better, spread))
            records.append({"bench": bench.name, "figure": figure.name, "unit": figure.unit, "issue": figure.issue,
                            "better": figure.better, "base": base, "current": cur, "current_over_base": ratio,
                            "base_runs": base_all, "current_runs": cur_all})
        rows.append(("",) * len(header))
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(str(col).ljust(width) if i in (0, 1, 5, 6) else str(col).rjust(width)
                       for i, (col, width) in enumerate(zip(row, widths))).rstrip() for row in (header, *rows)]
    lines.insert(1, "-" * len(lines[0]))
    text = "\n".join(lines).rstrip() + "\n"
    text += "\n* = a figure issue 9 names. Values are medians over the rounds; cur/base < 1 is better where 'better' is lower.\n"
    if failures:
        text += "\nFAILED RUNS\n" + "\n\n".join(failures) + "\n"
    return text, records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=DEFAULT_BASE, help=f"baseline git revision (default {DEFAULT_BASE})")
    parser.add_argument("--rounds", type=int, default=2, help="base/current pairs per benchmark (default 2)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only this benchmark (repeatable, or comma-separated): {', '.join(b.name for b in BENCHES)}")
    parser.add_argument("--worktree", type=Path, help="where the baseline worktree lives (default /tmp/segstudio-base-<sha>)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one benchmark run may take (default 900)")
    parser.add_argument("--xvfb", action="store_true", help="run every script under xvfb-run (real X server) instead of "
                                                           "letting the GUI scripts pick the offscreen platform")
    parser.add_argument("--quick", action="store_true", help="the scripts' own smaller sizes, the same for both trees: "
                        + "; ".join(f"{b.name} {' '.join(b.quick_args)}" for b in BENCHES if b.quick_args))
    parser.add_argument("--out", type=Path, default=CURRENT_ROOT / "bench" / "out" / "compare")
    args = parser.parse_args(argv)

    wanted = {name.strip().removeprefix("bench_").removesuffix(".py") for item in (args.only or []) for name in item.split(",")}
    aliases = {"paint_latency": "paint", "open_large_folder": "open_folder"}
    wanted = {aliases.get(name, name) for name in wanted}
    unknown = wanted - {bench.name for bench in BENCHES}
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {[bench.name for bench in BENCHES]}")
    benches = [bench for bench in BENCHES if not wanted or bench.name in wanted]
    if args.xvfb and shutil.which("xvfb-run") is None:
        parser.error("xvfb-run not found (apt-get install -y xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1)")

    started = time.perf_counter()
    base_root = base_worktree(args.base, args.worktree)
    trees = {"base": base_root, "current": CURRENT_ROOT}
    imports = {tree: check_import(root) for tree, root in trees.items()}
    base_sha = git("rev-parse", "HEAD", cwd=base_root)
    head_sha = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out / stamp
    out_dir.mkdir(parents=True, exist_ok=True)

    intro = (f"baseline: {args.base} = {base_sha[:10]} in {base_root} (segstudio from {imports['base']})\n"
             f"current:  working tree {CURRENT_ROOT} at HEAD {head_sha[:10]}"
             f"{f' + {len(changed)} uncommitted changed files' if changed else ''} (segstudio from {imports['current']})\n"
             f"python {sys.executable}; {args.rounds} round(s), base and current alternating; "
             f"{'xvfb-run' if args.xvfb else 'Qt platform as each script chooses (offscreen without a display)'}"
             f"{'; --quick sizes' if args.quick else ''}\n")
    print(intro, file=sys.stderr)

    runs: list[Run] = []
    total = len(benches) * args.rounds * 2
    for bench in benches:
        for round_ in range(1, args.rounds + 1):
            for tree in ("base", "current"):
                print(f"[{len(runs) + 1}/{total}] {bench.name} {tree} round {round_} ...", end=" ", file=sys.stderr, flush=True)
                run = run_one(bench, tree, trees[tree], round_, args, out_dir)
                runs.append(run)
                print(f"{run.seconds:.1f} s, rc {run.rc}, load average {run.load} at start{' FAILED' if run.error else ''}", file=sys.stderr, flush=True)

    text, records = table(benches, runs)
    elapsed = time.perf_counter() - started
    report = f"{intro}\n{text}\nwhole comparison took {elapsed:.0f} s; raw outputs in {out_dir}\n"
    print(report)
    (out_dir / "table.txt").write_text(report)
    (out_dir / "results.json").write_text(json.dumps({
        "base": {"rev": args.base, "sha": base_sha, "root": str(base_root)},
        "current": {"head": head_sha, "root": str(CURRENT_ROOT), "uncommitted": changed},
        "rounds": args.rounds, "xvfb": args.xvfb, "quick": args.quick, "seconds": elapsed,
        "figures": records, "runs": [run.__dict__ for run in runs],
    }, indent=1))
    return 1 if any(run.error for run in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
