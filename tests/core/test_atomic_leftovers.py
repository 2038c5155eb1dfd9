"""Temporary files of killed atomic writes are cleaned up, and a live writer's never (issue 14 item 3: 65 were
left after 110 kills, forever). Leftovers are real files: made by a real writer killed mid-write, or named as a
killed writer's would be."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from segstudio.core import atomic
from segstudio.core.atomic import ABANDONED_AFTER_S, STALE_AFTER_S, remove_stale_temp_files, write_bytes_atomic

HOUR = 60 * 60


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _leftover(folder: Path, name: str, *, age_s: float, content: bytes = b"half a file") -> Path:
    path = folder / name
    path.write_bytes(content)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(atomic.TEMP_SUFFIX))


def test_temporary_files_name_their_writer(tmp_path: Path) -> None:
    seen: list[str] = []
    with atomic.atomic_write(tmp_path / "mask.png") as stream:
        stream.write(b"x")
        seen = _temp_files(tmp_path)
    assert len(seen) == 1 and seen[0].startswith(f".mask.png.segstudio-{os.getpid()}-")
    assert _temp_files(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="the pid test needs POSIX (Windows relies on age alone)")
def test_only_leftovers_of_dead_writers_old_enough_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = _leftover(tmp_path, f".mask.png.segstudio-{dead}-abcd1234.tmp", age_s=STALE_AFTER_S + 60)
    fresh_dead = _leftover(tmp_path, f".other.png.segstudio-{dead}-abcd1235.tmp", age_s=60)  # a kill a minute ago
    live_old = _leftover(tmp_path, f".big.pt.segstudio-{os.getpid()}-abcd1236.tmp", age_s=STALE_AFTER_S + 60)
    abandoned = _leftover(tmp_path, f".x.png.segstudio-{os.getpid()}-abcd1237.tmp", age_s=ABANDONED_AFTER_S + 60)
    old_style_day = _leftover(tmp_path, ".y.png.k3j_9zq0.tmp", age_s=ABANDONED_AFTER_S + 60)  # before pids were named
    old_style_hour = _leftover(tmp_path, ".z.png.k3j_9zq1.tmp", age_s=2 * HOUR)
    not_ours = [
        _leftover(tmp_path, name, age_s=ABANDONED_AFTER_S + 60)
        for name in (".notes.tmp", "draft.tmp", "mask.png", ".mask.png.segstudio-x-abcd1234.tmp", ".a.b.TOOLONG99.tmp")
    ]

    removed = remove_stale_temp_files(tmp_path)

    assert sorted(removed) == sorted([stale, abandoned, old_style_day])
    for kept in (fresh_dead, live_old, old_style_hour, *not_ours):
        assert kept.exists(), kept.name


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_write_killed_midway_is_cleaned_up_by_the_next_write_into_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "corrections"
    folder.mkdir()
    target = folder / "mask.png"
    target.write_bytes(b"the last save")
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from segstudio.core.atomic import atomic_write
        with atomic_write({str(target)!r}) as stream:
            stream.write(b"half of the new save")
            stream.flush()
            print("writing", flush=True)
            time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "writing"
    [left] = _temp_files(folder)
    assert left.startswith(f".mask.png.segstudio-{writer.pid}-")
    # While the writer lives, however old its file looks, it stays.
    old = time.time() - STALE_AFTER_S - 60
    os.utime(folder / left, (old, old))
    assert remove_stale_temp_files(folder) == []
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    assert _temp_files(folder) == [left], "a killed writer cannot clean up after itself"
    assert target.read_bytes() == b"the last save"

    write_bytes_atomic(folder / "other.png", b"a later save")  # this process's first write into the folder

    assert _temp_files(folder) == []
    assert target.read_bytes() == b"the last save" and (folder / "other.png").read_bytes() == b"a later save"


def test_a_fresh_leftover_is_kept_even_when_its_writer_is_gone(tmp_path: Path) -> None:
    """Age guards what a pid cannot tell: a writer in another container or on another machine sharing the folder."""
    left = _leftover(tmp_path, f".m.png.segstudio-{_dead_pid()}-abcd1234.tmp", age_s=5)
    write_bytes_atomic(tmp_path / "m.png", b"new")
    assert left.exists()


def test_a_long_name_still_gets_a_temporary_file(tmp_path: Path) -> None:
    name = "é" * 120 + ".png"  # 245 bytes in UTF-8: the full name plus the writer's tag would pass 255
    write_bytes_atomic(tmp_path / name, b"data")
    assert (tmp_path / name).read_bytes() == b"data" and _temp_files(tmp_path) == []
