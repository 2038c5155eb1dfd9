"""``segstudio --self-test`` passes on a working install and fails, naming the step, on a broken one."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segstudio.ui.self_test import run_self_test

REPO = Path(__file__).resolve().parents[2]


def test_the_self_test_passes_from_source_and_writes_nothing_of_the_users(isolated_user_data: Path) -> None:
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "segstudio", "--self-test"], capture_output=True, text=True, env=environment,
        cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout
    for step in ("window on screen", "icons and style sheet found", "demo data set opened", "torch and torchvision", "UNet predicts on cpu",
                 "Mask R-CNN predicts on cpu", "stroke: live figures = recount", "save and read back bit-exact",
                 "accept and export COCO, checked", "instances edited, saved exact", "correction tools on the image", "click to segment (tiny SAM)"):
        assert f"ok    {step}" in report, report
    assert "self-test passed: 12 steps" in report
    assert "torch 2." in report and "from source" in report
    assert list(isolated_user_data.iterdir()) == []  # no settings, demo or project written for the user


def test_a_broken_step_fails_the_self_test_and_names_it(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import torchvision

    def missing(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("operator torchvision::nms does not exist")

    monkeypatch.setattr(torchvision.ops, "nms", missing)
    out = io.StringIO()
    assert run_self_test(out) == 1
    report = out.getvalue()
    assert "FAIL  Mask R-CNN predicts on cpu" in report and "torchvision::nms does not exist" in report
    assert "ok    UNet predicts on cpu" in report  # the other steps still ran
    assert "self-test FAILED: 1 of 12 steps (Mask R-CNN predicts on cpu)" in report


def test_a_missing_resources_folder_fails_the_self_test(qtbot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: ANN001
    """A bundle or wheel built without resources/ shows no icons: the self-test says so, naming where it looked."""
    from segstudio.ui import resources

    monkeypatch.setattr(resources, "_candidates", lambda: iter([tmp_path / "nowhere"]))
    resources.forget()
    try:
        out = io.StringIO()
        assert run_self_test(out) == 1
    finally:
        monkeypatch.undo()
        resources.forget()
    report = out.getvalue()
    assert "FAIL  icons and style sheet found" in report and "resources folder was not found" in report
