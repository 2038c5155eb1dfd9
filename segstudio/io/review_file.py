"""The review table of the project file: ``[review."<image key>"]`` entries in ``segstudio.toml``.

Statuses live in the project file so they travel with the data and can be read (and fixed) by hand. Two windows,
or a window and a script, may write the same file: every write takes a short lock, reads what is on disk, merges
image by image (the entry changed last wins, :meth:`~segstudio.core.review.ReviewBook.merged`) and replaces the
file atomically, so no writer ever drops another's newer decision. Rewriting the rest of the project file (a
renamed class, a new label set) keeps the review table the same way (:func:`kept_review`).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from segstudio.core.atomic import atomic_write
from segstudio.core.errors import FileProblem
from segstudio.io.os_locks import lock, unlock
from segstudio.core.review import ReviewBook

REVIEW_KEY = "review"
WRITE_LOCK_NAME = ".segstudio-write.lock"
WRITE_LOCK_TIMEOUT_S = 10.0
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def read_review(project_file: Path) -> ReviewBook:
    """The review table of ``project_file`` (empty when it has none). :class:`FileProblem` names the file and the
    image whose entry is malformed."""
    return _review_of(Path(project_file), _read_document(Path(project_file)))


def merge_review(project_file: Path, book: ReviewBook) -> ReviewBook:
    """Merge ``book`` into the review table on disk and write it back (only when that changes it); returns the
    merged table, which holds what other writers added meanwhile."""
    path = Path(project_file)
    with write_lock(path):
        document = _read_document(path)
        on_disk = _review_of(path, document)
        merged = on_disk.merged(book)
        if merged != on_disk:
            document[REVIEW_KEY] = merged.to_mapping()
            write_document(path, document, _header_of(path))
        return merged


def kept_review(project_file: Path) -> dict[str, Any] | None:
    """The review table as it is on disk, for a rewrite of the project file to carry over; None when the file is
    missing or has none. A file that cannot be read as one is copied aside first (:func:`set_aside`), so the
    rewrite that replaces it never loses what was in it."""
    path = Path(project_file)
    if not path.is_file():
        return None
    try:
        document = _read_document(path)
        review = document.get(REVIEW_KEY)
        if review is not None:
            _review_of(path, {REVIEW_KEY: review})
    except FileProblem:
        set_aside(path)
        return None
    return review


def set_aside(path: Path) -> Path:
    """Copy a project file that cannot be read to ``<name>.unreadable-<time>`` beside it (never over another)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        target = path.with_name(f"{path.name}.unreadable-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            with open(target, "xb") as copy:
                copy.write(path.read_bytes())
            return target
        except FileExistsError:
            continue
        except OSError as exc:
            raise FileProblem(path, f"cannot read the project file, nor keep a copy of it before replacing it: "
                              f"{exc.strerror or exc}") from exc
    raise FileProblem(path, "cannot find a free name to keep a copy of the unreadable project file")


@contextlib.contextmanager
def write_lock(project_file: Path, timeout_s: float = WRITE_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the short write lock of ``project_file`` (a hidden file beside it) while reading and rewriting it."""
    lock_path = Path(project_file).parent / WRITE_LOCK_NAME
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(lock_path, "a+b")
    except OSError as exc:
        raise FileProblem(lock_path, f"cannot create the project file's write lock: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                lock(stream)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FileProblem(Path(project_file), f"another program kept the project file locked for over "
                                      f"{timeout_s:.0f} s ({lock_path}); try again") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                unlock(stream)
    finally:
        stream.close()


def _read_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileProblem(path, "the project file is gone (moved or deleted while the folder was open)") from None
    except OSError as exc:
        raise FileProblem(path, f"cannot read the project file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FileProblem(path, f"project file is not UTF-8 text: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileProblem(path, f"project file is not valid TOML: {exc}") from exc


def _review_of(path: Path, document: dict[str, Any]) -> ReviewBook:
    try:
        return ReviewBook.from_mapping(document.get(REVIEW_KEY, {}))
    except (TypeError, ValueError) as exc:
        raise FileProblem(path, f"the review table is malformed: {exc}") from exc


def _header_of(path: Path) -> str:
    """The comment lines the file starts with (TOML parsers drop them), to write them back."""
    lines = []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if not line.startswith("#"):
                break
            lines.append(line)
    return "".join(lines)


def write_document(path: Path, document: Mapping[str, Any], header: str) -> None:
    """Write a project file atomically: ``header`` (comment lines), the document by tomli_w, and its review table
    last, one line per image (an inline table), so a file of thousands of reviews stays short and readable."""
    rest = {key: value for key, value in document.items() if key != REVIEW_KEY}
    review = document.get(REVIEW_KEY) or {}
    with atomic_write(path, text=True) as stream:
        stream.write(header)
        stream.write(tomli_w.dumps(rest))
        if review:
            stream.write(f"\n[{REVIEW_KEY}]\n")
            stream.writelines(f"{_toml_string(key)} = {_inline(value)}\n" for key, value in sorted(review.items()))


def _inline(value: object) -> str:
    """A TOML inline value for the plain data a review table holds (tables, lists, strings, numbers, booleans)."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_bare_or_quoted(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a review table holds finite numbers only, got {value}")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    raise TypeError(f"cannot write {type(value).__name__} into the review table")


def _bare_or_quoted(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON's escapes are TOML's basic-string escapes; DEL is the one control character JSON leaves as it is.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


__all__ = [
    "REVIEW_KEY", "WRITE_LOCK_NAME", "kept_review", "merge_review", "read_review", "set_aside", "write_document",
    "write_lock",
]  # fmt: skip
