"""Files and folders the user may not read (issue 14): an image, a mask, a label file, the project file and whole
folders made unreadable (chmod 000), through every command that reads a folder and the window's load job. No
traceback; the file or folder is named with "Permission denied"; the exit status is the one the command gives for a
broken file in the same place; nothing is written for what could not be read.

Permissions do not stop root (CI runs as root). As root, the commands run in a subprocess that obeys them: as user
nobody when nobody can run this checkout's interpreter, else as root without the two capabilities that bypass file
permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, dropped from the bounding set before exec). A probe checks the
subprocess really is refused a chmod 000 file before any case runs."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli.exits import EXIT_USAGE
from segstudio.io.demo_dataset import DEMO_LABELS
from segstudio.io.labelset_files import write_label_set

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _drop_permission_bypass() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


@dataclass
class Runner:
    """Runs ``python -m segstudio ...`` (or a script) so that file permissions apply to it."""

    base: Path  # a folder the subprocess can read and write
    how: str  # "as this user", "as nobody", "as root without CAP_DAC_*"
    options: dict[str, object]

    def run(self, argv: list[str], *, script: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", script, *argv] if script is not None else [sys.executable, "-m", "segstudio", *argv]
        environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", SEGSTUDIO_DATA_DIR=str(self.base / "user-data"),
                           HOME=str(self.base))
        return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=REPO, timeout=300,
                              **self.options)  # type: ignore[arg-type]

    def hand_over(self, path: Path) -> None:
        """Make what the test wrote there the subprocess's own (as nobody it must write the project file...)."""
        if self.how == "as nobody":
            for folder, _dirs, files in os.walk(path):
                os.chown(folder, NOBODY, NOBODY)
                for name in files:
                    os.chown(Path(folder) / name, NOBODY, NOBODY)


def _refused(runner: Runner, probe: Path) -> bool:
    result = runner.run([str(probe)], script="import sys; open(sys.argv[1]).read()")
    return result.returncode != 0 and "PermissionError" in result.stderr


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    base = Path(tempfile.mkdtemp(prefix="segstudio-unreadable-", dir="/tmp"))
    os.chmod(base, 0o755)  # nobody must reach it
    probe = base / "probe.txt"
    probe.write_text("secret")
    probe.chmod(0)
    try:
        if os.geteuid() != 0:
            chosen = Runner(base, "as this user", {})
        else:
            chosen = None
            nobody = Runner(base, "as nobody", {"user": NOBODY, "group": NOBODY, "extra_groups": []})
            try:
                reachable = nobody.run([], script="import segstudio.cli").returncode == 0
            except PermissionError:  # the interpreter itself is out of nobody's reach
                reachable = False
            if reachable:
                nobody.hand_over(base)
                chosen = nobody
            else:
                # This checkout's interpreter is out of nobody's reach (here: under /root, mode 0700).
                chosen = Runner(base, "as root without CAP_DAC_*", {"preexec_fn": _drop_permission_bypass})
        if not _refused(chosen, probe):
            pytest.skip(f"cannot run a subprocess that obeys file permissions ({chosen.how} still reads a chmod 000 "
                        "file: a container without CAP_SETPCAP?)")
        yield chosen
    finally:
        for folder, dirs, files in os.walk(base):
            for name in dirs + files:
                os.chmod(Path(folder) / name, 0o700, follow_symlinks=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def tiny_model(runner: Runner) -> Path:
    pytest.importorskip("torch")
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model

    path = runner.base / "tiny.safetensors"
    config = ModelConfig("unet", DEMO_LABELS.num_classes, 3, "classic", {"base_channels": 4})
    save_checkpoint(path, build_model(config), CheckpointMeta(config, DEMO_LABELS))
    runner.hand_over(path)
    return path


def _dataset(runner: Runner, name: str) -> Path:
    """images/{a,b}.png, masks/ and preds/ of the same names (classes 0..1 of the demo's 4), labels.toml."""
    root = runner.base / name
    for folder in ("images", "masks", "preds"):
        (root / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20] = 1
    for stem in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(root / "images" / f"{stem}.png")
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        Image.fromarray(mask).save(root / "preds" / f"{stem}.png")
    write_label_set(root / "labels.toml", DEMO_LABELS)
    runner.hand_over(root)
    return root


def _break(path: Path) -> None:
    """The same file, broken (cut short): what the command does with it is its usual answer to a bad file."""
    path.write_bytes(path.read_bytes()[:24])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class Case:
    command: str
    unreadable: str  # relative to the data set's root
    argv: Callable[[Path, Path], list[str]]  # (data set root, model) -> the command's arguments
    outputs: tuple[str, ...] = ()  # what must not be written (relative to the root), beside the data set's files
    usual_exit: int | None = None  # the exit status for a folder (a file's is measured on a broken copy)
    says: str = ""  # what the error says beside the name, where it is more than "permission denied"


def _scan(root: Path, _model: Path) -> list[str]:
    return ["scan", "--check", str(root)]


def _evaluate(root: Path, _model: Path) -> list[str]:
    return ["evaluate", "--gt", str(root / "masks"), "--pred", str(root / "preds"), "--num-classes", "4",
            "--json", str(root / "scores.json")]


def _predict(root: Path, model: Path) -> list[str]:
    return ["predict", "--model", str(model), "--images", str(root / "images"), "--out", str(root / "out")]


def _convert(root: Path, _model: Path) -> list[str]:
    return ["convert", "--from", "png", "--to", "coco", "--labels", str(root / "labels.toml"), str(root),
            str(root / "out")]


CASES = (
    Case("scan", "images/b.png", _scan),
    Case("scan", "masks/b.png", _scan),
    Case("scan", "images", _scan, ("segstudio.toml",), EXIT_USAGE),
    Case("scan", "masks", _scan, ("segstudio.toml",), EXIT_USAGE),
    Case("evaluate", "masks/b.png", _evaluate, ("scores.json",)),
    Case("evaluate", "preds/b.png", _evaluate, ("scores.json",)),
    Case("evaluate", "preds", _evaluate, ("scores.json",), EXIT_USAGE, "prediction folder cannot be looked at"),
    Case("predict", "images/b.png", _predict, ("out/b.png",)),
    Case("predict", "images", _predict, ("out",), EXIT_USAGE),
    Case("convert", "masks/b.png", _convert, ("out",)),
    Case("convert", "masks", _convert, ("out",), EXIT_USAGE),
    Case("convert", "labels.toml", _convert, ("out",)),
)


def _check_refused(result: subprocess.CompletedProcess[str], named: Path) -> str:
    text = result.stdout + result.stderr
    assert "Traceback" not in text and result.returncode != 70, text  # 70: the crash handler caught a bug
    assert str(named) in text and "permission denied" in text.lower(), text
    return text


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}-{c.unreadable}" for c in CASES])
def test_an_unreadable_file_or_folder_is_named_and_nothing_is_written_for_it(
    case: Case, runner: Runner, tiny_model: Path
) -> None:
    root = _dataset(runner, f"{case.command}-{case.unreadable.replace('/', '-')}")
    target = root / case.unreadable
    usual_exit = case.usual_exit
    if usual_exit is None:  # a file: the status the command gives when that file is broken instead
        broken_root = _dataset(runner, f"broken-{root.name}")
        _break(broken_root / case.unreadable)
        usual_exit = runner.run(case.argv(broken_root, tiny_model)).returncode
    before = _snapshot(root)
    target.chmod(0)
    try:
        result = runner.run(case.argv(root, tiny_model))
    finally:
        target.chmod(0o755 if target.is_dir() else 0o644)
    text = _check_refused(result, target)
    assert case.says in text, text
    assert result.returncode == usual_exit, (result.returncode, usual_exit, result.stderr)
    for output in case.outputs:
        written = root / output
        assert not written.exists() or (written.is_dir() and not any(written.iterdir())), f"{output} was written"
    after = _snapshot(root)
    assert {name: data for name, data in after.items() if name in before} == before  # nothing replaced
    if case.command == "predict" and case.unreadable.endswith(".png"):
        assert (root / "out" / "a.png").is_file()  # the readable image is still done


def test_an_unreadable_project_file_is_named_and_left_as_it_is(runner: Runner) -> None:
    root = _dataset(runner, "scan-project-file")
    assert runner.run(["scan", str(root)]).returncode == 0
    project = root / "segstudio.toml"
    before = project.read_bytes()
    project.chmod(0)
    try:
        result = runner.run(["scan", str(root)])
    finally:
        project.chmod(0o644)
    _check_refused(result, project)
    assert result.returncode == EXIT_USAGE
    assert project.read_bytes() == before  # never replaced by a new guess


def test_an_unreadable_label_file_is_named_by_scan(runner: Runner) -> None:
    root = _dataset(runner, "scan-labels")
    labels = root / "labels.toml"
    labels.chmod(0)
    try:
        result = runner.run(["scan", str(root)])
    finally:
        labels.chmod(0o644)
    _check_refused(result, labels)
    assert result.returncode == 0  # as for a broken label file: noted, the classes are guessed from the masks


@pytest.mark.parametrize("unreadable", ["images/a.png", "masks/a.png"])
def test_open_with_a_screenshot_names_the_unreadable_file(runner: Runner, unreadable: str) -> None:
    root = _dataset(runner, f"open-{unreadable.replace('/', '-')}")
    target = root / unreadable
    target.chmod(0)
    try:
        result = runner.run(["open", str(root), "--image", "a", "--screenshot", str(root / "shot.png")])
    finally:
        target.chmod(0o644)
    _check_refused(result, target)
    assert result.returncode == 0 and (root / "shot.png").is_file()  # the window without the image, and a warning
    assert not (root / "segstudio-corrections").exists()


# The window's load job (segstudio.app.sample_loader.load_sample, what the "load" worker runs), in a subprocess
# that obeys permissions: it prints what the window would show.
LOAD_JOB = """
import sys
from pathlib import Path
from segstudio.app.sample_loader import load_sample
from segstudio.core.errors import FileProblem
from segstudio.io.datasets import open_dataset
dataset = open_dataset(Path(sys.argv[1]))
sample = dataset.sample("a")
try:
    load_sample(dataset, sample)
except FileProblem as problem:
    print("refused", problem)
else:
    print("loaded")
"""


@pytest.mark.parametrize("unreadable", ["images/a.png", "masks/a.png"])
def test_the_window_load_job_names_the_unreadable_file(runner: Runner, unreadable: str) -> None:
    root = _dataset(runner, f"load-{unreadable.replace('/', '-')}")
    assert runner.run(["scan", str(root)]).returncode == 0  # the folder opens: its project file is written first
    target = root / unreadable
    target.chmod(0)
    try:
        result = runner.run([str(root)], script=LOAD_JOB)
    finally:
        target.chmod(0o644)
    text = _check_refused(result, target)
    assert result.returncode == 0 and result.stdout.startswith("refused"), text
