"""The correction tools beyond the brush, composed for one window: instances edited object by object, error
regions fixed in one step, box to mask (GrabCut on a worker), click to segment (a promptable model's proposals) and
the uncertain pixels of a model's prediction.

:class:`CorrectionTools` builds their controllers on the canvas, hands the window their commands and says
everything they report through one ``status`` signal, so the main window wires one object, not four.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Signal

from segstudio.ui.actions import Command
from segstudio.ui.box_to_mask import BoxToMask
from segstudio.ui.canvas import Canvas
from segstudio.ui.click_segment import ClickSegment
from segstudio.ui.instance_editing import InstanceEditingController
from segstudio.ui.instance_panel import InstancePanel
from segstudio.ui.model_panel import ModelPanel
from segstudio.ui.predictions import PredictionController
from segstudio.ui.region_fixing import RegionFixController
from segstudio.ui.uncertain_pixels import UncertainPixels
from segstudio.ui.workers import WorkerPool


class CorrectionTools(QObject):
    """``status(message, ms)`` from every tool; ``instances_shown(bool)``: the Instances panel is worth showing;
    ``class_chosen(int)``: the Classes panel should select this class (a chosen instance's); ``painted()``: a tool
    wrote pixels outside a stroke (the unsaved mark follows)."""

    status = Signal(str, int)
    instances_shown = Signal(bool)
    class_chosen = Signal(int)
    painted = Signal()

    def __init__(self, pool: WorkerPool, canvas: Canvas, predictions: PredictionController, model_panel: ModelPanel,
                 instance_panel: InstancePanel, settings: QSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        current_class: Callable[[], int] = lambda: canvas.tools.value  # noqa: E731 - the Classes panel's choice
        self.instances = InstanceEditingController(instance_panel, canvas, current_class, self)
        self.regions = RegionFixController(canvas, current_class, self)
        self.box_to_mask = BoxToMask(pool, canvas, self)
        self.uncertain = UncertainPixels(canvas, predictions, model_panel, self)
        self.click = ClickSegment(pool, canvas, settings, self)
        for tool in (self.instances, self.regions, self.box_to_mask, self.uncertain, self.click):
            tool.status.connect(self.status)
        self.instances.available.connect(self.instances_shown)
        self.instances.choose_class.connect(self.class_chosen)
        self.box_to_mask.written.connect(lambda _rect: self.painted.emit())
        self.click.written.connect(lambda _rect: self.painted.emit())

    def command_slots(self) -> dict[Command, Callable[[], object]]:
        slots = self.instances.command_slots() | self.regions.command_slots()
        slots[Command.SHOW_UNCERTAIN] = self.uncertain.toggle
        slots[Command.LOAD_CLICK_WEIGHTS] = lambda: self.click.choose_weights(self._dialog_parent())
        return slots

    def _dialog_parent(self):  # noqa: ANN202 - the window, for the file dialog
        return self._canvas.window()

    def show_checks(self, set_checked: Callable[[Command, bool], None]) -> None:
        """Keep the checkable commands' marks with what is shown."""
        self.uncertain.shown_changed.connect(lambda shown: set_checked(Command.SHOW_UNCERTAIN, shown))

    def show_availability(self, offer: Callable[[Command, bool, str], None]) -> None:
        """Keep the tools that need something (click to segment: weights on disk) greyed, with the reason, until
        they have it."""
        self.click.availability.connect(lambda available, why: offer(Command.CLICK, available, why))
        self.click.announce()


__all__ = ["CorrectionTools"]
