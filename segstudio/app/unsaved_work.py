"""Unsaved work on images that are not on screen, Qt-free: kept when the user leaves an image with changes (and in
its autosave), or recovered from an earlier run's autosave; put back on top when the image loads again, saved with
the others, or dropped with their autosaves when the user discards it. Each is held compressed
(:class:`PackedMask`): a long day leaves work on hundreds of images.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from segstudio.app.sample_loader import ResumedWork
from segstudio.core.instances import InstanceMask
from segstudio.io.autosave import AutosaveStore
from segstudio.io.corrections import SavedWork


@dataclass(frozen=True, eq=False)
class PackedMask:
    """A class mask held zlib-compressed, bit-exact. Work left on image after image stays in memory for the whole
    run (issue 14: a long day of painting grew by the full mask, H x W bytes, per image left); a class mask is
    mostly runs of one value, so it packs small (a CamVid 480x360 mask with a stroke: 169 KiB to about 6 KiB, in
    0.3 ms; 4096x4096: 16 MiB to about 0.4 MiB, in about 50 ms, once, when the user leaves the image)."""

    data: bytes
    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def pack(cls, mask: np.ndarray) -> PackedMask:
        mask = np.asarray(mask)
        return cls(zlib.compress(np.ascontiguousarray(mask).tobytes(), 1), mask.shape, mask.dtype)

    def unpack(self) -> np.ndarray:
        """A new writable array, equal to the mask packed."""
        flat = np.frombuffer(zlib.decompress(self.data), dtype=self.dtype)
        return flat.reshape(self.shape).copy()

    @property
    def nbytes(self) -> int:
        """What it takes in memory (the compressed bytes)."""
        return len(self.data)


@dataclass(frozen=True, eq=False)
class LeftWork:
    """One image's unsaved work: its class mask (``packed``) as ``work`` (editing session, revision) left it, and
    how it was kept; ``instances``: an instance session's objects as they were (the class mask alone would lose
    which is which)."""

    packed: PackedMask
    work: SavedWork
    how: ResumedWork
    instances: InstanceMask | None = None

    @property
    def mask(self) -> np.ndarray:
        """The class mask (a new array each time)."""
        return self.packed.unpack()

    @property
    def on_top(self) -> np.ndarray | InstanceMask:
        """What goes back on top of the image when it loads again."""
        return self.mask if self.instances is None else self.instances


RECOVERED_WORK = SavedWork("", 0)  # recovered work was made by no editing session of this run


class LeftWorks:
    """Image key -> :class:`LeftWork`, in the order the images were left."""

    def __init__(self) -> None:
        self._left: dict[str, LeftWork] = {}

    def keep(self, key: str, mask: np.ndarray, work: SavedWork, instances: InstanceMask | None = None) -> None:
        """The user left image ``key`` with changes (``mask`` as ``work`` holds them; packed here, so not changed
        later by the caller)."""
        self._left[key] = LeftWork(PackedMask.pack(mask), work, ResumedWork.KEPT, instances)

    def recovered(self, key: str, mask: np.ndarray, instances: InstanceMask | None = None) -> None:
        """Work on ``key`` recovered from an autosave, not shown yet."""
        self._left[key] = LeftWork(PackedMask.pack(mask), RECOVERED_WORK, ResumedWork.RECOVERED, instances)

    def get(self, key: str) -> LeftWork | None:
        return self._left.get(key)

    def take(self, key: str) -> LeftWork | None:
        """``key``'s work, no longer left: its image is loading with it on top."""
        return self._left.pop(key, None)

    def saved(self, key: str, revision: int) -> bool:
        """A save of ``key``'s left work at ``revision`` was written: it is not unsaved any more. True if it was."""
        left = self._left.get(key)
        if left is None or left.work.revision != revision:
            return False
        del self._left[key]
        return True

    def keys(self) -> list[str]:
        return list(self._left)

    def __contains__(self, key: object) -> bool:
        return key in self._left

    def clear(self) -> None:
        self._left.clear()

    def discard_all(self, store: AutosaveStore | None) -> list[str]:
        """Drop every left work and the autosaves that hold it (those this window wrote, and recovered ones it
        adopted; another window's are never touched); returns the keys dropped."""
        keys = list(self._left)
        if store is not None:
            for key, left in self._left.items():
                # The autosave holds this work, or an earlier state of it: what a save of it would make redundant.
                store.discard_saved(key, session=left.work.session, revision=left.work.revision)
        self._left.clear()
        return keys


__all__ = ["LeftWork", "LeftWorks", "PackedMask", "RECOVERED_WORK"]
