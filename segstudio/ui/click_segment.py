"""Click to segment (H): a promptable model (Segment Anything, from a checkpoint on this disk) proposes the object
under the user's clicks; Enter paints the proposal in the selected class, through the same selection and undo path
as the other image tools.

The tool exists only once weights are known: File > Load click-to-segment weights... reads them on a worker
(:func:`~segstudio.models.promptable.load_promptable`) and the path is remembered, so a later run offers the tool
at once and loads them on first use. Until then the tool's action is greyed with the sentence why
(``availability(bool, reason)``); nothing is ever downloaded.

A click adds a point on the object, a right-click one it must leave out (:attr:`ToolController.marks`, drawn by
the canvas); each point set is answered on a worker (the first on an image embeds it: seconds on a CPU; choosing
the tool embeds the image at once), and the proposal is shown highlighted. A later point replaces a pending answer
(the worker pool's channel), an answer for an image the user has left is dropped, and on images past
:data:`~segstudio.models.promptable.MAX_REGION_SIDE` the model sees the part on screen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from segstudio.core.geometry import Rect
from segstudio.core.session import ImageSession
from segstudio.core.stamp import Stamp
from segstudio.models.promptable import (
    PromptableModel,
    PromptedMask,
    Prompts,
    load_promptable,
    prompt_region,
    unavailable_reason,
)
from segstudio.ui.canvas import Canvas
from segstudio.ui.tools import READ_ONLY_PROBLEM, Tool
from segstudio.ui.workers import WorkerFailure, WorkerPool

CHANNEL = "click to segment"
LOAD_CHANNEL = "click-to-segment weights"
SETTINGS_KEY = "click_to_segment/weights"
PREVIEW_COLOUR = (255, 255, 0)
NO_WEIGHTS = ("click to segment needs Segment Anything weights on this disk (nothing is downloaded): "
              "File > Load click-to-segment weights... and choose sam_vit_b_01ec64.pth (or ViT-L / ViT-H)")


class ClickSegment(QObject):
    """The click-to-segment tool of one window. ``status(message, ms)``; ``written(Rect)`` after a proposal was
    painted; ``availability(bool, reason)``: whether the tool can be chosen, and if not why."""

    status = Signal(str, int)
    written = Signal(object)
    availability = Signal(bool, str)

    def __init__(self, pool: WorkerPool, canvas: Canvas, settings: QSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._canvas = canvas
        self._settings = settings
        self.model: PromptableModel | None = None
        self.weights: Path | None = None  # chosen (or remembered), loaded or not yet
        self.proposal: PromptedMask | None = None
        self.proposed_for: tuple[tuple[float, float, bool], ...] = ()  # the points the proposal answers
        self._region: Rect | None = None
        self._image_token = object()  # names the shown image in the model's embedding cache
        self._loading = False
        self._shown: ImageSession | None = None
        canvas.prompt_clicked.connect(self.add_point)
        canvas.palettes_changed.connect(self._on_palettes)  # a new session (or new colours)
        canvas.prompt_ended.connect(lambda write: self.write() if write else self.drop())
        remembered = None if settings is None else settings.value(SETTINGS_KEY)
        if remembered and Path(str(remembered)).is_file():
            self.weights = Path(str(remembered))

    # -- availability ---------------------------------------------------------------------------------

    @property
    def reason_unavailable(self) -> str | None:
        """None when the tool can be chosen, else the sentence why not."""
        missing = unavailable_reason()
        if missing is not None:
            return missing
        return None if self.weights is not None else NO_WEIGHTS

    def announce(self) -> None:
        """Say whether the tool can be chosen (the window greys its action with the reason)."""
        reason = self.reason_unavailable
        self.availability.emit(reason is None, reason or "")

    def choose_weights(self, parent: QWidget | None = None) -> None:
        """File > Load click-to-segment weights...: ask for the file, then :meth:`load` it."""
        start = str(self.weights.parent) if self.weights is not None else ""
        path, _ = QFileDialog.getOpenFileName(parent, "Segment Anything weights", start,
                                              "Weights (*.pth *.pt *.bin *.safetensors);;All files (*)")
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> None:
        """Read the weights at ``path`` on a worker; on success the tool is offered and the path remembered."""
        path = Path(path)
        self._loading = True
        self.status.emit(f"reading the click-to-segment weights {path.name}...", 0)
        handle = self._pool.submit(LOAD_CHANNEL, lambda _progress, _cancel: load_promptable(path))
        handle.signals.finished.connect(lambda model, p=path: self._loaded(p, model))
        handle.signals.failed.connect(lambda failure, p=path: self._load_failed(p, failure))

    def _loaded(self, path: Path, model: PromptableModel) -> None:
        self._loading = False
        self.model, self.weights = model, path
        if self._settings is not None:
            self._settings.setValue(SETTINGS_KEY, str(path))
        self.announce()
        self.status.emit(f"click to segment ready: {model.name} from {path.name} on {model.device.type} (H chooses "
                         "the tool)", 8000)
        self.prepare()

    def _load_failed(self, path: Path, failure: WorkerFailure) -> None:
        self._loading = False
        if self.model is None or self.weights == path:
            self.model, self.weights = None, None
            if self._settings is not None:
                self._settings.remove(SETTINGS_KEY)
        self.announce()
        self.status.emit(f"click to segment not available: {failure.message}", 15000)

    # -- following the window -----------------------------------------------------------------------------

    def tool_chosen(self, tool: Tool) -> None:
        """The user chose ``tool``: the click tool embeds the shown image at once (loading remembered weights
        first); any other drops a proposal."""
        self.drop(quiet=True)
        if tool is not Tool.CLICK:
            return
        reason = self.reason_unavailable
        if reason is not None:
            self.status.emit(reason, 10000)
        elif self.model is None and not self._loading and self.weights is not None:
            self.load(self.weights)
        else:
            self.prepare()
            self.status.emit("click the object; right-click what it must leave out; Enter paints it, Esc drops it",
                             6000)

    def image_changed(self) -> None:
        """Another image (or none) is shown: its points and proposal go, and the new one is embedded if the tool
        is chosen."""
        self._image_token = object()
        self.drop(quiet=True)
        self._pool.cancel(CHANNEL, drop=True)
        if self._canvas.tools.tool is Tool.CLICK:
            self.prepare()

    def _on_palettes(self) -> None:
        if self._canvas.session is not self._shown:
            self._shown = self._canvas.session
            self.image_changed()

    def prepare(self) -> None:
        """Embed the shown image (its part on screen, when large) on a worker, so the first click is quick."""
        session, model = self._canvas.session, self.model
        if session is None or model is None or self._canvas.tools.tool is not Tool.CLICK:
            return
        region, image, token = prompt_region(session.shape, self._canvas.tools.view), session.image, self._image_token
        self._pool.submit(CHANNEL, lambda _progress, _cancel: model.prepare(image, region, token))

    # -- points, proposal, writing ------------------------------------------------------------------------

    def add_point(self, x: float, y: float, inside: bool) -> None:
        """A click (``inside``) or right-click at image point ``(x, y)``: ask the model again with every point."""
        session, tools, model = self._canvas.session, self._canvas.tools, self.model
        if session is None or tools.tool is not Tool.CLICK:
            return
        if model is None:
            self.status.emit(self.reason_unavailable or "the click-to-segment weights are still being read...", 8000)
            return
        height, width = session.shape
        if not (0 <= x < width and 0 <= y < height):
            return
        if not tools.marks:
            self._region = prompt_region(session.shape, tools.view)
        region = self._region
        assert region is not None
        prompts = Prompts(tools.marks).adding(x, y, inside)
        if not prompts.within(region):
            self.status.emit(f"the model sees {region.width}x{region.height} px of this large image around where it "
                             "was first clicked: Esc, zoom to the object and click again", 8000)
            return
        tools.marks = prompts.points
        self._canvas.update()
        image, token = session.image, self._image_token
        handle = self._pool.submit(CHANNEL, lambda _progress, _cancel: model.segment(image, region, prompts, token))
        handle.signals.finished.connect(lambda found, s=session, p=prompts: self._proposed(s, p, found))
        handle.signals.failed.connect(self._failed)
        self.status.emit(f"{model.name} is finding the object ({_count(prompts)})...", 0)

    def _proposed(self, session: ImageSession, prompts: Prompts, found: PromptedMask) -> None:
        tools = self._canvas.tools
        if session is not self._canvas.session or tools.marks != prompts.points:
            return  # the user left the image, or dropped these points
        self.proposal, self.proposed_for = found, prompts.points
        shown = np.zeros(session.shape, dtype=bool)
        shown[found.rect.slices] = found.pixels
        self._canvas.set_highlight(shown, PREVIEW_COLOUR)
        if found.count == 0:
            self.status.emit("the model found nothing there: click elsewhere on the object, or Esc", 8000)
            return
        name = session.labels.name_of(tools.value)
        self.status.emit(f"proposed: {found.count:,} px in yellow (the model rates it {found.score:.2f}; "
                         f"{_count(prompts)}). Enter paints it as {name}, a right-click leaves a part out, Esc drops it",
                         0)

    def write(self) -> Rect | None:
        """Enter: paint the proposal in the selected class (the paint scope applies), one undo step."""
        session, tools, found = self._canvas.session, self._canvas.tools, self.proposal
        if session is None:
            return None
        if tools.read_only:
            self.status.emit(READ_ONLY_PROBLEM, 8000)
            return None
        if found is None or found.count == 0:
            self.status.emit("nothing to paint yet: wait for the proposal (yellow), or click on the object", 6000)
            return None
        changed = session.write_found(Stamp(found.rect, found.pixels, tools.value), tools.value, tools.scope)
        name = session.labels.name_of(tools.value)
        self.drop(quiet=True)
        self.status.emit(f"click to segment: {found.count:,} px painted as {name} (Ctrl+Z undoes)", 8000)
        self.written.emit(changed)
        return changed

    def drop(self, *, quiet: bool = False) -> None:
        """Esc: forget the points and the proposal."""
        had = bool(self._canvas.tools.marks) or self.proposal is not None
        self._canvas.tools.marks = ()
        self._region = None
        if self.proposal is not None:
            self._canvas.set_highlight(None)
        self.proposal, self.proposed_for = None, ()
        self._canvas.update()
        if had and not quiet:
            self.status.emit("click to segment: points dropped", 3000)

    def _failed(self, failure: WorkerFailure) -> None:
        self.status.emit(f"click to segment: {failure.message}", 10000)


def _count(prompts: Prompts) -> str:
    inside = sum(1 for *_, on in prompts.points if on)
    outside = len(prompts.points) - inside
    return f"{inside} point{'s' * (inside != 1)} on it" + (f", {outside} left out" if outside else "")


__all__ = ["CHANNEL", "ClickSegment", "NO_WEIGHTS", "SETTINGS_KEY"]
