"""Fixing the model's mask region by region: choose an error region (the region tool, R, clicks one; "." and ","
step through them largest first) and take the ground truth there (T), the prediction (Y), or the selected class (S),
each one undo step with the live figures following.

A region is a connected patch of one kind of error of the working mask against the ground truth
(:mod:`segstudio.core.error_regions`); the chosen one is shown in white over the canvas. Stepping lists the regions
again whenever the mask changed since (a fixed region is gone, so "." after a fix goes to the largest one left),
leaving out specks under :data:`MIN_STEP_AREA` pixels, which the region tool can still click.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from segstudio.core.error_regions import ErrorRegion, RegionFix
from segstudio.core.geometry import Rect
from segstudio.core.session import ImageSession
from segstudio.ui.actions import Command
from segstudio.ui.canvas import Canvas

REGION_COLOUR = (255, 255, 255)  # the chosen region: white, apart from the error map's magenta, cyan and yellow
MIN_STEP_AREA = 16  # stepping skips regions smaller than this (boundary specks); a click still picks them
WHOLE_IMAGE_PIXELS = 16_000_000  # up to this, regions are listed over the whole image; past it, what is on screen
LOOK_SIDE = 4096  # ...at most this many pixels a side (a whole-slide image's regions cost what is looked at)
SHOWN_MS = 8000


class RegionFixController(QObject):
    """The chosen error region of the shown image and its fixes (see the module notes). ``status(message, ms)``."""

    status = Signal(str, int)

    def __init__(self, canvas: Canvas, current_class: Callable[[], int], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._current_class = current_class
        self._region: ErrorRegion | None = None
        self._listed: list[ErrorRegion] = []
        self._listed_at: tuple[int, int] | None = None  # (session id, revision) the list was made at
        self._index = -1
        self._fresh = True  # the list was just made: stepping starts at one of its ends
        canvas.region_clicked.connect(self.choose_at)
        canvas.palettes_changed.connect(self._forget)  # a new session (or colours): nothing chosen

    @property
    def region(self) -> ErrorRegion | None:
        return self._region

    def command_slots(self) -> dict[Command, Callable[[], object]]:
        return {
            Command.NEXT_ERROR_REGION: lambda: self.step(1),
            Command.PREVIOUS_ERROR_REGION: lambda: self.step(-1),
            Command.TAKE_TRUTH_IN_REGION: lambda: self.fix(RegionFix.TRUTH),
            Command.TAKE_PREDICTION_IN_REGION: lambda: self.fix(RegionFix.PREDICTION),
            Command.SET_REGION_CLASS: lambda: self.fix(RegionFix.CLASS),
        }

    # -- choosing ----------------------------------------------------------------------------------------

    def choose_at(self, x: float, y: float) -> None:
        session = self._session_with_truth()
        if session is None:
            return
        region = session.error_region_at(x, y, within=self._around(session, x, y))
        if region is None:
            self._show(None)
            self.status.emit("no error there: the working mask agrees with the ground truth (or the pixel is not "
                             "scored)", 5000)
            return
        self._show(region)

    def step(self, direction: int) -> None:
        """Choose the next (``direction`` 1) or previous (-1) error region, largest first."""
        session = self._session_with_truth()
        if session is None:
            return
        if (id(session), session.revision) != self._listed_at:
            self._list(session)
        if self._fresh:  # a new list: "." starts at its largest region, "," at its smallest
            self._index, self._fresh = (-1 if direction > 0 else 0), False
        if not self._listed:
            self._show(None)
            self.status.emit(f"no error region of {MIN_STEP_AREA} px or more left: this image matches its ground "
                             "truth", SHOWN_MS)
            return
        self._index = (self._index + direction) % len(self._listed)
        self._show(self._listed[self._index], position=(self._index + 1, len(self._listed)))

    def _show(self, region: ErrorRegion | None, position: tuple[int, int] | None = None) -> None:
        self._region = region
        session = self._canvas.session
        if region is None or session is None:
            self._canvas.set_highlight(None)
            return
        self._canvas.set_highlight(region.mask(session.shape), REGION_COLOUR)
        self._canvas.show_rect(region.rect)
        where = "" if position is None else f" ({position[0]} of {position[1]}, largest first)"
        name = session.labels.name_of(self._current_class())
        self.status.emit(f"{region.describe()}{where}: T takes the ground truth, Y the prediction, S makes it "
                         f"{name}", SHOWN_MS)

    def _forget(self) -> None:
        self._region, self._listed, self._listed_at, self._index, self._fresh = None, [], None, -1, True

    # -- fixing ------------------------------------------------------------------------------------------

    def fix(self, how: RegionFix) -> None:
        session, region = self._canvas.session, self._region
        if session is None:
            return
        if region is None:
            self.status.emit("choose an error region first: \".\" goes to the largest, or click one with the region "
                             "tool (R)", 6000)
            return
        if self._canvas.tools.read_only:
            self.status.emit("read-only: this folder is open in another window", 8000)
            return
        value = self._current_class() if how is RegionFix.CLASS else None
        self._canvas.tools.cancel()
        try:
            session.fix_error_region(region, how, value)
        except ValueError as problem:
            self.status.emit(str(problem), 8000)
            return
        self._show(None)
        left = len(self._list(session))  # "." next takes the largest of these without listing them again
        what = session.labels.name_of(value) if value is not None else how.value.removeprefix("take ")
        self.status.emit(f"{region.describe()}: now {what} (Ctrl+Z undoes); {left} region(s) left, \".\" for the "
                         "next", SHOWN_MS)

    def _list(self, session: ImageSession) -> list[ErrorRegion]:
        """The regions to step through now (largest first), noted with the mask's revision they were listed at."""
        self._listed = session.error_regions(min_area=MIN_STEP_AREA, within=self._looked_at(session))
        self._listed_at, self._fresh = (id(session), session.revision), True
        return self._listed

    def _looked_at(self, session: ImageSession) -> Rect | None:
        """Where regions are listed: the whole image up to :data:`WHOLE_IMAGE_PIXELS`, else the part on screen (at
        most :data:`LOOK_SIDE` pixels a side around its middle): a huge image costs what is looked at."""
        height, width = session.shape
        if height * width <= WHOLE_IMAGE_PIXELS:
            return None
        view = self._canvas.tools.view or Rect.full(session.shape)
        middle = ((view.left + view.right) / 2, (view.top + view.bottom) / 2)
        return Rect.around(middle, LOOK_SIDE, session.shape).intersection(view)

    def _around(self, session: ImageSession, x: float, y: float) -> Rect | None:
        height, width = session.shape
        if height * width <= WHOLE_IMAGE_PIXELS:
            return None
        return Rect.around((x, y), LOOK_SIDE, session.shape)

    def _session_with_truth(self) -> ImageSession | None:
        session = self._canvas.session
        if session is None:
            return None
        if session.error_map is None:
            self.status.emit("this image has no ground truth, so there are no error regions to fix", 6000)
            return None
        return session


__all__ = ["MIN_STEP_AREA", "REGION_COLOUR", "RegionFixController"]
