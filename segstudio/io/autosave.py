"""Crash safety: the working mask of each image, written every few seconds, offered back after a crash.

:class:`AutosaveStore` owns the writing, clean-up and reading of the autosave folder; what the files are, how
they are named and what a description holds is :mod:`segstudio.io.autosave_files`.

A save writes the PNG, then the description: the description is the commit point. A save killed at any moment
leaves the previous description pointing at the previous, complete PNG; PNGs no description names are cleaned
up by the next save or discard of that image.

Saving a correction makes an autosave redundant only if the save holds everything the autosave holds:
:meth:`AutosaveStore.discard_saved` removes an autosave written by the same store for an earlier editing session of
that image, or for the same session at the saved revision or before; a newer autosave (strokes made while the save
was writing) and anything another writer left are kept. Writes and removals of one store are serialised by a lock,
so a save finishing on one worker thread cannot remove an autosave being written on another.

An autosave another writer left (a window that crashed before its work was recovered or discarded) is never
replaced by this writer's autosave of the same image: it is moved aside to ``<name>+<its writer>.json`` first and
stays on offer, with its PNG, until the user recovers or discards it.

A corrupt autosave (unreadable description, missing or truncated PNG) is never deleted behind the user's back
and never raises from :meth:`AutosaveStore.pending`: it is listed as a :class:`Recoverable` with its
``problem``, so the app can say what is wrong and offer to discard it; :meth:`AutosaveStore.load` raises
:class:`~segstudio.core.errors.FileProblem` for it.

Cost: a save is one PNG encode plus two fsynced atomic writes, about 0.15-0.4 s for a 4096x4096 mask
(depends on how busy the mask is); run it on a worker with a copy of the mask, not on the GUI thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import numpy as np

from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.atomic import write_text_atomic
from segstudio.core.errors import FileProblem
from segstudio.io.autosave_files import (
    ASIDE,
    AUTOSAVE_FOLDER,
    DESCRIPTION_SUFFIX,
    MASK_SUFFIX,
    Recoverable,
    description_stem,
    file_stem,
    mask_stem,
    new_description,
    recoverable_from_description,
)
from segstudio.io.mask_files import (
    class_mask_dtype,
    read_mask_and_instances,
    write_class_mask,
    write_instance_mask,
)

if TYPE_CHECKING:
    from segstudio.io.datasets import Dataset


class AutosaveStore:
    """Autosaves of working masks in one folder (the layout: :mod:`segstudio.io.autosave_files`).

    ``correction_path(sample_key)`` tells where that image's saved correction lives (None: nowhere known);
    :meth:`pending` uses it to leave out autosaves older than the saved correction. :meth:`for_dataset`
    wires it to a dataset. The folder is created on the first save.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        correction_path: Callable[[str], Path | None] | None = None,
        writer: str | None = None,
    ) -> None:
        self._folder = Path(folder)
        self._correction_path = correction_path
        self._writer = writer or uuid.uuid4().hex  # this store's own autosaves are the only ones it removes on save
        self._lock = threading.Lock()
        self._saved: dict[str, tuple[str, int]] = {}  # sample key -> (session, revision) of its last saved correction
        # sample key -> (session, revision) of the newest autosave this store wrote: the window runs autosave jobs
        # side by side on its worker pool (and one on the GUI thread when closing), so an older job can reach the
        # lock after a newer one has written; it must not put the older work back over the newer.
        self._autosaved: dict[str, tuple[str, int]] = {}
        self._adopted: set[Path] = set()  # descriptions of other writers recovered into this one's work

    @classmethod
    def for_dataset(cls, dataset: Dataset) -> AutosaveStore:
        """The store in ``<project dir>/segstudio-autosave/``, aware of the dataset's corrections."""
        samples = {sample.key: sample for sample in dataset.samples}

        def correction_path(key: str) -> Path | None:
            sample = samples.get(key)
            return None if sample is None else dataset.correction_path(sample)

        return cls(dataset.project_file.parent / AUTOSAVE_FOLDER, correction_path=correction_path)

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def writer(self) -> str:
        return self._writer

    # -- writing ---------------------------------------------------------------------------------------

    def save(
        self,
        sample_key: str,
        mask: np.ndarray,
        *,
        revision: int,
        labels: LabelSet,
        image_path: str | Path | None = None,
        session: str = "",
        instances: InstanceMask | None = None,
    ) -> Path | None:
        """Write ``mask`` (a 2-D class mask valid for ``labels``) as the autosave of ``sample_key``; return the
        PNG's path. Atomic as a pair: until the description is replaced, the previous autosave stays whole.
        ``session`` names the editing session (one image opened once) and ``revision`` its document revision.
        Returns None without writing when a correction of that session at ``revision`` or later is already saved
        (an autosave that was queued while the save ran), or when this store already autosaved that session at
        ``revision`` or later (an autosave job that reached the store after a newer one). ``instances``: an instance session's objects, written
        instead of the class mask (a tagged instance PNG, whose classes give the mask back), so recovery keeps which
        pixel belongs to which object."""
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"an autosave holds a 2-D class mask, got shape {mask.shape}")
        with self._lock:
            saved = self._saved.get(sample_key)
            if session and saved is not None and saved[0] == session and saved[1] >= revision:
                return None
            written = self._autosaved.get(sample_key)
            if session and written is not None and written[0] == session and written[1] >= revision:
                return None  # this session's newer (or same) work is already autosaved: revisions only grow
            path = self._write(sample_key, mask, revision=revision, labels=labels, image_path=image_path,
                               session=session, instances=instances)
            if session:
                self._autosaved[sample_key] = (session, revision)
            return path

    def _write(
        self, sample_key: str, mask: np.ndarray, *, revision: int, labels: LabelSet, image_path: str | Path | None,
        session: str, instances: InstanceMask | None = None,
    ) -> Path:
        stem = file_stem(sample_key)
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileProblem(self._folder, f"cannot create the autosave folder: {exc.strerror or exc}") from exc
        self._set_aside_foreign(stem)
        mask_path = self._folder / f"{stem}.{uuid.uuid4().hex[:12]}{MASK_SUFFIX}"
        if instances is not None:
            write_instance_mask(mask_path, instances)
        else:
            write_class_mask(mask_path, mask, labels)
        try:
            description = new_description(
                sample_key, writer=self._writer, session=session, revision=revision, image_path=image_path,
                shape=mask.shape, dtype=class_mask_dtype(labels).name, mask_file=mask_path,
            )
            write_text_atomic(self._folder / f"{stem}{DESCRIPTION_SUFFIX}", json.dumps(description, indent=1))
            self._adopted.discard(self._folder / f"{stem}{DESCRIPTION_SUFFIX}")  # ours now, recovered work included
        except BaseException:
            with contextlib.suppress(OSError):
                mask_path.unlink()
            raise
        self._remove_masks(stem, keep={mask_path.name})
        return mask_path

    def _set_aside_foreign(self, stem: str) -> None:
        """Move the description at ``<stem>.json`` out of the way when this store did not write it (and did not
        recover it): it is somebody's unsaved work, or a corrupt autosave, and neither is ours to replace."""
        description = self._folder / f"{stem}{DESCRIPTION_SUFFIX}"
        if description in self._adopted:
            return
        try:
            data = json.loads(description.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            data = None
        writer = data.get("writer") if isinstance(data, dict) else None
        if writer == self._writer:
            return
        tag = writer if isinstance(writer, str) and writer.isalnum() else f"unknown{uuid.uuid4().hex[:8]}"
        aside = self._folder / f"{stem}{ASIDE}{tag[:16]}{DESCRIPTION_SUFFIX}"
        if aside.exists():
            aside = self._folder / f"{stem}{ASIDE}{tag[:16]}-{uuid.uuid4().hex[:8]}{DESCRIPTION_SUFFIX}"
        os.replace(description, aside)

    def discard(self, sample_key: str) -> None:
        """Remove every autosave of ``sample_key`` (descriptions, then every PNG of it), whoever wrote them; no
        error if none. For tools; the window discards what the user chose with :meth:`discard_entry`."""
        with self._lock:
            stem = file_stem(sample_key)
            for description in self._descriptions_of(stem):
                with contextlib.suppress(FileNotFoundError):
                    description.unlink()
            self._remove_masks(stem, keep=set())

    def discard_entry(self, entry: Recoverable) -> None:
        """Remove the one autosave ``entry`` (as :meth:`pending` listed it): its description and its PNG."""
        with self._lock:
            self._remove_entry(entry.description, entry.path)

    def discard_saved(self, sample_key: str, *, session: str, revision: int) -> bool:
        """A correction holding ``session`` at ``revision`` was saved: remove the autosave it makes redundant.

        Removed only when this store wrote it, for an earlier session of the image or for this session at
        ``revision`` or before. Kept: a newer autosave of this session (strokes made while the save ran), one
        another writer left (another window's unsaved work), and a corrupt one (never deleted behind the user's
        back). Later :meth:`save` calls for this session up to ``revision`` are skipped. True if removed."""
        stem = file_stem(sample_key)
        with self._lock:
            previous = self._saved.get(sample_key)
            if previous is None or previous[0] != session or previous[1] < revision:
                self._saved[sample_key] = (session, revision)
            removed = self._remove_adopted(stem)  # recovered from a crashed window: this save holds them
            description = self._folder / f"{stem}{DESCRIPTION_SUFFIX}"
            try:
                data = json.loads(description.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return removed
            if not isinstance(data, dict) or data.get("writer") != self._writer:
                return removed
            autosaved_revision = data.get("revision")
            same_session = data.get("session") == session
            if same_session and (not isinstance(autosaved_revision, int) or autosaved_revision > revision):
                # Newer work, autosaved while the save was writing, so *before* the correction file's time: stamp
                # it with the time now, or :meth:`pending` would take it for older than the save and hide it.
                data["saved_at"] = time.time()
                data["saved_at_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
                write_text_atomic(description, json.dumps(data, indent=1))
                return False
            with contextlib.suppress(FileNotFoundError):
                description.unlink()
            self._remove_masks(stem, keep=set())  # it keeps what other descriptions still name
            return True

    def adopt(self, entry: Recoverable) -> None:
        """``entry``, left by another writer (a window that crashed), was recovered into this store's work: a
        save of that work makes it redundant too, and this store's autosaves may replace it."""
        with self._lock:
            self._adopted.add(entry.description)

    def _remove_adopted(self, stem: str) -> bool:
        removed = False
        for description in self._descriptions_of(stem):
            if description in self._adopted:
                self._adopted.discard(description)
                self._remove_entry(description, None)
                removed = True
        return removed

    def _remove_entry(self, description: Path, mask: Path | None) -> None:
        """Remove one description and its PNG (``mask``, else the one it names), unless another description of
        the same image names that PNG too."""
        if mask is None:
            try:
                data = json.loads(description.read_text(encoding="utf-8"))
                name = data.get("mask_file") if isinstance(data, dict) else None
                mask = self._folder / name if isinstance(name, str) and Path(name).name == name else None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                mask = None
        with contextlib.suppress(FileNotFoundError):
            description.unlink()
        if mask is not None and mask.parent == self._folder:
            stem = mask_stem(mask.name)
            if stem is None or mask.name not in self._referenced_masks(stem):
                with contextlib.suppress(FileNotFoundError):
                    mask.unlink()

    def _descriptions_of(self, stem: str) -> list[Path]:
        """``<stem>.json`` and the set-aside ``<stem>+<writer>.json`` files, those that exist."""
        if not self._folder.is_dir():
            return []
        return [
            path for path in self._folder.glob(f"*{DESCRIPTION_SUFFIX}")
            if description_stem(path.name) == stem
        ]

    def _referenced_masks(self, stem: str) -> set[str]:
        """The PNG names the descriptions of ``stem`` point at: never removed while a description needs them."""
        names: set[str] = set()
        for description in self._descriptions_of(stem):
            try:
                data = json.loads(description.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            name = data.get("mask_file") if isinstance(data, dict) else None
            if isinstance(name, str):
                names.add(name)
        return names

    # -- reading ---------------------------------------------------------------------------------------

    def pending(self) -> list[Recoverable]:
        """Autosaves worth offering back: newer than the saved correction of their image, or with none; and
        every corrupt autosave, with its ``problem``. Sorted by sample key. Reads descriptions and file
        sizes only, never a PNG's pixels. Never raises for what it finds in the folder."""
        if not self._folder.is_dir():
            return []
        found: list[Recoverable] = []
        described: set[str] = set()
        for path in sorted(self._folder.glob(f"*{DESCRIPTION_SUFFIX}")):
            stem = description_stem(path.name)
            if stem is None:
                continue
            described.add(stem)
            entry = self._inspect(path, stem)
            if entry.problem is None and not self._newer_than_correction(entry):
                continue
            found.append(entry)
        orphans: dict[str, Path] = {}
        for path in sorted(self._folder.glob(f"*{MASK_SUFFIX}")):
            stem = mask_stem(path.name)
            if stem is not None and stem not in described:
                orphans.setdefault(stem, path)
        for stem, path in orphans.items():
            found.append(
                Recoverable(
                    unquote(stem), path, self._folder / f"{stem}{DESCRIPTION_SUFFIX}",
                    problem="autosave without its description file (a save was interrupted); it cannot be "
                    "matched to an image safely: discard it or open it by hand",
                )
            )
        return sorted(found, key=lambda entry: entry.sample_key)

    def load(self, recoverable: Recoverable) -> np.ndarray | InstanceMask:
        """The autosaved mask, bit-exact and writable (an instance session's autosave: its instances); :class:`FileProblem`
        (naming the file and what is wrong) for a corrupt autosave."""
        if recoverable.problem is not None:
            raise FileProblem(recoverable.path, recoverable.problem)
        try:
            raw, instances = read_mask_and_instances(recoverable.path)
        except FileProblem as problem:
            raise FileProblem(recoverable.path, f"autosave is unreadable: {problem.problem}") from None
        except (OSError, ValueError) as exc:
            raise FileProblem(recoverable.path, f"autosave is unreadable: {exc}") from None
        values = raw.values if instances is None else np.asarray(instances.ids)
        if recoverable.shape is not None and values.shape != recoverable.shape:
            raise FileProblem(
                recoverable.path,
                f"autosave is {values.shape[1]}x{values.shape[0]} but its description says "
                f"{recoverable.shape[1]}x{recoverable.shape[0]}",
            )
        if instances is not None:
            return instances
        dtype = np.dtype(recoverable.dtype) if recoverable.dtype else values.dtype
        return np.array(values, dtype=dtype, copy=True)

    # -- internals -------------------------------------------------------------------------------------

    def _inspect(self, path: Path, stem: str) -> Recoverable:
        """A Recoverable from a description file; problems become its ``problem``, never exceptions."""
        fallback_key = unquote(stem)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            return Recoverable(fallback_key, path, path, problem=f"cannot read the autosave description: {exc.strerror or exc}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return Recoverable(fallback_key, path, path, problem=f"autosave description is corrupt (not JSON: {exc})")
        try:
            entry = recoverable_from_description(data, self._folder, path)
        except (KeyError, TypeError, ValueError) as exc:
            reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            return Recoverable(fallback_key, path, path, problem=f"autosave description is corrupt: {reason}")
        expected = data.get("mask_bytes")
        try:
            size = entry.path.stat().st_size
        except FileNotFoundError:
            return _with_problem(entry, "the autosaved mask file is missing")
        except OSError as exc:
            return _with_problem(entry, f"cannot read the autosaved mask: {exc.strerror or exc}")
        if isinstance(expected, int) and size != expected:
            return _with_problem(
                entry, f"the autosaved mask is {size} bytes but was written as {expected}: the file is truncated or damaged"
            )
        return entry

    def _newer_than_correction(self, entry: Recoverable) -> bool:
        if self._correction_path is None or entry.saved_at is None:
            return True
        correction = self._correction_path(entry.sample_key)
        if correction is None:
            return True
        try:
            saved = correction.stat().st_mtime
        except OSError:
            return True  # no saved correction: the autosave is the only copy of the work
        return entry.saved_at > saved

    def _remove_masks(self, stem: str, keep: set[str]) -> None:
        """Remove the PNGs of ``stem`` except those named in ``keep`` and those another description still names."""
        if not self._folder.is_dir():
            return
        keep = keep | self._referenced_masks(stem)
        for path in self._folder.glob(f"*{MASK_SUFFIX}"):
            if path.name not in keep and mask_stem(path.name) == stem:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _with_problem(entry: Recoverable, problem: str) -> Recoverable:
    return replace(entry, problem=problem)


# Recoverable is re-exported: the window's modules import it from here.
__all__ = ["AutosaveStore", "Recoverable"]
