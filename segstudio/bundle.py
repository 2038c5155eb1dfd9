"""What kind of install this is: a PyInstaller bundle (and which build of it) or a source install."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def bundle_flavour() -> str | None:
    """"gpu" or "cpu" in a bundle built with segstudio.spec (it writes segstudio_build.json); None from source."""
    bundle = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or bundle is None:
        return None
    try:
        return str(json.loads((Path(bundle) / "segstudio_build.json").read_text(encoding="utf-8"))["flavour"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def apply_bundle_settings() -> None:
    """Run first thing: the CPU bundle leaves out the CUDA libraries torch loads only on first GPU use, so with a
    GPU present torch would still try CUDA and fail there; the CPU bundle does not let it see one."""
    if bundle_flavour() == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""


__all__ = ["apply_bundle_settings", "bundle_flavour"]
