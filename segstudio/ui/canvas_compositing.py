"""What a canvas tile shows: the session's image and mask layers in the canvas's layer styles, composited into the
tile (:func:`~segstudio.core.compositing.composite`), and a selected instance highlighted on top. For an image with
instances, :class:`InstanceLayers` puts each object's shade in the ground truth and the working mask
(:mod:`segstudio.core.instance_display`).

Zoomed out far (``step > AREA_MAX_STEP``) the image is subsampled (nearest) rather than block-averaged, so a
fitted view of a 40,000 x 20,000 slide does not read every pixel of it. While the user peeks at the ground truth,
only the image and the ground truth (filled) are shown.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.compositing import ImageSampling, composite
from segstudio.core.geometry import Rect
from segstudio.core.instance_codes import WorkingInstanceCodes
from segstudio.core.instance_display import InstanceDisplay
from segstudio.core.instances import InstanceMask
from segstudio.core.layers import LayerKind, LayerStyle
from segstudio.core.palettes import Palettes
from segstudio.core.session import ImageSession
from segstudio.ui.canvas_tiles import Tile

AREA_MAX_STEP = 8  # block-average the image up to this step, subsample past it
HIGHLIGHT_COLOUR = (255, 255, 0)  # a selected instance, blended 60 % over the pixels
HIGHLIGHT_RGB = np.array(HIGHLIGHT_COLOUR, dtype=np.uint16)
DISAGREEMENT_COLOUR = (0, 230, 255)  # where two predictions differ: cyan, apart from the error map's colours

DEFAULT_STYLES: dict[LayerKind, LayerStyle] = {
    LayerKind.IMAGE: LayerStyle(True, 1.0),
    LayerKind.GROUND_TRUTH: LayerStyle(True, 0.9, outline_only=True),
    LayerKind.PREDICTION: LayerStyle(False, 0.5),
    LayerKind.WORKING: LayerStyle(True, 0.5),
    LayerKind.ERROR_MAP: LayerStyle(False, 0.85, hatched=True),  # hatched: the class colours show between
    LayerKind.CERTAINTY: LayerStyle(False, 0.8),
}
MASK_LAYERS = (LayerKind.GROUND_TRUTH, LayerKind.PREDICTION, LayerKind.WORKING, LayerKind.ERROR_MAP, LayerKind.CERTAINTY)


class InstanceLayers:
    """The instances of the session on screen, drawn apart: the ground truth and the working mask as code arrays
    (each object in its shade), kept current with the working mask's edits by :meth:`update`.

    ``instances``: the ground truth's (fixed) instances, or None. An instance session's working mask is drawn from
    its own instances (:class:`~segstudio.core.instance_codes.WorkingInstanceCodes`, outlined in the class colour);
    otherwise a working pixel takes the shade of the ground-truth instance under it while it keeps that class."""

    def __init__(self, instances: InstanceMask | None, session: ImageSession) -> None:
        if instances is not None and instances.shape != session.shape:
            raise ValueError(f"instances of shape {instances.shape} do not fit an image of shape {session.shape}")
        self.instances = instances
        self.display = None if instances is None else InstanceDisplay.build(instances, session.labels)
        truth = session.ground_truth
        self.truth = None if truth is None or self.display is None else self.display.truth_codes(truth)
        layer = session.instances
        self.edited: WorkingInstanceCodes | None = None
        if layer is not None:
            first = session.labels.num_classes if self.display is None else len(self.display.instance_of)
            self.edited = WorkingInstanceCodes(layer, session.labels, first_code=first)
            self.working = self.edited.codes
        else:
            assert self.display is not None, "instances to draw: the ground truth's or the session's own"
            self.working = np.empty(session.shape, dtype=self.display.code_dtype(session.mask.dtype))
            self.update(session, Rect.full(session.shape))

    def palettes(self, base: Palettes) -> Palettes:
        """``base`` with each instance's shade at its code."""
        colours = dict(self.display.colours) if self.display is not None else {}
        if self.edited is not None:
            colours.update(self.edited.colours)
        return base.with_classes(colours)

    def update(self, session: ImageSession, rect: Rect) -> bool:
        """The working mask changed inside ``rect``; True when every code may have changed (instances were added,
        split, merged, renumbered or given another class): redraw everything with new palettes."""
        if self.edited is not None:
            return self.edited.update(rect)
        assert self.display is not None
        self.display.working_codes(session.mask, rect, self.working)
        return False

    def instance_at(self, x: int, y: int) -> int:
        """The instance at image pixel ``(x, y)``: the session's own when it edits instances, else the truth's."""
        height, width = self.working.shape
        if not (0 <= y < height and 0 <= x < width):
            return 0
        if self.edited is not None:
            return int(self.edited.instance_at(x, y))
        assert self.display is not None
        return self.display.instance_at(y, x)

    def colour_of(self, instance_id: int) -> tuple[int, int, int] | None:
        if self.edited is not None:
            return self.edited.colour_of(instance_id)
        return None if self.display is None else self.display.colour_of(instance_id)

    def arrays(self) -> dict[LayerKind, np.ndarray]:
        shown = {LayerKind.WORKING: self.working}
        if self.truth is not None:
            shown[LayerKind.GROUND_TRUTH] = self.truth
        return shown


class ShownColours:
    """The colours the canvas draws its session in: ``classes``, the label set's palettes, and for an image with
    instances ``instances`` (:class:`InstanceLayers`), both mixed into ``palettes``, what is drawn with."""

    def __init__(self) -> None:
        self.classes: Palettes | None = None
        self.instances: InstanceLayers | None = None
        self.palettes: Palettes | None = None

    def start(self, session: ImageSession | None) -> None:
        """A new session: its label set's colours; an instance session's instances (and its ground truth's) drawn
        apart, a class session's none until :meth:`set_instances`."""
        self.instances = None
        if session is not None and session.instances is not None:
            sources = session.instance_sources
            self.instances = InstanceLayers(None if sources is None else sources.truth, session)
        self.set_classes(None if session is None else Palettes.for_labels(session.labels, background=session.background),
                         session)

    def set_classes(self, classes: Palettes | None, session: ImageSession | None) -> None:
        """New class colours (a class added or recoloured); instance codes are rebuilt, they follow the label set."""
        self.classes = classes
        if self.instances is not None and session is not None:
            self.instances = InstanceLayers(self.instances.instances, session)
        self._mix()

    def set_instances(self, instances: InstanceMask | None, session: ImageSession | None) -> None:
        """Draw ``instances`` (the ground truth's) apart, and an instance session's own instances; None and a
        class session: classes only."""
        drawn = session is not None and (instances is not None or session.instances is not None)
        self.instances = InstanceLayers(instances, session) if drawn else None  # type: ignore[arg-type]
        self._mix()

    def instance_at(self, x: int, y: int) -> int:
        """The instance id at image pixel ``(x, y)`` (0: none, outside, or no instances)."""
        return 0 if self.instances is None else self.instances.instance_at(x, y)

    def instance_colour(self, instance_id: int) -> tuple[int, int, int] | None:
        return None if self.instances is None else self.instances.colour_of(instance_id)

    def remix(self) -> None:
        """The instance codes were dealt again: mix their colours in anew."""
        self._mix()

    def _mix(self) -> None:
        self.palettes = (self.classes if self.instances is None or self.classes is None
                         else self.instances.palettes(self.classes))


def shown_layers(
    session: ImageSession, styles: dict[LayerKind, LayerStyle], peek_truth: bool,
    instances: InstanceLayers | None = None, doubt: np.ndarray | None = None,
) -> list[tuple[LayerKind, np.ndarray, LayerStyle]]:
    """The mask layers to composite, bottom to top, each with its style (with ``instances``: the ground truth and
    the working mask drawn through their instance codes; ``doubt``: the model's doubt per pixel, on top)."""
    arrays = {
        LayerKind.GROUND_TRUTH: session.ground_truth,
        LayerKind.PREDICTION: session.prediction,
        LayerKind.WORKING: session.mask,
        LayerKind.ERROR_MAP: session.error_map,
        LayerKind.CERTAINTY: doubt,
    }
    if instances is not None:
        arrays.update(instances.arrays())
    truth = arrays[LayerKind.GROUND_TRUTH]
    if peek_truth and truth is not None:
        layers = [(LayerKind.GROUND_TRUTH, truth, LayerStyle(True, 0.7))]
    else:
        layers = [(kind, arrays[kind], styles[kind]) for kind in MASK_LAYERS if arrays[kind] is not None]
    return layers


def composite_tile(
    tile: Tile,
    step: int,
    rect: Rect,
    *,
    session: ImageSession,
    palettes: Palettes,
    styles: dict[LayerKind, LayerStyle],
    peek_truth: bool,
    highlight: np.ndarray | None,
    highlight_colour: tuple[int, int, int] = HIGHLIGHT_COLOUR,
    instances: InstanceLayers | None = None,
    doubt: np.ndarray | None = None,
) -> Rect:
    """Composite image rectangle ``rect`` into ``tile`` (clipped to it); return the output pixels it wrote."""
    layers = shown_layers(session, styles, peek_truth, instances, doubt)
    done = composite(tile.buffer.array, rect, image=session.image, layers=layers,
                     palettes=palettes, step=step, origin=tile.origin, image_style=styles[LayerKind.IMAGE],
                     sampling=ImageSampling.AREA if step <= AREA_MAX_STEP else ImageSampling.NEAREST)
    if highlight is not None and not done.is_empty:
        oy, ox = tile.origin
        shown = highlight[oy + done.top * step : oy + (done.bottom - 1) * step + 1 : step,
                          ox + done.left * step : ox + (done.right - 1) * step + 1 : step]
        if shown.any():
            target = tile.buffer.array[done.top : done.bottom, done.left : done.right]
            pixels = target[shown]
            rgb = np.array(highlight_colour, dtype=np.uint16)
            pixels[:, :3] = (pixels[:, :3].astype(np.uint16) * 2 // 5 + rgb * 3 // 5).astype(np.uint8)
            target[shown] = pixels
    return done


__all__ = ["AREA_MAX_STEP", "DEFAULT_STYLES", "DISAGREEMENT_COLOUR", "HIGHLIGHT_COLOUR", "HIGHLIGHT_RGB", "MASK_LAYERS",
           "InstanceLayers", "ShownColours",
           "composite_tile", "shown_layers"]
