"""An export's files: the plan of those it will write, checked against what exists before anything is written, and
the listing every importer reads its folder with."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from segstudio.core.atomic import atomic_write, write_bytes_atomic
from segstudio.core.errors import FileProblem
from segstudio.core.natural_order import natural_key


@dataclass(frozen=True)
class Step:
    """One unit of an export's work: ``run`` writes ``path`` (atomically), or, with ``path`` None, prepares what a
    later step writes (e.g. one image's COCO annotations)."""

    path: Path | None
    run: Callable[[], None]


def check_targets(out_dir: Path, steps: Iterable[Step], *, overwrite: bool) -> None:
    """FileProblem naming the first file that exists (unless ``overwrite``) or the folder that is not one."""
    if out_dir.exists() and not out_dir.is_dir():
        raise FileProblem(out_dir, "is a file; exports go into a folder")
    seen: set[Path] = set()
    for step in steps:
        if step.path is None:
            continue
        if step.path in seen:
            raise FileProblem(step.path, "two images would write this file; image names must differ")
        seen.add(step.path)
        if step.path.is_dir():
            raise FileProblem(step.path, "a folder of that name exists where the export writes a file")
        if step.path.exists() and not overwrite:
            raise FileProblem(step.path, "exists; the export does not replace files unless asked (overwrite)")


def make_folders(steps: Iterable[Step]) -> None:
    for folder in sorted({step.path.parent for step in steps if step.path is not None}):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileProblem(folder, f"cannot create the folder: {exc.strerror or exc}") from exc


def copy_step(source: Path, target: Path) -> Step:
    """Copy an image next to the annotations (atomically; a file onto itself is left alone)."""

    def run() -> None:
        if target.exists() and target.resolve() == source.resolve():
            return
        try:
            with source.open("rb") as stream, atomic_write(target) as out:
                while chunk := stream.read(1 << 20):
                    out.write(chunk)
        except OSError as exc:
            raise FileProblem(source, f"cannot copy the image: {exc.strerror or exc}") from exc

    return Step(target, run)


def text_step(target: Path, produce: Callable[[], str]) -> Step:
    return Step(target, lambda: write_bytes_atomic(target, produce().encode("utf-8")))


def files_in(folder: Path, suffix: str, names: Collection[str] | None = None) -> list[Path]:
    """The ``suffix`` files of ``folder`` (case-insensitive, hidden ones left out) in natural order of their stems;
    ``names``: only those stems."""
    suffix = suffix.lower()
    try:
        listed = list(folder.iterdir())
    except OSError as exc:  # no permission, or gone since it was checked: named, never a traceback
        raise FileProblem(folder, f"cannot read the folder: {exc.strerror or exc}") from None
    files = sorted((p for p in listed if p.suffix.lower() == suffix and not p.name.startswith(".")),
                   key=lambda p: natural_key(p.stem))  # fmt: skip
    return files if names is None else [p for p in files if p.stem in names]

