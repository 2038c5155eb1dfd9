"""Image-driven selection tools: a magic wand, GrabCut and intelligent scissors, each producing a :class:`Stamp`.

Where :mod:`segstudio.core.editing` shapes a stamp from the pointer alone, these tools let the *image* decide the
shape: the wand takes the pixels colour-connected to a seed, GrabCut separates an object from its surroundings
inside a box or around scribbles, and the scissors snap a lasso to the image's edges. They follow the editing
conventions: pure functions of NumPy arrays (OpenCV underneath), ``(x, y)`` float points with pixel centres on
integer coordinates, a stamp whose rectangle bounds the shape, and the
:class:`~segstudio.core.paint_scope.PaintScope` applied inside, so a protected pixel is never in a stamp. The scope
filters what is *written*; it never changes what the image selects, just as a brush keeps its round shape over
protected pixels.

Images are 2-D grey or ``(H, W, C)`` colour arrays (C = 1, 3 or 4; a fourth, alpha channel is ignored), uint8 or
uint16, with the mask's height and width. Channel order does not matter to any tool. Every tool reads a bounded
region of the image (the wand's ``limit``, GrabCut's ROI, the scissors' ROI), never more, so a huge image costs no
more than the region a user works in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.editing import Connectivity, Point
from segstudio.core.geometry import EMPTY_RECT, Rect, nearest_pixel
from segstudio.core.paint_scope import PaintScope
from segstudio.core.polygon_raster import polygon_rings, rasterize_even_odd
from segstudio.core.stamp import Stamp, check_mask, check_value

IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))

# GrabCut fits its colour models (k-means over every ROI pixel, then GMMs) and runs a min-cut per iteration over
# every ROI pixel. Measured with OpenCV 5.1 on a busy 2-core machine, 5 iterations: 0.1 MP 0.7 s, 0.3 MP 6.5 s,
# 0.6 MP 8.6 s, 1 MP 15 s (1 iteration on 1 MP: 7.9 s, most of it the model fit). 4 MP would be a minute, so the
# cap is 1 megapixel: the longest a GUI should make anyone wait (in a worker thread), and beyond it the caller asks
# for a tighter box instead.
GRABCUT_MAX_PIXELS = 1_000_000
# The background ring GrabCut learns the surroundings from when only a box is given (pixels outside the box but
# inside the ROI are sure background). 32 pixels gives a few thousand samples around even a small box.
GRABCUT_MARGIN = 32
# Intelligent scissors run a Dijkstra over the whole ROI for every anchor (~0.4 s per megapixel); the same cap
# as GrabCut keeps an anchor click under ~2 s.
SCISSORS_MAX_PIXELS = 4_000_000


def _check_image(image: np.ndarray, mask: np.ndarray | None = None) -> None:
    """Raise ValueError unless ``image`` is a grey/colour uint8/uint16 image (with the mask's height and width)."""
    if mask is not None:
        check_mask(mask)
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f"an image is a 2-D grey or (H, W, C) colour array, got {type(image).__name__} "
                         f"with shape {np.shape(image)}")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ValueError(f"an image has 1, 3 or 4 channels, got {image.shape[2]}")
    if image.dtype not in IMAGE_DTYPES:
        raise ValueError(f"an image is uint8 or uint16, got {image.dtype}")
    if mask is not None and image.shape[:2] != mask.shape:
        raise ValueError(f"image of shape {image.shape[:2]} and mask of shape {mask.shape} differ in size")


def _channels(image: np.ndarray) -> np.ndarray:
    """The image as (H, W) grey or (H, W, 3) colour: OpenCV's tools take 1 or 3 channels; alpha is not colour."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return image[:, :, :3]


def _to_uint8(region: np.ndarray) -> np.ndarray:
    """A fresh, contiguous uint8 copy of an image region. uint16 is stretched linearly from the region's own
    minimum to its maximum, so 12-bit microscopy or 16-bit scans keep their contrast rather than becoming black."""
    if region.dtype == np.uint8:
        return np.array(region, dtype=np.uint8, order="C", copy=True)
    low, high = int(region.min()), int(region.max())
    if high == low:
        return np.zeros(region.shape, dtype=np.uint8)
    scaled = (region.astype(np.float32) - low) * (255.0 / (high - low))
    return np.rint(scaled).astype(np.uint8)


def _seed_pixel(seed: Point, shape: tuple[int, ...], name: str = "seed") -> tuple[int, int]:
    """``seed`` rounded to the nearest pixel centre as (row, col); ValueError when it lies outside the image."""
    row, col = nearest_pixel(seed, name)
    height, width = shape[:2]
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"{name} {seed!r} lies outside the {width}x{height} image")
    return row, col


def _centre_box(shape: tuple[int, ...], x0: float, y0: float, x1: float, y1: float) -> Rect:
    """Pixels whose centres lie in the closed box ``[x0, x1] x [y0, y1]``, clipped to the image (as editing's)."""
    height, width = shape[:2]
    left, right = max(0, min(width, math.ceil(x0))), max(0, min(width, math.floor(x1) + 1))
    top, bottom = max(0, min(height, math.ceil(y0))), max(0, min(height, math.floor(y1) + 1))
    if right <= left or bottom <= top:
        return EMPTY_RECT
    return Rect(top, left, bottom, right)


def _inside(rect: Rect, row: int, col: int) -> bool:
    return rect.top <= row < rect.bottom and rect.left <= col < rect.right


# --- magic wand ------------------------------------------------------------------------------------------------


def wand_stamp(
    image: np.ndarray,
    mask: np.ndarray,
    seed: Point,
    value: int,
    *,
    tolerance: float,
    connectivity: int = Connectivity.FOUR,
    scope: PaintScope = PaintScope(),
    limit: Rect | None = None,
) -> Stamp:
    """The magic wand: the pixels connected to ``seed`` (4- or 8-connected) through pixels whose colour is
    within ``tolerance`` of the *seed's* colour, restricted to ``limit`` and then to ``scope``.

    Distance is the maximum absolute difference over the channels (Chebyshev, cv2.floodFill's FIXED_RANGE with
    ``loDiff = upDiff = tolerance`` per channel): a pixel joins when every channel lies in
    ``[seed - tolerance, seed + tolerance]``. Tolerance 0 takes exactly the seed's colour. The comparison is to
    the seed, not to the neighbour, so the region cannot creep along a slow gradient. uint16 images compare in
    their own units (tolerance 256 on a 16-bit image is one 8-bit step).

    ``limit`` (default: the whole image; clipped to it) bounds both the search and the result: the region is the
    connected set *within* the limit, so a wand inside a viewport or a box never leaks out. ``seed`` is ``(x, y)``,
    rounded to the nearest pixel centre, and must lie inside the image and the limit. The scope removes the pixels
    it protects from the stamp but does not block the region's growth (the image alone decides the shape), so the
    written pixels are the selection minus the protected ones.

    Cost: one copy of the limit's pixels (the image is only read), a zeroed byte mask of the limit, and a flood
    fill proportional to the region. Raises ValueError for a seed outside the image or the limit, a negative or
    non-finite tolerance, an empty limit, or an image whose size differs from the mask's.
    """
    _check_image(image, mask)
    value = check_value(value, mask.dtype)
    try:
        connectivity = Connectivity(connectivity)
    except ValueError:
        raise ValueError(f"wand connectivity is 4 or 8, got {connectivity!r}") from None
    try:
        tolerance = float(tolerance)
    except (TypeError, ValueError):
        raise ValueError(f"wand tolerance must be a number, got {tolerance!r}") from None
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"wand tolerance must be a finite number >= 0, got {tolerance}")
    row, col = _seed_pixel(seed, mask.shape)
    area = Rect.full(mask.shape) if limit is None else limit.clipped(mask.shape)
    if area.is_empty:
        raise ValueError(f"the wand's limit {limit} does not overlap the {mask.shape[1]}x{mask.shape[0]} image")
    if not _inside(area, row, col):
        raise ValueError(f"wand seed {seed!r} lies outside its limit {area}")

    # cv2.floodFill takes 8-bit or float images, and needs a writable one (a document's arrays are read-only):
    # one copy of the limit serves both. float32 holds every uint16 exactly, so the comparison stays exact.
    source = _channels(image)[area.slices]
    work = np.array(source, dtype=np.uint8 if image.dtype == np.uint8 else np.float32, order="C", copy=True)
    channels = 1 if work.ndim == 2 else work.shape[2]
    # For 8-bit images OpenCV floors the difference bound; integer differences make that the same as <= tolerance.
    bound = min(tolerance, 255.0) if work.dtype == np.uint8 else tolerance
    diff = (bound,) * channels
    region = np.zeros((area.height + 2, area.width + 2), dtype=np.uint8)
    flags = int(connectivity) | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, (x, y, w, h) = cv2.floodFill(work, region, (col - area.left, row - area.top), 0, diff, diff, flags)
    inner = Rect.from_xywh(x, y, w, h)
    rect = inner.translated(area.top, area.left)
    pixels = region[1:-1, 1:-1][inner.slices].astype(bool)  # a copy: the stamp need not pin the limit's mask
    pixels &= scope.writable(mask[rect.slices], value)
    return Stamp(rect, pixels, value)


# --- GrabCut ---------------------------------------------------------------------------------------------------


def _scribble(marks: np.ndarray | None, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    if marks is None:
        return None
    if not isinstance(marks, np.ndarray) or marks.dtype != np.bool_ or marks.shape != shape:
        raise ValueError(f"{name} scribbles are a bool array of the image's shape {shape}, got "
                         f"{getattr(marks, 'dtype', type(marks).__name__)} with shape {np.shape(marks)}")
    return marks


def _bounds(marks: np.ndarray) -> Rect | None:
    """The bounding box of the True pixels, None when there are none."""
    rows = np.flatnonzero(marks.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(marks.any(axis=0))
    return Rect(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def grabcut_roi(
    shape: tuple[int, ...],
    *,
    box: Rect | None = None,
    foreground: np.ndarray | None = None,
    background: np.ndarray | None = None,
    margin: int = GRABCUT_MARGIN,
) -> Rect:
    """The region :func:`grabcut_stamp` would run on: the box and the scribbles' bounding boxes, grown by
    ``margin`` on every side and clipped to an image of ``shape``. A GUI can show it, or check its area against
    :data:`GRABCUT_MAX_PIXELS`, before asking. Raises ValueError when nothing is given."""
    if not isinstance(margin, (int, np.integer)) or isinstance(margin, bool) or margin < 0:
        raise ValueError(f"GrabCut margin is a whole number of pixels >= 0, got {margin!r}")
    parts = [box] + [_bounds(marks) for marks in (foreground, background) if marks is not None]
    parts = [part for part in parts if part is not None and not part.is_empty]
    if not parts:
        raise ValueError("GrabCut needs a box or scribbles to know where to look")
    covered = parts[0]
    for part in parts[1:]:
        covered = covered.union(part)
    grown = Rect(covered.top - margin, covered.left - margin, covered.bottom + margin, covered.right + margin)
    return grown.clipped(shape)


def grabcut_stamp(
    image: np.ndarray,
    mask: np.ndarray,
    value: int,
    *,
    box: Rect | None = None,
    foreground: np.ndarray | None = None,
    background: np.ndarray | None = None,
    iterations: int = 5,
    margin: int = GRABCUT_MARGIN,
    scope: PaintScope = PaintScope(),
    max_pixels: int = GRABCUT_MAX_PIXELS,
) -> Stamp:
    """GrabCut (cv2.grabCut) from a box and/or scribbles: the pixels it labels (probably) foreground.

    ``box``: the object lies inside it; pixels outside the box are sure background, pixels inside it start as
    "probably foreground". ``foreground`` / ``background``: bool arrays of the image's shape marking sure
    foreground / sure background pixels (a pixel may not be in both). Without a box the unmarked pixels start as
    "probably background" and the object grows from the foreground scribbles, which must then exist.

    GrabCut runs only on the ROI (:func:`grabcut_roi`): the box and scribbles grown by ``margin`` pixels,
    clipped to the image. The margin is the ring it learns the surroundings from; a box flush with the image
    edges and no background scribbles leaves it nothing to learn from and raises ValueError. An ROI over
    ``max_pixels`` (default :data:`GRABCUT_MAX_PIXELS`, 1 megapixel, up to ~15 s at 5 iterations) raises
    ValueError naming its size before any work, so a huge image never freezes the GUI on a whole-image cut.

    The stamp writes only inside the box when one is given (foreground scribbles outside it are hints only),
    else only inside the ROI, and never over sure-background pixels or pixels the scope protects. The result is
    deterministic: GrabCut seeds its k-means from OpenCV's RNG, which this function reseeds (``cv2.setRNGSeed(0)``,
    the calling thread's OpenCV RNG) before each run.

    uint16 images are stretched to 8 bits over the ROI (GrabCut takes 8-bit colour); grey images are repeated
    into three channels. Cost: the scribbles' bounding boxes (one pass over the bool arrays), then
    ``iterations`` GMM fits and min-cuts over the ROI.
    """
    _check_image(image, mask)
    value = check_value(value, mask.dtype)
    if not isinstance(iterations, (int, np.integer)) or isinstance(iterations, bool) or iterations < 1:
        raise ValueError(f"GrabCut iterations is a whole number >= 1, got {iterations!r}")
    foreground = _scribble(foreground, mask.shape, "foreground")
    background = _scribble(background, mask.shape, "background")
    if box is not None:
        clipped = box.clipped(mask.shape)
        if clipped.is_empty:
            raise ValueError(f"GrabCut box {box} is empty or lies outside the {mask.shape[1]}x{mask.shape[0]} image")
        box = clipped
    if foreground is not None and background is not None and (foreground & background).any():
        raise ValueError("a pixel cannot be both sure foreground and sure background; drop it from one scribble")
    if box is None and (foreground is None or not foreground.any()):
        raise ValueError("without a box, GrabCut needs foreground scribbles to grow the object from")

    roi = grabcut_roi(mask.shape, box=box, foreground=foreground, background=background, margin=margin)
    if roi.area > max_pixels:
        raise ValueError(f"the GrabCut region is {roi.width}x{roi.height} = {roi.area:,} pixels, over the cap of "
                         f"{max_pixels:,}; draw a tighter box or scribble in a smaller area")

    labels = np.full((roi.height, roi.width), cv2.GC_PR_BGD, dtype=np.uint8)
    if box is not None:
        labels[:] = cv2.GC_BGD
        labels[box.relative_to(roi).slices] = cv2.GC_PR_FGD
    if foreground is not None:
        labels[foreground[roi.slices]] = cv2.GC_FGD
    if background is not None:
        labels[background[roi.slices]] = cv2.GC_BGD
    # GrabCut asserts both models get samples; say which one is missing instead of passing on an OpenCV error.
    if not ((labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD)).any():
        raise ValueError("GrabCut has no background to learn from: the box fills the whole region; leave a "
                         "margin around it or scribble some background")
    if not ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).any():
        raise ValueError("GrabCut has no foreground to learn from: the background scribbles cover the box")

    colour = _to_uint8(_channels(image)[roi.slices])
    if colour.ndim == 2:
        colour = cv2.cvtColor(colour, cv2.COLOR_GRAY2BGR)
    background_model = np.zeros((1, 65), dtype=np.float64)
    foreground_model = np.zeros((1, 65), dtype=np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(colour, labels, None, background_model, foreground_model, int(iterations), cv2.GC_INIT_WITH_MASK)

    target = roi if box is None else box
    chosen = labels[target.relative_to(roi).slices]
    pixels = (chosen == cv2.GC_FGD) | (chosen == cv2.GC_PR_FGD)
    pixels &= scope.writable(mask[target.slices], value)
    return Stamp(target, pixels, value).trimmed()


# --- intelligent scissors --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScissorsSettings:
    """How :class:`ScissorsPath` scores edges (cv2.segmentation_IntelligentScissorsMB's feature parameters).

    The defaults are OpenCV's own tutorial values: Canny thresholds 32/100 for the edge feature and gradient
    magnitudes clipped at 200, so one very strong edge does not make every weaker one look free.
    """

    canny_low: float = 32.0
    canny_high: float = 100.0
    gradient_limit: float = 200.0

    def __post_init__(self) -> None:
        if not (0 <= self.canny_low <= self.canny_high):
            raise ValueError(f"Canny thresholds need 0 <= low <= high, got {self.canny_low}, {self.canny_high}")
        if not self.gradient_limit > 0:
            raise ValueError(f"the gradient limit must be > 0, got {self.gradient_limit}")


class ScissorsPath:
    """An intelligent-scissors (live-wire) lasso over a bounded ROI of an image.

    ``add_anchor(point)`` fixes a point: the first one starts the lasso, each later one appends the optimal
    (edge-following) path from the previous anchor. ``path_to(point)`` is the live preview from the last anchor
    to the pointer, committing nothing. ``path`` is the accumulated lasso and ``closed_path()`` the lasso closed
    back to the first anchor along the image's edges; :func:`scissors_stamp` fills either.

    Points are ``(x, y)`` in image coordinates, rounded to pixel centres, and must lie inside the ROI; paths are
    (N, 2) int32 arrays of ``x, y`` image coordinates that never leave the ROI.

    Cost: the constructor extracts edge features over the ROI (~0.1 s per megapixel); each ``add_anchor`` runs a
    Dijkstra over the whole ROI (~0.4 s per megapixel), so the ROI is capped at ``max_pixels``
    (:data:`SCISSORS_MAX_PIXELS`); ``path_to`` only walks back along the computed tree, proportional to the
    path's length, so it is cheap enough for every mouse move.
    """

    def __init__(
        self,
        image: np.ndarray,
        roi: Rect,
        settings: ScissorsSettings = ScissorsSettings(),
        *,
        max_pixels: int = SCISSORS_MAX_PIXELS,
    ) -> None:
        _check_image(image)
        clipped = roi.clipped(image.shape)
        if clipped.is_empty:
            raise ValueError(f"scissors ROI {roi} is empty or lies outside the {image.shape[1]}x{image.shape[0]} image")
        if clipped.area > max_pixels:
            raise ValueError(f"the scissors region is {clipped.width}x{clipped.height} = {clipped.area:,} pixels, "
                             f"over the cap of {max_pixels:,}; choose a smaller region")
        self._image_shape = image.shape[:2]
        self.roi = clipped
        self._tool = cv2.segmentation_IntelligentScissorsMB()
        self._tool.setEdgeFeatureCannyParameters(settings.canny_low, settings.canny_high)
        self._tool.setGradientMagnitudeMaxLimit(settings.gradient_limit)
        self._tool.applyImage(_to_uint8(_channels(image)[clipped.slices]))
        self._anchors: list[tuple[int, int]] = []  # (x, y) image coordinates
        self._segments: list[np.ndarray] = []

    @property
    def anchors(self) -> list[tuple[int, int]]:
        """The fixed points, ``(x, y)`` image coordinates, in the order they were added."""
        return list(self._anchors)

    @property
    def path(self) -> np.ndarray:
        """The accumulated lasso: the first anchor, then each segment without its repeated start point."""
        if not self._anchors:
            return np.zeros((0, 2), dtype=np.int32)
        return np.concatenate([np.array([self._anchors[0]], dtype=np.int32), *self._segments])

    def _local(self, point: Point, name: str) -> tuple[int, int]:
        row, col = _seed_pixel(point, self._image_shape, name)
        if not _inside(self.roi, row, col):
            raise ValueError(f"{name} {point!r} lies outside the scissors region {self.roi}")
        return col - self.roi.left, row - self.roi.top

    def _walk(self, local: tuple[int, int]) -> np.ndarray:
        """The optimal path from the last anchor to ``local``, in image coordinates, without its start point."""
        contour = np.asarray(self._tool.getContour(local), dtype=np.int32).reshape(-1, 2)
        return contour[1:] + np.array([self.roi.left, self.roi.top], dtype=np.int32)

    def path_to(self, point: Point) -> np.ndarray:
        """The live-wire path from the last anchor to ``point``, both included: (N, 2) int32 ``x, y``."""
        if not self._anchors:
            raise ValueError("the scissors have no anchor yet: add_anchor first")
        local = self._local(point, "point")
        return np.concatenate([np.array([self._anchors[-1]], dtype=np.int32), self._walk(local)])

    def add_anchor(self, point: Point) -> np.ndarray:
        """Fix ``point``: append the path to it from the last anchor (if any) and make it the new start.
        Returns the appended segment (without the previous anchor; just the point for the first anchor)."""
        local = self._local(point, "anchor")
        image_point = (local[0] + self.roi.left, local[1] + self.roi.top)
        if self._anchors:
            segment = self._walk(local)
            self._segments.append(segment)
        else:
            segment = np.array([image_point], dtype=np.int32)
        self._anchors.append(image_point)
        self._tool.buildMap(local)
        return segment

    def closed_path(self) -> np.ndarray:
        """The lasso closed back to the first anchor along the image's edges (the last point is not repeated)."""
        if len(self._anchors) < 2:
            raise ValueError("closing a lasso needs at least two anchors")
        back = self._walk((self._anchors[0][0] - self.roi.left, self._anchors[0][1] - self.roi.top))
        return np.concatenate([self.path, back[:-1]])


def scissors_stamp(
    mask: np.ndarray,
    points_path: np.ndarray,
    value: int,
    scope: PaintScope = PaintScope(),
) -> Stamp:
    """Close a lasso path and fill it: the pixels whose centres lie inside the polygon through the path's points
    (the closing edge back to the first point is implied; self-crossings fill by the even-odd rule, as
    :func:`~segstudio.core.editing.polygon_stamp`), plus the path's own pixels, which lie on the traced edge and
    belong to the object as much as to its surroundings.

    ``points_path`` is an (N, 2) array of ``x, y`` (a :class:`ScissorsPath`'s ``path`` or ``closed_path()``);
    points outside the mask are clipped away. A path that encloses no area (fewer than three points, all on one
    line) raises ValueError. Cost: the path's bounding box plus its length.
    """
    check_mask(mask)
    value = check_value(value, mask.dtype)
    rings = polygon_rings(points_path)  # checks shape, finiteness and a non-degenerate polygon
    vertices = np.concatenate(rings)
    (x0, y0), (x1, y1) = vertices.min(axis=0), vertices.max(axis=0)
    rect = _centre_box(mask.shape, x0, y0, x1, y1)
    if rect.is_empty:
        return Stamp.empty(value)
    pixels = rasterize_even_odd(rings, rect)
    # The path's pixels themselves: integer points only (a float path's points need not be pixel centres).
    on_path = vertices[(vertices == np.round(vertices)).all(axis=1)].astype(np.int64)
    cols, rows = on_path[:, 0] - rect.left, on_path[:, 1] - rect.top
    keep = (rows >= 0) & (rows < rect.height) & (cols >= 0) & (cols < rect.width)
    pixels[rows[keep], cols[keep]] = True
    pixels &= scope.writable(mask[rect.slices], value)
    return Stamp(rect, pixels, value)
