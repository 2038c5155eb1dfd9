"""Listing folders of images by name only: nothing is opened, so 10,000 files list in milliseconds.

An entry that cannot be looked at (a symbolic link loop such as ``a -> a`` or a folder link leading back to a
folder above it, or an entry the user may not read) is skipped and, when the caller passes a ``skipped`` list,
recorded there with its path and the reason: one bad link never hides the rest of the folder, nor stops it
opening.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
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

SYMLINK_LOOP = "symbolic link loop (following it comes back to where it started); skipped"


@dataclass(frozen=True)
class SkippedEntry:
    """A folder entry that was left out of a listing, and why (e.g. :data:`SYMLINK_LOOP`)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def image_files(folder: Path, skipped: list[SkippedEntry] | None = None) -> dict[str, str]:
    """``{file name: stem}`` of the image files directly in ``folder`` (by extension), in natural order (``2`` before ``10``).

    An image name that cannot be looked at (a link loop, no permission) is left out and added to ``skipped``; so
    is ``folder`` itself when it cannot be listed (no permission): a folder that is there but unreadable must be
    named, not taken for an empty one. A folder that does not exist is simply empty."""
    found: dict[str, str] = {}
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)  # skipped entries in a stable order
    except (FileNotFoundError, NotADirectoryError):
        return found
    except OSError as error:
        _skip(skipped, Path(folder), error)
        return found
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        stem, dot, suffix = name.rpartition(".")
        if not dot or f".{suffix.lower()}" not in IMAGE_SUFFIXES:
            continue
        try:
            # DirEntry.is_file follows links and, unlike Path.is_file, raises for a loop (ELOOP).
            is_file = entry.is_file()
        except OSError as error:
            _skip(skipped, Path(entry.path), error)
            continue
        if is_file:
            found[name] = stem
    return {name: found[name] for name in sorted(found, key=natural_key)}


def skipped_entries(folder: Path) -> list[SkippedEntry]:
    """The image names directly in ``folder`` that a listing leaves out because they cannot be looked at."""
    skipped: list[SkippedEntry] = []
    image_files(folder, skipped)
    return skipped


def folders_with_images(
    root: Path, max_depth: int = 4, skipped: list[SkippedEntry] | None = None
) -> Iterator[tuple[Path, dict[str, str]]]:
    """Every folder under ``root`` (itself included) holding image files, breadth first, hidden folders skipped.

    A link to a folder above it (``images/back -> ..``) is a loop: followed, it would list the same images again
    at every depth. It is skipped and, like an entry that cannot be looked at, added to ``skipped``."""
    try:
        top = frozenset(_identity(root))
    except OSError:
        top = frozenset()
    queue: list[tuple[Path, int, frozenset[tuple[int, int]]]] = [(root, 0, top)]
    while queue:
        folder, depth, ancestors = queue.pop(0)
        files = image_files(folder, skipped)
        if files:
            yield folder, files
        if depth >= max_depth:
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        children: list[tuple[os.DirEntry[str], frozenset[tuple[int, int]]]] = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name in SKIPPED_FOLDERS:
                continue
            try:
                if not entry.is_dir():
                    continue
                identity = _identity(Path(entry.path))
            except OSError as error:
                _skip(skipped, Path(entry.path), error)
                continue
            if identity & ancestors:
                _record(skipped, SkippedEntry(Path(entry.path), SYMLINK_LOOP))
                continue
            children.append((entry, ancestors | identity))
        children.sort(key=lambda child: natural_key(child[0].name))
        queue.extend((Path(entry.path), depth + 1, lineage) for entry, lineage in children)


def relative_posix(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return "." if relative in ("", ".") else relative


def _identity(folder: Path) -> set[tuple[int, int]]:
    """The folder's (device, inode), following links: two paths to one folder share it. Empty where the file
    system gives no inode numbers (0), so nothing is ever mistaken for a loop there."""
    status = os.stat(folder)
    return {(status.st_dev, status.st_ino)} if status.st_ino else set()


def _skip(skipped: list[SkippedEntry] | None, path: Path, error: OSError) -> None:
    if error.errno == errno.ELOOP:
        reason = SYMLINK_LOOP
    else:
        reason = f"cannot be looked at ({error.strerror or error}); skipped"
    _record(skipped, SkippedEntry(path, reason))


def _record(skipped: list[SkippedEntry] | None, entry: SkippedEntry) -> None:
    if skipped is not None and entry not in skipped:
        skipped.append(entry)
