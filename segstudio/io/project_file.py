"""The project file: a small, human-readable TOML file that records how a dataset folder was read.

It sits next to the data (``<folder>/segstudio.toml``) so the next open is instant and a user can fix a wrong
guess by editing it. When the data folder is read-only, it lives in the user's data location instead, under a
folder named after a hash of the dataset's path.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import platformdirs

from segstudio import __version__
from segstudio.core.labels import LabelSet
from segstudio.io.dataset_spec import DatasetSpec, ImageFolder, Layout, MaskKind, MaskRole, MaskSource
from segstudio.core.errors import FileProblem
from segstudio.core.value_map import ValueMap
from segstudio.io.review_file import REVIEW_KEY, kept_review, write_document, write_lock

PROJECT_FILE_NAME = "segstudio.toml"
DEFAULT_CORRECTIONS_FOLDER = "segstudio-corrections"
SCHEMA_VERSION = 1
DATA_DIR_VARIABLE = "SEGSTUDIO_DATA_DIR"

_HEADER = (
    "# segstudio project file: how this folder's images pair with their masks and what the mask values mean.\n"
    "# segstudio wrote it after looking at the folder; edit it to fix a wrong guess (see 'notes').\n"
)


def user_data_dir() -> Path:
    """Where segstudio keeps per-user data: ``$SEGSTUDIO_DATA_DIR`` or the platform's user data folder."""
    override = os.environ.get(DATA_DIR_VARIABLE)
    return Path(override) if override else Path(platformdirs.user_data_dir("segstudio", appauthor=False))


def folder_is_writable(folder: Path) -> bool:
    """Whether we may write into ``folder``. Honours the permission bits even for root, who could write anyway:
    a folder marked read-only is somebody's wish that we leave it alone."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    if not os.access(folder, os.W_OK):
        return False
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return True


def project_file_candidates(root: Path) -> tuple[Path, Path]:
    """(beside the data, in the user data location) for the dataset folder ``root``."""
    root = Path(root).resolve()
    digest = hashlib.sha1(str(root).encode("utf-8")).hexdigest()[:16]
    return root / PROJECT_FILE_NAME, user_data_dir() / "projects" / f"{root.name}-{digest}" / PROJECT_FILE_NAME


def find_project_file(root: Path) -> Path | None:
    """The existing project file of ``root``, beside the data first."""
    for candidate in project_file_candidates(root):
        if candidate.is_file():
            return candidate
    return None


def new_project_file_location(root: Path) -> Path:
    beside, in_user_data = project_file_candidates(root)
    return beside if folder_is_writable(beside.parent) else in_user_data


# -- reading ------------------------------------------------------------------------------------------------


def read_project_file(path: Path) -> DatasetSpec:
    """Parse a project file; any problem is a :class:`FileProblem` that names the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileProblem(path, f"cannot read the project file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FileProblem(path, f"project file is not UTF-8 text: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileProblem(path, f"project file is not valid TOML: {exc}") from exc
    schema = data.get("schema")
    if not isinstance(schema, int):
        raise FileProblem(path, "project file has no integer 'schema' version")
    if schema > SCHEMA_VERSION:
        raise FileProblem(
            path, f"project file uses schema {schema}, newer than this segstudio ({__version__}) reads ({SCHEMA_VERSION}); update segstudio"
        )
    try:
        return _spec_from_mapping(data)
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise FileProblem(path, f"project file is malformed: {detail}") from exc


def _spec_from_mapping(data: Mapping[str, Any]) -> DatasetSpec:
    labels_data = data["labels"]
    if not isinstance(labels_data, Mapping):
        raise TypeError("'labels' must be a table")
    image_folders = tuple(
        ImageFolder(inside_folder(f["folder"], "image_folders.folder"), str(f.get("split", "all")))
        for f in _tables(data, "image_folders")
    )
    if not image_folders:
        raise ValueError("'image_folders' lists no folder")
    sources = tuple(_source_from_mapping(s) for s in _tables(data, "mask_sources"))
    notes = data.get("notes", [])
    if not isinstance(notes, list):
        raise TypeError("'notes' must be a list of text")
    # A class coloured like the ignore id (or like another class) is read as written: the project file is the app's
    # own state, and refusing it would lock the user out of the folder the Classes panel fixes the colour in. The
    # panel refuses to make such a colour (ClassPanel.recolour_class) and label files given as input are refused.
    labels = LabelSet.from_mapping(labels_data)
    return DatasetSpec(
        layout=Layout(data.get("layout", Layout.CUSTOM.value)),
        image_folders=image_folders,
        mask_sources=sources,
        labels=labels,
        notes=tuple(str(n) for n in notes),
        corrections_folder=own_folder(data.get("corrections_folder", DEFAULT_CORRECTIONS_FOLDER), "corrections_folder"),
    )


def _tables(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """``data[key]``, an array of tables (none when absent); TypeError naming the field when it is anything else."""
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(table, Mapping) for table in tables):
        raise TypeError(f"'{key}' must be a list of tables ([[{key}]] entries)")
    return tables


def inside_folder(value: object, field: str) -> str:
    """A folder named in a project file, checked to stay inside the folder it is relative to.

    Paths in a project file are data, and a hand-edited or hostile file must not be able to point the app at
    folders elsewhere: only relative POSIX paths without ``..`` are accepted (``"."`` = the folder itself).
    """
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a folder name (a string), got {value!r}")
    text = value.strip()
    if not text:
        raise ValueError(f"{field} is empty")
    if "\\" in text or text.startswith("/") or PureWindowsPath(text).drive or PurePosixPath(text).is_absolute():
        raise ValueError(
            f"{field} {value!r} is not a relative folder; folders in a project file are relative to the dataset "
            "folder and use '/' between names"
        )
    parts = PurePosixPath(text).parts
    if ".." in parts:
        raise ValueError(f"{field} {value!r} leaves the dataset folder ('..'); it must stay inside it")
    if "\0" in text:
        raise ValueError(f"{field} {value!r} holds a NUL character")
    return PurePosixPath(*parts).as_posix() if parts else "."


def own_folder(value: object, field: str) -> str:
    """A folder segstudio writes into: :func:`inside_folder`, and never the project's folder itself."""
    folder = inside_folder(value, field)
    if folder == ".":
        raise ValueError(
            f"{field} {value!r} is the project's own folder; segstudio writes there, so it must be a folder of its "
            f"own such as {DEFAULT_CORRECTIONS_FOLDER!r}"
        )
    return folder


def _source_from_mapping(data: Mapping[str, Any]) -> MaskSource:
    value_map = data.get("value_map")
    return MaskSource(
        name=str(data["name"]),
        folder=inside_folder(data["folder"], f"mask source {data['name']!r} folder"),
        image_folder=inside_folder(data["image_folder"], f"mask source {data['name']!r} image_folder"),
        role=MaskRole(data.get("role", MaskRole.GROUND_TRUTH.value)),
        kind=MaskKind(data.get("kind", MaskKind.SEMANTIC.value)),
        suffix=str(data.get("suffix", "")),
        value_map=None if value_map is None else ValueMap.from_mapping(value_map),
    )


# -- writing ------------------------------------------------------------------------------------------------


def write_project_file(path: Path, root: Path, spec: DatasetSpec) -> None:
    """Write atomically; an existing file is replaced only once the new one is complete, and keeps its review
    table (:mod:`segstudio.io.review_file`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "written_by": f"segstudio {__version__}",
        "dataset": str(Path(root).resolve()),
        "layout": spec.layout.value,
        "corrections_folder": spec.corrections_folder,
        "notes": list(spec.notes),
        "labels": spec.labels.to_mapping(),
        "image_folders": [{"folder": f.folder, "split": f.split} for f in spec.image_folders],
        "mask_sources": [_source_to_mapping(s) for s in spec.mask_sources],
    }
    with write_lock(path):
        review = kept_review(path)  # statuses set by users survive a rewrite of how the folder is read
        if review:
            document[REVIEW_KEY] = review
        write_document(path, document, _HEADER)


def _source_to_mapping(source: MaskSource) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": source.name,
        "folder": source.folder,
        "image_folder": source.image_folder,
        "role": source.role.value,
        "kind": source.kind.value,
        "suffix": source.suffix,
    }
    if source.value_map is not None:
        data["value_map"] = source.value_map.to_mapping()
    return data
