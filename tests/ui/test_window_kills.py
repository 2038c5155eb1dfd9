"""The real window killed (SIGKILL) at random moments while it paints, saves and autosaves (issue 14): after every
kill, nothing on disk is corrupt (each correction, each autosave and the project file read back) and no stroke is
lost that was saved or autosaved before the kill: what a restart would offer (the newest of the autosave and the
saved correction) is exactly the work after some stroke at or past the last one made durable. Real CamVid images,
real windows in their own processes; the strokes are a fixed sequence the test replays to know what each state
must be."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from segstudio.app.sample_loader import load_sample
from segstudio.io.autosave import AutosaveStore
from segstudio.io.datasets import open_dataset
from segstudio.io.mask_files import read_class_mask
from segstudio.io.project_file import find_project_file, read_project_file
from tests.ui.window_process import OPEN_WINDOW

KILLS = 6

# The window's process: open the folder, then paint the stroke sequence forever, saving now and then and
# autosaving more often (the 5 s timer runs too). Each line is printed once its step is done.
WINDOW_PROCESS = OPEN_WINDOW + """
height, width = session.shape
rng = random.Random(int(sys.argv[2]))
print("ready", window.current_key, flush=True)
stroke = 0
while True:
    row = (stroke * 37) % (height - 20) + 10
    session.begin_stroke()
    session.paint((10, row), (width - 10, row + 5), radius=3, value=1 + stroke % 10)
    session.end_stroke()
    print("stroke", stroke, flush=True)
    app.processEvents()
    chance = rng.random()
    if chance < 0.15:
        if window.saving.save(wait=True) is not None:
            print("durable", stroke, "saved", flush=True)
    elif chance < 0.45:
        if window.saving.autosave_now(wait=True):
            print("durable", stroke, "autosaved", flush=True)
    stroke += 1
"""


def _replayed(dataset, key: str, strokes: int) -> list[str]:  # noqa: ANN001
    """The working mask's digest after each of the first ``strokes`` strokes (index j: after stroke j)."""
    session = load_sample(dataset, dataset.sample(key)).session
    height, width = session.shape
    digests = []
    for stroke in range(strokes):
        row = (stroke * 37) % (height - 20) + 10
        session.begin_stroke()
        session.paint((10, row), (width - 10, row + 5), radius=3, value=1 + stroke % 10)
        session.end_stroke()
        digests.append(hashlib.sha256(session.mask.tobytes()).hexdigest())
    return digests


def _run_and_kill(folder: Path, user_data: Path, seed: int, wait_s: float, script: str = WINDOW_PROCESS) -> list[str]:
    """Run ``script`` (a window process printing "stroke"/"durable" lines) on ``folder``; SIGKILL it ``wait_s``
    after its first "durable" line; its complete lines."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", SEGSTUDIO_DATA_DIR=str(user_data))
    child = subprocess.Popen([sys.executable, "-c", script, str(folder), str(seed)], stdout=subprocess.PIPE,
                             text=True, env=environment, cwd=Path(__file__).parents[2])
    lines: list[str] = []
    durable = threading.Event()

    def read() -> None:  # the pipe is drained all the time: a full pipe would stall the window, not kill it
        assert child.stdout is not None
        for line in child.stdout:
            if not line.endswith("\n"):
                break  # the kill came in the middle of a print: that step was not reported done
            lines.append(line.strip())
            if line.startswith("durable"):
                durable.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # Killed a random while after its first save or autosave: on a loaded machine too, there is work to lose.
        assert durable.wait(120), f"the window made nothing durable: {lines[-5:]}"
        time.sleep(wait_s)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        reader.join(30)
    return lines


@pytest.mark.slow
def test_a_window_killed_at_random_moments_loses_nothing_it_had_saved_or_autosaved(
    camvid_folder: Path, tmp_path: Path
) -> None:
    rng = random.Random(14)
    strokes_made = durable_checked = interrupted = 0
    for kill in range(KILLS):
        folder = tmp_path / f"run{kill}"
        shutil.copytree(camvid_folder, folder)
        lines = _run_and_kill(folder, tmp_path / f"user{kill}", seed=kill, wait_s=rng.uniform(0.0, 1.5))
        key = lines[0].split()[1]
        strokes = [int(line.split()[1]) for line in lines if line.startswith("stroke")]
        durable = [int(line.split()[1]) for line in lines if line.startswith("durable")]
        strokes_made += len(strokes)

        # Nothing on disk is corrupt: the project file, every correction and every autosave read back.
        dataset = open_dataset(folder)
        project = find_project_file(folder)
        assert project is not None
        read_project_file(project)
        labels = dataset.spec.labels
        correction = dataset.correction_path(dataset.sample(key))
        saved = read_class_mask(correction, labels) if correction is not None and correction.is_file() else None
        store = AutosaveStore.for_dataset(dataset)
        pending = store.pending()
        for entry in pending:
            if entry.problem is not None:  # a kill between an autosave's two files: flagged as such, never read
                assert "interrupted" in entry.problem, entry
                interrupted += 1
            else:
                store.load(entry)
        offered = [entry for entry in pending if entry.sample_key == key and entry.problem is None]

        # No stroke made durable is lost: what a restart offers is the work after some stroke >= the last durable
        # one (a save or autosave under way when the kill came may have landed too).
        newest = store.load(offered[0]) if offered else saved
        assert durable, f"run {kill}: killed before anything was made durable"
        assert newest is not None, f"run {kill}: strokes up to {durable[-1]} were made durable, nothing is there"
        digests = _replayed(dataset, key, (strokes[-1] if strokes else 0) + 2)
        found = hashlib.sha256(np.asarray(newest).tobytes()).hexdigest()
        assert found in digests[durable[-1]:], (
            f"run {kill}: strokes up to {durable[-1]} were durable; what is offered matches stroke "
            f"{digests.index(found) if found in digests else 'none'} ({len(strokes)} strokes, kill after {lines[-1]!r})")
        durable_checked += 1
    assert durable_checked == KILLS and strokes_made > KILLS, (strokes_made, durable_checked, interrupted)
