"""The autosave files: what is on disk for one image, how the files are named, and the description format.

Files live in the project's ``segstudio-autosave/`` folder (:data:`AUTOSAVE_FOLDER`), two per image:

- ``<name>.<token>.png``: the working mask as a palette PNG (:func:`~segstudio.io.mask_files.write_class_mask`),
  a fresh ``token`` per save;
- ``<name>.json``: the description (sample key, who wrote it and for which editing session, revision, time,
  image path, shape, dtype, the PNG's file name and byte size; :func:`new_description`), written *after* the
  PNG: it is the commit point (see :mod:`segstudio.io.autosave`).

An autosave another writer left is moved aside to ``<name>+<its writer>.json``: :func:`description_stem` reads
both forms back to ``<name>``.

``<name>`` is the sample key percent-encoded (``train/images/0`` -> ``train%2Fimages%2F0``, :func:`file_stem`), so
every key maps to one safe file name on every platform and back.

A description read back becomes a :class:`Recoverable` (:func:`recoverable_from_description`), the record the
window offers the user: unsaved work, or (``problem`` set) a corrupt autosave.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from segstudio.core.atomic import TEMP_SUFFIX

AUTOSAVE_FOLDER = "segstudio-autosave"
FORMAT = "segstudio-autosave"
FORMAT_VERSION = 1
DESCRIPTION_SUFFIX = ".json"
MASK_SUFFIX = ".png"
ASIDE = "+"  # never in a stem: percent-encoding turns "+" into %2B
_MAX_NAME = 160  # characters of encoded key kept in a file name; longer keys get a hash instead of the rest


@dataclass(frozen=True)
class Recoverable:
    """One autosave found on disk: unsaved work for ``sample_key``, or (``problem`` set) a corrupt one.

    ``path`` is the file to show the user: the PNG, or the description when that is what is broken.
    ``saved_at`` is seconds since the epoch (None when unknown). ``shape`` is ``(height, width)``.
    """

    sample_key: str
    path: Path
    description: Path
    revision: int | None = None
    saved_at: float | None = None
    image: Path | None = None
    shape: tuple[int, int] | None = None
    dtype: str | None = None
    problem: str | None = None

    @property
    def recoverable(self) -> bool:
        return self.problem is None

    @property
    def saved_at_text(self) -> str:
        """Local time of the save, for a dialog (``"unknown"`` when not recorded)."""
        if self.saved_at is None:
            return "unknown"
        return datetime.fromtimestamp(self.saved_at).astimezone().strftime("%Y-%m-%d %H:%M:%S")

    def __str__(self) -> str:
        if self.problem is not None:
            return f"{self.path}: {self.problem}"
        return f"{self.sample_key}: unsaved work from {self.saved_at_text} (revision {self.revision})"


def file_stem(sample_key: str) -> str:
    """The sample key as a file name stem: percent-encoded (``/`` -> ``%2F``), hashed past 160 characters."""
    if not sample_key:
        raise ValueError("a sample key is a non-empty string")
    stem = quote(sample_key, safe="")
    if stem.startswith("."):
        stem = "%2E" + stem[1:]  # never a hidden file, never "." or ".."
    if len(stem) > _MAX_NAME:
        digest = hashlib.sha256(sample_key.encode("utf-8")).hexdigest()[:16]
        stem = f"{stem[: _MAX_NAME - 17]}~{digest}"
    return stem


def new_description(
    sample_key: str,
    *,
    writer: str,
    session: str,
    revision: int,
    image_path: str | Path | None,
    shape: tuple[int, ...],
    dtype: str,
    mask_file: Path,
) -> dict[str, Any]:
    """The description of a PNG just written as ``mask_file``, stamped with the time now."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "sample_key": sample_key,
        "writer": writer,
        "session": session,
        "revision": int(revision),
        "saved_at": time.time(),
        "saved_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "image": None if image_path is None else str(image_path),
        "shape": [int(shape[0]), int(shape[1])],
        "dtype": dtype,
        "mask_file": mask_file.name,
        "mask_bytes": mask_file.stat().st_size,
    }


def description_stem(name: str) -> str | None:
    """``<stem>.json`` and ``<stem>+<writer>.json`` -> ``<stem>``; None for other files."""
    if not name.endswith(DESCRIPTION_SUFFIX) or name.startswith("."):
        return None
    return name[: -len(DESCRIPTION_SUFFIX)].split(ASIDE, 1)[0] or None


def mask_stem(name: str) -> str | None:
    """``<stem>.<token>.png`` -> ``<stem>``; None for other files (temporary files included)."""
    if not name.endswith(MASK_SUFFIX) or name.startswith(".") or name.endswith(TEMP_SUFFIX):
        return None
    parts = name[: -len(MASK_SUFFIX)].rsplit(".", 1)
    return parts[0] if len(parts) == 2 and parts[0] else None


def recoverable_from_description(data: Any, folder: Path, path: Path) -> Recoverable:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("format") != FORMAT:
        raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"version {data.get('version')!r} is not supported (this program writes {FORMAT_VERSION})")
    key = data["sample_key"]
    mask_file = data["mask_file"]
    if not isinstance(key, str) or not key or not isinstance(mask_file, str) or Path(mask_file).name != mask_file:
        raise ValueError("sample key or mask file name is not a plain string")
    if mask_file in ("", ".", "..") or "\0" in mask_file or not mask_file.endswith(".png"):
        raise ValueError(f"mask file {mask_file!r} is not the name of a PNG in the autosave folder")
    shape = data["shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise ValueError(f"shape {shape!r} is not [height, width]")
    dtype = data.get("dtype")
    if dtype not in (None, "uint8", "uint16"):
        raise ValueError(f"dtype {dtype!r} is not uint8 or uint16")
    image = data.get("image")
    saved_at = data["saved_at"]
    if not isinstance(saved_at, (int, float)):
        raise ValueError(f"saved_at {saved_at!r} is not a time")
    return Recoverable(
        sample_key=key,
        path=folder / mask_file,
        description=path,
        revision=int(data["revision"]),
        saved_at=float(saved_at),
        image=Path(image) if isinstance(image, str) else None,
        shape=(shape[0], shape[1]),
        dtype=dtype,
    )


__all__ = [
    "ASIDE",
    "AUTOSAVE_FOLDER",
    "DESCRIPTION_SUFFIX",
    "FORMAT",
    "FORMAT_VERSION",
    "MASK_SUFFIX",
    "Recoverable",
    "description_stem",
    "file_stem",
    "mask_stem",
    "new_description",
    "recoverable_from_description",
]
