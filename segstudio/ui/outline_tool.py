"""The outline tool (O): a region of the working mask as an editable polygon, written back on Enter.

A click on the mask traces the class region under it (8-connected; on an instance image, the object under it) as an
outline simplified to
:attr:`OutlineTool.tolerance` pixels (:mod:`segstudio.core.outlines`: at tolerance 0 it is the region's exact pixel
edges). Then: drag a vertex to move it; press on an edge to add a vertex there (and drag it); right-click a vertex
to delete it; Enter writes the outline back over the region as one undo step (:meth:`ImageSession.write_outline`);
Esc drops it. The status line says how many pixels writing it would change, so a simplified but unedited outline
is never written silently different from its region. No Qt here: the canvas forwards gestures in image
coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segstudio.core.geometry import Rect
from segstudio.core.outlines import EditableOutline, outline_of, region_under, round_trip_difference
from segstudio.core.session import ImageSession, NoEraseValue

Point = tuple[float, float]
DEFAULT_TOLERANCE = 1.0  # pixels; 0 keeps every corner of the pixel edges
LOOK_SIDE = 4096  # the outline tool traces at most this many pixels a side around the click


@dataclass(frozen=True)
class OutlineChange:
    """What a gesture of the outline tool did: ``changed`` pixels written (Enter), a ``note`` for the status line, a
    ``problem`` why it did nothing."""

    changed: Rect | None = None
    note: str | None = None
    problem: str | None = None


class OutlineTool:
    """The outline being edited and the vertex being dragged (see the module notes)."""

    def __init__(self) -> None:
        self.outline: EditableOutline | None = None
        self.tolerance = DEFAULT_TOLERANCE
        self.hit_radius = 5.0  # image pixels within which a press takes a vertex or an edge (the canvas sets it)
        self._source: tuple[Rect, np.ndarray] | None = None
        self._drag: tuple[int, int] | None = None

    @property
    def editing(self) -> bool:
        return self.outline is not None

    def press(self, session: ImageSession, point: Point) -> OutlineChange:
        if self.outline is None:
            return self._start(session, point)
        ring, index, distance = self.outline.nearest_vertex(point)
        if distance <= self.hit_radius:
            self._drag = (ring, index)
            return OutlineChange()
        ring, after, distance, foot = self.outline.nearest_edge(point)
        if distance <= self.hit_radius:
            self.outline = self.outline.with_vertex_inserted(ring, after, foot)
            self._drag = (ring, after + 1)
            return OutlineChange(note=self._describe(session))
        return OutlineChange(note="press on a vertex to move it or on an edge to add one; Enter writes the outline, "
                                  "Esc drops it")

    def move(self, point: Point) -> bool:
        """Drag the pressed vertex; True when the outline changed (redraw it)."""
        if self.outline is None or self._drag is None:
            return False
        try:
            self.outline = self.outline.moved(*self._drag, point)
        except ValueError:  # a ring folded flat: keep the last good shape
            return False
        return True

    def release(self, session: ImageSession) -> OutlineChange:
        if self._drag is None:
            return OutlineChange()
        self._drag = None
        return OutlineChange(note=self._describe(session))

    def delete_at(self, session: ImageSession, point: Point) -> OutlineChange:
        if self.outline is None:
            return OutlineChange()
        ring, index, distance = self.outline.nearest_vertex(point)
        if distance > self.hit_radius:
            return OutlineChange(note="right-click on a vertex to delete it")
        try:
            self.outline = self.outline.without_vertex(ring, index)
        except ValueError as problem:
            return OutlineChange(problem=str(problem))
        return OutlineChange(note=self._describe(session))

    def commit(self, session: ImageSession) -> OutlineChange:
        """Write the outline back (one undo step) and stop editing it."""
        if self.outline is None or self._source is None:
            return OutlineChange()
        source, region = self._source
        try:
            changed = session.write_outline(source, region, self.outline)
        except (ValueError, NoEraseValue) as problem:
            return OutlineChange(problem=str(problem))
        name = _name_of(session, self.outline.value)
        self.cancel()
        return OutlineChange(changed, note=f"outline of {name} written (Ctrl+Z undoes)")

    def cancel(self) -> None:
        self.outline, self._source, self._drag = None, None, None

    def _start(self, session: ImageSession, point: Point) -> OutlineChange:
        # On an instance image the region is the object under the click (its key), not all touching pixels of
        # its class. A huge image: the region as far as 2048 px around the click (cut there).
        traced = session.mask if session.instances is None else session.instances.keys
        found = region_under(traced, point, within=Rect.around(point, LOOK_SIDE, session.shape))
        if found is None:
            return OutlineChange()
        rect, pixels, value = found
        outlines = outline_of(pixels, tolerance=self.tolerance, value=value, rect=rect)
        self.outline, self._source = outlines[0], (rect, pixels)  # one component: the region is 8-connected
        return OutlineChange(note=self._describe(session))

    def _describe(self, session: ImageSession) -> str:
        assert self.outline is not None and self._source is not None
        source, region = self._source
        difference = round_trip_difference(region, [self.outline], rect=source, shape=session.shape)
        name = _name_of(session, self.outline.value)
        changes = ("writing it changes nothing" if difference.changed_count == 0 else
                   f"writing it adds {difference.added_count:,} px and removes {difference.removed_count:,} px")
        return (f"outline of {name}: {self.outline.vertex_count} vertices (tolerance {self.tolerance:g} px); "
                f"{changes}. Drag a vertex, press an edge to add one, right-click to delete; Enter writes, Esc drops")


def _name_of(session: ImageSession, value: int) -> str:
    """A class's name, or on an instance image "<class> #<id>" for an object's key."""
    layer = session.instances
    owner = None if layer is None else layer.owner_of(value)
    if owner is None or owner[0] == 0:
        return session.labels.name_of(value if owner is None else owner[1])
    return f"{session.labels.name_of(owner[1])} #{owner[0]}"


__all__ = ["DEFAULT_TOLERANCE", "OutlineChange", "OutlineTool"]
