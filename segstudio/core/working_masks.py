"""What an :class:`~segstudio.core.session.ImageSession` edits: a class mask (:class:`ClassWork`) or instances
(:class:`InstanceWork`), behind one small interface, so the session reads and writes either without asking which.

Both give the session its document (the one writer of pixels, with undo per step), the class mask everything else
reads, the value an edit of a class writes, the scope an eraser works in and a whole-mask replacement (accept the
prediction, go back to the ground truth, put recovered work back). An :class:`InstanceWork` writes instance keys
(:class:`~segstudio.core.instance_layer.InstanceLayer`) and derives the class mask from them; it also keeps the live
instance figures against the ground truth's instances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from segstudio.core.document import MaskDocument
from segstudio.core.geometry import Rect
from segstudio.core.instance_layer import InstanceLayer
from segstudio.core.instance_start import InstanceSources, starting_instances
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.live_instance_figures import LiveInstanceFigures
from segstudio.core.paint_scope import PaintScope

ClassListener = Callable[[Rect, np.ndarray, np.ndarray], None]


class ClassWork:
    """A class session's working mask: the document holds the classes themselves."""

    layer: InstanceLayer | None = None
    sources: InstanceSources | None = None
    figures: LiveInstanceFigures | None = None

    def __init__(self, working: np.ndarray, byte_budget: int) -> None:
        self.document = MaskDocument(working, byte_budget)

    @property
    def classes(self) -> np.ndarray:
        return self.document.mask

    def add_listener(self, listener: ClassListener) -> None:
        self.document.add_listener(listener)

    def paint_value(self, value: int) -> int:
        return value

    def erase_scope(self, scope: PaintScope) -> PaintScope:
        return scope

    def replace(self, classes: np.ndarray, _start: InstanceMask | None) -> Rect:
        return self.document.replace(classes)

    def restore(self, recovered: np.ndarray | InstanceMask, classes: np.ndarray) -> Rect:
        """Put recovered work back (one undo step); ``classes``: it as a checked working class mask."""
        return self.document.replace(classes)

    def with_prediction(self, _instances: InstanceMask | None) -> None:
        """A new prediction was attached (a class session has no instances to keep)."""


class InstanceWork:
    """An instance session's working instances (see the module notes): ``sources`` are the image's instance masks,
    ``start`` the instances of the source the working mask started from, ``working`` its class mask."""

    def __init__(self, sources: InstanceSources, start: InstanceMask | None, working: np.ndarray, labels: LabelSet,
                 background: int, dtype: np.dtype, byte_budget: int) -> None:
        self._labels = labels
        self.sources = sources
        self.layer = InstanceLayer(starting_instances(start, working, labels), background=background,
                                   unlabelled=labels.ignore_index, base=working, class_dtype=dtype,
                                   byte_budget=byte_budget)
        self.document = self.layer.document
        self.figures = None if sources.truth is None else LiveInstanceFigures(sources.truth, self.layer)

    @property
    def classes(self) -> np.ndarray:
        return self.layer.classes

    def add_listener(self, listener: ClassListener) -> None:
        self.layer.add_listener(listener)

    def paint_value(self, value: int) -> int:
        """The key of the instance a class-``value`` edit paints into (:meth:`InstanceLayer.paint_key`)."""
        return self.layer.paint_key(value)

    def erase_scope(self, scope: PaintScope) -> PaintScope:
        """With an instance chosen, the eraser erases from it only."""
        current = self.layer.current
        if current is None or not self.layer.has(current):
            return scope
        return PaintScope(self.layer.key_for(current), False, scope.background, scope.unlabelled)

    def replace(self, classes: np.ndarray, start: InstanceMask | None) -> Rect:
        """Every pixel anew from the class mask ``classes`` and its instances ``start`` (one undo step)."""
        return self.layer.replace_with(starting_instances(start, classes, self._labels), classes)

    def restore(self, recovered: np.ndarray | InstanceMask, classes: np.ndarray) -> Rect:
        """Recovered instances come back exactly; a recovered class mask keeps the instances it still holds."""
        if isinstance(recovered, InstanceMask):
            base = np.where(np.asarray(recovered.ids) > 0, self.layer.background, self.classes).astype(classes.dtype)
            return self.layer.replace_with(recovered, base)
        return self.replace(classes, self.layer.snapshot())

    def with_prediction(self, instances: InstanceMask | None) -> None:
        """A new prediction was attached: "accept prediction" takes its instances from now on."""
        self.sources = replace(self.sources, prediction=instances)


__all__ = ["ClassWork", "InstanceWork"]
