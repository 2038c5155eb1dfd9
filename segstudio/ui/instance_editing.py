"""Correcting the shown image as instances: the Instances panel kept current, and the object edits of the Instances
menu, panel and canvas applied to the session's :class:`~segstudio.core.instance_layer.InstanceLayer`.

Picking: a row of the panel, or the Pick tool (I) on the canvas, chooses the instance the brush paints into and the
eraser erases from (the Classes panel follows its class, so the brush goes on painting that instance); New instance
(M) makes the next stroke start one. Every edit is one undo step of the session (Ctrl+Z). The panel's figures (each
instance's IoU with its matched ground-truth object, the objects missed) are recounted from running overlaps
(O(instances x objects)) a moment after each change, never per pixel painted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from segstudio.core.geometry import Rect
from segstudio.core.instance_layer import InstanceEditError, InstanceLayer, OutOfInstanceKeys
from segstudio.core.session import ImageSession
from segstudio.ui.actions import Command
from segstudio.ui.canvas import Canvas
from segstudio.ui.instance_panel import InstanceLine, InstancePanel, MissedLine

REFRESH_MS = 120  # the panel follows edits this long after the last one (a stroke's dabs come much faster)
MISSED_COLOUR = (255, 140, 0)  # a missed ground-truth object shown on the canvas: orange, apart from the selection


class InstanceEditingController(QObject):
    """The Instances panel and the object edits of one window (see the module notes).

    ``available(bool)``: the shown image is (or is no longer) corrected as instances, so the panel is worth showing;
    ``status(message, ms)``: what an edit did or why it did nothing; ``choose_class(int)``: the Classes panel should
    select this class (the chosen instance's)."""

    available = Signal(bool)
    status = Signal(str, int)
    choose_class = Signal(int)

    def __init__(self, panel: InstancePanel, canvas: Canvas, current_class: Callable[[], int],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current_class = current_class  # the class the Classes panel has selected
        self._panel = panel
        self._canvas = canvas
        self._session: ImageSession | None = None
        self._highlighted = False  # a highlight of ours is on the canvas
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        panel.selected.connect(self._on_selected)
        panel.missed_chosen.connect(self.show_missed)
        panel.action.connect(self._on_action)
        canvas.palettes_changed.connect(self._on_session)
        canvas.instances_changed.connect(self.refresh)
        canvas.instance_picked.connect(self.pick)

    # -- the shown session -----------------------------------------------------------------------------

    @property
    def layer(self) -> InstanceLayer | None:
        return None if self._session is None else self._session.instances

    def _on_session(self) -> None:
        session = self._canvas.session
        if session is self._session:
            self.refresh()  # new colours for the same session (a class recoloured)
            return
        if self._session is not None:
            try:
                self._session.remove_listener(self._on_change)
            except ValueError:
                pass
        self._session = session if session is not None and session.instances is not None else None
        if self._session is not None:
            self._session.add_listener(self._on_change)
        self.available.emit(self._session is not None)
        self.refresh()

    def _on_change(self, _rect: Rect) -> None:
        if self._highlighted:  # the highlight shows the pixels as they were chosen: gone at the first edit
            self._highlighted = False
            self._canvas.set_highlight(None)
        if not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        """Fill the panel from the session now."""
        self._timer.stop()
        session, layer = self._session, self.layer
        if session is None or layer is None:
            self._panel.show_lines([], [], summary="This image is corrected as classes (no instances).")
            return
        names = session.labels.name_of
        figures = session.instance_figures()
        selected = [i for i in self._panel.selected_ids() if layer.has(i)]
        if figures is None:
            lines = [InstanceLine(r.instance_id, names(r.class_id), r.pixels, r.score, None, None,
                                  self._canvas.instance_colour(r.instance_id)) for r in layer.rows()]
            self._panel.show_lines(lines, [], summary=f"{len(lines)} instances (no ground-truth instances to "
                                   "compare with)", selected=selected)
            return
        lines = [InstanceLine(f.instance_id, names(f.class_id), f.pixels, f.score, f.iou, f.truth_id,
                              self._canvas.instance_colour(f.instance_id)) for f in figures.instances]
        missed = [MissedLine(m.truth_id, names(m.class_id), m.pixels, m.best_iou) for m in figures.missed]
        truths = figures.matched + len(figures.missed)
        mean = figures.mean_matched_iou
        summary = (f"{len(lines)} instances; {figures.matched} of {truths} ground-truth objects matched "
                   f"(IoU ≥ {figures.threshold:g})" + ("" if mean is None else f", mean IoU {mean:.2f}")
                   + (f"; {figures.unmatched} unmatched" if figures.unmatched else ""))
        self._panel.show_lines(lines, missed, summary=summary, selected=selected)

    # -- choosing ----------------------------------------------------------------------------------------

    def pick(self, instance_id: int) -> None:
        """The Pick tool chose ``instance_id`` on the canvas (0: none): select it in the panel."""
        if self.layer is None:
            return
        self._panel.select_ids([instance_id] if instance_id else [])
        if not instance_id:
            self.status.emit("no instance there: the next stroke of an object class starts a new one", 5000)

    def _on_selected(self, ids: list[int]) -> None:
        layer = self.layer
        if layer is None:
            return
        first = ids[0] if ids else None
        try:
            layer.select(first)
        except InstanceEditError as problem:
            self.status.emit(str(problem), 5000)
            return
        if first is None:
            self._canvas.set_highlight(None)
            return
        self.choose_class.emit(layer.class_of(first))
        highlight = np.zeros(layer.keys.shape, dtype=bool)
        for instance in ids:
            highlight |= layer.pixels_of(instance)
        self._canvas.set_highlight(highlight)
        self._highlighted = True
        self.status.emit(f"instance {first} chosen: the brush paints into it, the eraser erases from it", 5000)

    def show_missed(self, truth_id: int) -> None:
        """Show a missed ground-truth object on the canvas (orange)."""
        session = self._session
        live = None if session is None else session.live_instance_figures
        if live is None:
            return
        self._canvas.set_highlight(live.truth_pixels(truth_id), MISSED_COLOUR)
        self._highlighted = True
        self.status.emit(f"ground-truth object {truth_id}: no instance matches it (shown in orange)", 6000)

    # -- edits -------------------------------------------------------------------------------------------

    def command_slots(self) -> dict[Command, Callable[[], object]]:
        """The Instances menu's commands."""
        return {
            Command.NEW_INSTANCE: self.new_instance,
            Command.MERGE_INSTANCES: self.merge,
            Command.SPLIT_INSTANCE: self.split,
            Command.SET_INSTANCE_CLASS: self.set_class,
            Command.DELETE_INSTANCE: self.delete,
            Command.RENUMBER_INSTANCES: self.renumber,
        }

    def _on_action(self, name: str) -> None:
        {"new": self.new_instance, "merge": self.merge, "split": self.split, "class": self.set_class,
         "delete": self.delete, "renumber": self.renumber}[name]()

    def new_instance(self) -> None:
        layer = self._editable()
        if layer is None:
            return
        class_id = self._current_class()
        session = self._session
        assert session is not None
        try:
            instance_id = layer.new_instance(class_id)
        except InstanceEditError:
            self.status.emit(f"choose an object class first: {session.labels.name_of(class_id)} is not one", 6000)
            return
        self._panel.select_ids([])
        layer.select(instance_id)  # the panel's cleared selection let it go
        self.status.emit(f"new instance {instance_id} ({session.labels.name_of(class_id)}): paint it", 6000)

    def merge(self) -> None:
        ids = self._selection("merge", at_least=2)
        if ids:
            self._edit(lambda layer: layer.merge(ids[0], ids[1:]), f"merged {_listed(ids[1:])} into {ids[0]}", [ids[0]])

    def split(self) -> None:
        ids = self._selection("split")
        if not ids:
            return
        result = self._edit(lambda layer: layer.split_components(ids[0]), None, [ids[0]])
        if result is None:
            return
        _, parts = result  # type: ignore[misc]
        if parts:
            self.status.emit(f"instance {ids[0]} split: its other pieces are now {_listed(parts)}", 6000)
        else:
            self.status.emit(f"instance {ids[0]} is one piece; cut it with the Cut tool (C)", 6000)

    def set_class(self) -> None:
        ids = self._selection("give a class to")
        if not ids:
            return
        class_id = self._current_class()
        session = self._session
        assert session is not None
        name = session.labels.name_of(class_id)
        self._edit(lambda layer: layer.set_class(ids, class_id), f"instance(s) {_listed(ids)} now {name}", ids)

    def delete(self) -> None:
        ids = self._selection("delete")
        if ids:
            self._edit(lambda layer: layer.delete(ids), f"deleted {_listed(ids)} (Ctrl+Z brings back)", [])

    def renumber(self) -> None:
        if self._editable() is not None:
            self._edit(lambda layer: layer.renumber(), "instances renumbered 1..N", [])

    # -- internals ----------------------------------------------------------------------------------------

    def _editable(self) -> InstanceLayer | None:
        layer = self.layer
        if layer is None:
            self.status.emit("this image is corrected as classes: there are no instances to edit", 5000)
            return None
        if self._canvas.tools.read_only:
            self.status.emit("read-only: this folder is open in another window", 8000)
            return None
        return layer

    def _selection(self, verb: str, at_least: int = 1) -> list[int]:
        if self._editable() is None:
            return []
        ids = self._panel.selected_ids()
        if not ids and at_least == 1 and self.layer is not None and self.layer.current is not None \
                and self.layer.has(self.layer.current):
            ids = [self.layer.current]
        if len(ids) < at_least:
            need = "an instance" if at_least == 1 else f"{at_least} or more instances (Ctrl+click in the list)"
            self.status.emit(f"select {need} to {verb}", 5000)
            return []
        return ids

    def _edit(self, edit: Callable[[InstanceLayer], object], done: str | None, select: list[int]) -> object:
        layer = self.layer
        assert layer is not None
        self._canvas.tools.cancel()
        try:
            result = edit(layer)
        except (InstanceEditError, OutOfInstanceKeys) as problem:
            self.status.emit(str(problem), 8000)
            return None
        self._canvas.set_highlight(None)
        self.refresh()
        self._panel.select_ids([i for i in select if layer.has(i)])
        if done is not None:
            self.status.emit(done, 6000)
        return result


def _listed(ids: list[int] | tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in ids)


__all__ = ["InstanceEditingController"]
