"""Editing tools: mouse gestures (in image coordinates) turned into :class:`ImageSession` calls.

No Qt here beyond nothing at all: the canvas maps widget events to image points and calls
:class:`ToolController`, which owns the current tool, class, brush radius and paint scope. Press begins a
stroke, every move paints one segment from the previous point, release ends the stroke (one undo step).

The eraser writes what the session's label set means by "nothing" (:attr:`ImageSession.erase_value`: CamVid's
Unlabelled 11, VOC's boundary 255, else the background class). When the label set has no such value the
eraser refuses the press with :attr:`ToolResult.problem` (the reason, for the status bar) and starts no stroke.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.image_tools import wand_stamp
from segstudio.core.instance_layer import InstanceEditError
from segstudio.core.paint_scope import PaintScope
from segstudio.core.session import ImageSession, NoEraseValue
from segstudio.ui.lasso_tool import LassoTool
from segstudio.ui.outline_tool import OutlineChange, OutlineTool

Point = tuple[float, float]

CUT_PROBLEM = "the cut tool splits instances; this image's masks are classes, not instances"
DEFAULT_TOLERANCE = 24  # the wand: colours within 24 of the seed's per channel (of 255)
WAND_MAX_SIDE = 4096  # the wand looks at most this far around the click: bounded work on any image
READ_ONLY_PROBLEM = "read-only: this folder is open in another window, so nothing can be painted here"
MIN_BRUSH_SIZE = 1
MAX_BRUSH_SIZE = 512
SCRIBBLE_RADIUS = 2  # image pixels each side of a box cut's refining stroke: sure marks, so thin


class Tool(Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    FILL = "fill"
    POLYGON = "polygon"
    PICK = "pick class"
    CUT = "cut instance"  # instance sessions: drag a line across an instance to split it there
    REGION = "pick region"  # click an error region (working mask vs ground truth) to fix it in one step
    OUTLINE = "edit outline"  # a region as a polygon: drag, add and delete vertices, Enter writes it back
    WAND = "magic wand"  # the image's colour-connected pixels around a click, within a tolerance
    BOX = "box to mask"  # drag a box around an object: GrabCut finds it inside (on a worker)
    LASSO = "edge lasso"  # intelligent scissors: anchors joined along the image's edges, closed and filled
    CLICK = "click to segment"  # a promptable model (SAM) proposes the object under the clicks; Enter writes it

    @property
    def paints_strokes(self) -> bool:
        return self in (Tool.BRUSH, Tool.ERASER)


@dataclass(frozen=True)
class ToolResult:
    """What a gesture did: the changed rectangle (empty if none), a class picked (PICK), if any, and why the
    gesture did nothing when the user should be told (e.g. the eraser has no value to write)."""

    changed: Rect = EMPTY_RECT
    picked: int | None = None
    problem: str | None = None
    picked_instance: int | None = None  # PICK on an instance session: the instance under the cursor (0: none)
    new_instances: tuple[int, ...] = ()  # CUT: the ids of the parts cut off
    region_point: tuple[float, float] | None = None  # REGION: where the user clicked
    note: str | None = None  # what the status line should say about the gesture (OUTLINE)
    box: Rect | None = None  # BOX: the box dragged, for the GrabCut job
    prompt: tuple[float, float, bool] | None = None  # CLICK: a point on (True) or off (False) the object
    scribble: tuple[tuple[Point, ...], bool] | None = None  # BOX: a stroke marking object (True) or not, to refine


class ToolController:
    """The state of the editing tools and the gesture -> session mapping."""

    def __init__(self) -> None:
        self.session: ImageSession | None = None
        self.tool = Tool.BRUSH
        self.value = 1
        self._size = 15  # brush diameter in image pixels
        self.keep_other_classes = False
        # Another window holds the folder: the mask may be looked at and classes picked, never changed.
        self.read_only = False
        self._last: Point | None = None
        self._polygon: list[Point] = []
        self.outlines = OutlineTool()
        self.lasso = LassoTool()
        self.marks: tuple[tuple[float, float, bool], ...] = ()  # click to segment's points, drawn by the canvas
        self.scribble: tuple[list[Point], bool] | None = None  # a box cut's refining stroke being drawn, keep or not
        self.tolerance = DEFAULT_TOLERANCE  # the magic wand's, in the image's own units per channel
        self.view: Rect | None = None  # the image part on screen (the canvas sets it): the wand stays within it

    # -- settings ------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._size

    @size.setter
    def size(self, value: int) -> None:
        self._size = int(min(MAX_BRUSH_SIZE, max(MIN_BRUSH_SIZE, round(value))))

    @property
    def radius(self) -> float:
        return self._size / 2.0

    @property
    def scope(self) -> PaintScope:
        """The paint scope; its free values (what "keep other classes" may overwrite) come from the session's
        label set: the background class and the ignore id, those that exist. Without a session none are free."""
        if self.session is None:
            return PaintScope(keep_other_classes=self.keep_other_classes, background=None)
        return self.session.paint_scope(keep_other_classes=self.keep_other_classes)

    @property
    def eraser_status(self) -> str:
        """For the status bar: "Eraser writes Unlabelled (11)", or why the eraser cannot work on this label set
        (the :class:`NoEraseValue` message); "" without a session."""
        session = self.session
        if session is None:
            return ""
        value = session.erase_value
        if value is None:
            return str(NoEraseValue())
        return f"Eraser writes {session.labels.name_of(value)} ({value})"

    @property
    def stroking(self) -> bool:
        return self._last is not None

    @property
    def polygon(self) -> tuple[Point, ...]:
        """The points of a polygon, cut line, box or lasso being drawn (the canvas draws them)."""
        if self.tool is Tool.LASSO:
            return tuple(self.lasso.preview)
        return tuple(self._polygon)

    def set_session(self, session: ImageSession | None) -> None:
        self.cancel()
        self.session = session

    # -- gestures --------------------------------------------------------------------------------------

    def press(self, point: Point) -> ToolResult:
        session = self.session
        if session is None:
            return ToolResult()
        if self.tool is Tool.REGION:  # choosing a region changes nothing: read-only windows may too
            return ToolResult(region_point=point)
        if self.tool is Tool.CLICK:  # a proposal changes nothing until Enter writes it (refused there when read-only)
            return ToolResult(prompt=(point[0], point[1], True))
        if self.read_only and self.tool is not Tool.PICK:
            return ToolResult(problem=READ_ONLY_PROBLEM)
        if self.tool is Tool.ERASER and session.erase_value is None:
            # Refuse before the stroke opens: no empty undo step, and the moves that follow do nothing.
            return ToolResult(problem=self.eraser_status)
        if self.tool.paints_strokes:
            session.begin_stroke()
            self._last = point
            return ToolResult(self._segment(point, point))
        if self.tool is Tool.FILL:
            if session.class_at(*point) is None:
                return ToolResult()
            return ToolResult(session.fill(point, self.value, scope=self.scope))
        if self.tool is Tool.PICK:
            layer = session.instances
            if layer is None:
                return ToolResult(picked=session.class_at(*point))
            instance = layer.instance_at(*point)
            return ToolResult(picked=session.class_at(*point), picked_instance=instance)
        if self.tool is Tool.POLYGON:
            self._polygon.append(point)
        if self.tool is Tool.CUT:
            if session.instances is None:
                return ToolResult(problem=CUT_PROBLEM)
            self._polygon = [point]
        if self.tool is Tool.OUTLINE:
            return self._outline_result(self.outlines.press(session, point))
        if self.tool is Tool.WAND:
            return self._wand(session, point)
        if self.tool is Tool.BOX:
            self._polygon = [point, point, point, point]
        if self.tool is Tool.LASSO:
            return ToolResult(problem=self.lasso.click(session, point, self.view))
        return ToolResult()

    def start_scribble(self, point: Point, keep: bool) -> None:
        """Shift+drag (``keep``: the object) or right-drag (not the object) with the box tool: a stroke that
        refines the last box cut."""
        if self.tool is Tool.BOX and self.session is not None:
            self.scribble = ([point], keep)

    def end_scribble(self) -> ToolResult:
        scribble, self.scribble = self.scribble, None
        if scribble is None:
            return ToolResult()
        return ToolResult(scribble=(tuple(scribble[0]), scribble[1]))

    def move(self, point: Point) -> ToolResult:
        if self.scribble is not None:
            self.scribble[0].append(point)
            return ToolResult()
        if self.tool is Tool.LASSO:
            self.lasso.hover(point)
            return ToolResult()
        if self.tool is Tool.BOX and self._polygon:
            (x0, y0) = self._polygon[0]
            self._polygon = [(x0, y0), (point[0], y0), point, (x0, point[1]), (x0, y0)]
            return ToolResult()
        if self.tool is Tool.OUTLINE:
            self.outlines.move(point)
            return ToolResult()
        if self.tool is Tool.CUT and self._polygon:
            self._polygon.append(point)
            return ToolResult()
        if self._last is None or self.session is None:
            return ToolResult()
        start, self._last = self._last, point
        return ToolResult(self._segment(start, point))

    def release(self, point: Point) -> ToolResult:
        if self.tool is Tool.BOX and self._polygon and self.session is not None:
            (x0, y0), self._polygon = self._polygon[0], []
            height, width = self.session.shape
            box = Rect(max(0, round(min(y0, point[1]))), max(0, round(min(x0, point[0]))),
                       min(height, round(max(y0, point[1])) + 1), min(width, round(max(x0, point[0])) + 1))
            if box.height < 3 or box.width < 3:
                return ToolResult(problem="drag a box around the object (a few pixels at least)")
            return ToolResult(box=box)
        if self.tool is Tool.OUTLINE and self.session is not None:
            return self._outline_result(self.outlines.release(self.session))
        if self.tool is Tool.CUT and self._polygon:
            line, self._polygon = [*self._polygon, point], []
            return self._cut(line)
        if self._last is None or self.session is None:
            return ToolResult()
        changed = self._segment(self._last, point) if point != self._last else EMPTY_RECT
        self._last = None
        self.session.end_stroke()
        return ToolResult(changed)

    def close_polygon(self) -> ToolResult:
        """Fill the polygon (or the edge lasso) clicked so far with the current class."""
        if self.tool is Tool.LASSO:
            if self.session is None:
                return ToolResult()
            changed, problem = self.lasso.close(self.session, self.value, self.scope)
            return ToolResult(changed or EMPTY_RECT, problem=problem)
        vertices, self._polygon = self._polygon, []
        if self.session is None or len(vertices) < 3:
            return ToolResult()
        return ToolResult(self.session.fill_polygon(vertices, self.value, self.scope))

    def delete_outline_vertex(self, point: Point) -> ToolResult:
        """Right-click with the outline tool: delete the vertex there."""
        if self.session is None:
            return ToolResult()
        return self._outline_result(self.outlines.delete_at(self.session, point))

    def commit_outline(self) -> ToolResult:
        """Enter with the outline tool: write the outline back over its region (one undo step)."""
        if self.session is None or self.read_only:
            return ToolResult(problem=READ_ONLY_PROBLEM if self.read_only else None)
        return self._outline_result(self.outlines.commit(self.session))

    def _outline_result(self, change: OutlineChange) -> ToolResult:
        return ToolResult(change.changed or EMPTY_RECT, problem=change.problem, note=change.note)

    def cancel(self) -> None:
        """Drop a polygon, an outline or click-to-segment's points in progress; close a stroke still open."""
        self._polygon = []
        self.outlines.cancel()
        self.lasso.cancel()
        self.marks = ()
        self.scribble = None
        if self._last is not None and self.session is not None:
            self.session.end_stroke()
        self._last = None

    def _wand(self, session: ImageSession, point: Point) -> ToolResult:
        """The colour-connected pixels around ``point`` in the current class, one undo step, within the part of the
        image on screen (at most :data:`WAND_MAX_SIDE` pixels a side around the click)."""
        if session.class_at(*point) is None:  # outside the image
            return ToolResult()
        limit = Rect.around(point, WAND_MAX_SIDE, session.shape)
        if self.view is not None:
            limit = limit.intersection(self.view)
        image, tolerance = session.image, self.tolerance
        try:
            changed = session.write_selection(
                lambda mask, key, scope: wand_stamp(image, mask, point, key, tolerance=tolerance, scope=scope,
                                                    limit=limit), self.value, self.scope)
        except ValueError as problem:
            return ToolResult(problem=str(problem))
        return ToolResult(changed)

    def _cut(self, line: list[Point]) -> ToolResult:
        """Split the chosen instance (else the one the line crosses most) along ``line``."""
        session = self.session
        layer = None if session is None else session.instances
        if layer is None:
            return ToolResult(problem=CUT_PROBLEM)
        target = layer.current if layer.current is not None and layer.has(layer.current) else layer.crossed_most(line)
        if not target:
            return ToolResult(problem="the line crosses no instance; drag it across the instance to cut")
        try:
            changed, parts = layer.split_by_line(target, line, width=max(1.5, self.radius / 4))
        except InstanceEditError as problem:
            return ToolResult(problem=str(problem))
        return ToolResult(changed, picked_instance=target, new_instances=parts)

    def _segment(self, start: Point, end: Point) -> Rect:
        assert self.session is not None
        if self.tool is Tool.ERASER:
            return self.session.erase(start, end, radius=self.radius, scope=self.scope)
        return self.session.paint(start, end, radius=self.radius, value=self.value, scope=self.scope)
