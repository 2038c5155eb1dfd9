"""Listing folders of images by name only: nothing is opened, so 10,000 files list in milliseconds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from segstudio.core.natural_order import natural_key
from segstudio.io.images import IMAGE_SUFFIXES

# Folders segstudio writes itself, and folders no dataset keeps images in.
# segstudio's own output folders are never data: detecting them as images or masks would pair the app's output
# with itself (and the corrections folder could become a "ground truth" that a save then writes into).
SKIPPED_FOLDERS = frozenset({
    "segstudio-corrections", "segstudio-autosave", "segstudio-predictions", "segstudio-ground-truth-backup",
    "__pycache__", "node_modules", ".git",
})


def image_files(folder: Path) -> dict[str, str]:
    """``{file name: stem}`` of the image files directly in ``folder`` (by extension), in natural order (``2`` before ``10``)."""
    found: dict[str, str] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        stem, dot, suffix = name.rpartition(".")
        if dot and f".{suffix.lower()}" in IMAGE_SUFFIXES and entry.is_file():
            found[name] = stem
    return {name: found[name] for name in sorted(found, key=natural_key)}


def folders_with_images(root: Path, max_depth: int = 4) -> Iterator[tuple[Path, dict[str, str]]]:
    """Every folder under ``root`` (itself included) holding image files, breadth first, hidden folders skipped."""
    queue: list[tuple[Path, int]] = [(root, 0)]
    while queue:
        folder, depth = queue.pop(0)
        files = image_files(folder)
        if files:
            yield folder, files
        if depth >= max_depth:
            continue
        try:
            children = sorted(
                (e for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".") and e.name not in SKIPPED_FOLDERS),
                key=lambda e: natural_key(e.name),
            )
        except OSError:
            continue
        queue.extend((Path(child.path), depth + 1) for child in children)


def relative_posix(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return "." if relative in ("", ".") else relative
