"""Masks -> polygons, and polygons -> masks the way each format's own tools rasterise them.

Each format is written so that its reader's rasteriser gives the pixels back:

- labelme and YOLO readers fill pixel-centre polygons *including* their outline (labelme: PIL's
  ``ImageDraw.polygon(xy, outline=1, fill=1)``; YOLO tools: OpenCV's ``fillPoly``). Their polygons are the
  pixel-centre outer contours OpenCV traces (:func:`outer_contours`), which these rasterisers fill back exactly,
  one-pixel slivers included.
- pycocotools samples pixel centres at ``(c + 0.5, r + 0.5)`` (COCO's coordinates run along pixel edges) and
  quantises to a fifth of a pixel. COCO polygons are therefore the contour's outline widened by half a pixel
  (:func:`coco_polygon`): every pixel centre of the region lies at least ~0.2 px inside it and every other centre
  at least ~0.2 px outside, so pycocotools gives the region back exactly.

What no polygon stores is a hole: every format here fills a polygon's inside. Exports draw outer contours only,
largest first, so whatever lies in a hole is drawn after (later over earlier); what is left is counted by the
self-check (:mod:`segstudio.io.exchange.compare`).
"""

from __future__ import annotations

import base64
import io
import math
import warnings

import cv2
import numpy as np
import pycocotools.mask as coco_mask
import shapely
from PIL import Image, ImageDraw

# half a pixel, with round joins in 2 segments per quarter: the widest a reversal point cuts in is 0.5*cos(22.5deg)
_COCO_WIDEN = 0.5
_COCO_QUAD_SEGMENTS = 2
_COCO_DECIMALS = 2


def outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    """The outer contours of a boolean mask, each an ``(N, 2)`` int array of pixel centres ``(x, y)`` (N >= 1),
    islands in holes included, largest enclosed area first."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    outer = [c[:, 0, :].astype(np.int64) for c, h in zip(contours, hierarchy[0], strict=True) if h[3] == -1]
    return sorted(outer, key=lambda c: -contour_area(c))


def contour_area(contour: np.ndarray) -> float:
    """The area a pixel-centre contour encloses (0 for slivers): what orders shapes, larger (enclosing) first."""
    return float(cv2.contourArea(contour.reshape(-1, 1, 2).astype(np.int32))) if len(contour) >= 3 else 0.0


def at_least_three_points(contour: np.ndarray) -> np.ndarray:
    """A contour of one or two points (a one-pixel dot or a two-pixel sliver) repeated to three, the fewest a
    polygon may have in labelme and YOLO; their rasterisers draw it back as the dot or the segment."""
    if len(contour) >= 3:
        return contour
    return np.concatenate([contour, contour[::-1]])[:3] if len(contour) == 2 else np.repeat(contour, 3, axis=0)


def filled_shells(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its holes filled: what a format that draws outer contours only covers."""
    filled = np.zeros(mask.shape, dtype=np.uint8)
    contours = [c.reshape(-1, 1, 2).astype(np.int32) for c in outer_contours(mask)]
    if contours:
        cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


# -- COCO -----------------------------------------------------------------------------------------------------


def coco_polygon(contour: np.ndarray) -> list[float]:
    """A pixel-centre contour as a COCO polygon ``[x1, y1, x2, y2, ...]`` that pycocotools fills back to exactly its
    pixels (see the module notes)."""
    points = contour.astype(np.float64)
    if len(points) == 1:
        outline = shapely.Point(points[0]).buffer(_COCO_WIDEN, quad_segs=_COCO_QUAD_SEGMENTS)
    else:
        ring = np.vstack([points, points[:1]])
        outline = shapely.LineString(ring).buffer(_COCO_WIDEN, quad_segs=_COCO_QUAD_SEGMENTS)
    parts = outline.geoms if isinstance(outline, shapely.MultiPolygon) else [outline]
    exterior = max(parts, key=lambda p: p.area).exterior  # a connected contour's outline is one polygon
    xy = np.asarray(exterior.coords)[:-1] + 0.5  # COCO's coordinates run along pixel edges
    return [round(float(v), _COCO_DECIMALS) for v in xy.ravel()]


def coco_rle(mask: np.ndarray) -> dict[str, object]:
    """A compressed COCO RLE (``counts`` as text, JSON-ready)."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def coco_area_and_box(mask: np.ndarray) -> tuple[int, list[float]]:
    """pycocotools' area and ``[x, y, w, h]`` box of a mask."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return int(coco_mask.area(rle)), [float(v) for v in coco_mask.toBbox(rle)]


def coco_decode(segmentation: object, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, uncompressed or compressed RLE) as a boolean mask, decoded by pycocotools the
    way ``COCO.annToMask`` does. ValueError for anything else."""
    if isinstance(segmentation, list):
        if not segmentation:
            return np.zeros((height, width), dtype=bool)
        polygons = []
        for number, polygon in enumerate(segmentation):
            if not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2:
                raise ValueError(f"polygon {number} must be a list of at least 3 x, y pairs")
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in polygon):
                raise ValueError(f"polygon {number} holds a value that is not a finite number")
            polygons.append([float(v) for v in polygon])
        rle = coco_mask.merge(coco_mask.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        size = segmentation["size"]
        if list(size) != [height, width]:
            raise ValueError(f"RLE size {size} is not the image's [{height}, {width}]")
        counts = segmentation["counts"]
        if isinstance(counts, list):
            rle = coco_mask.frPyObjects(segmentation, height, width)
        elif isinstance(counts, str):
            rle = {"size": [height, width], "counts": counts.encode("ascii")}
        else:
            raise ValueError("RLE counts must be a list of run lengths or a compressed string")
    else:
        raise ValueError("segmentation must be a list of polygons or an RLE with 'size' and 'counts'")
    with warnings.catch_warnings():  # pycocotools 2.0.x under NumPy 2 warns about __array__'s copy keyword
        warnings.simplefilter("ignore", DeprecationWarning)
        return coco_mask.decode(rle).astype(bool)


# -- labelme (PIL, as labelme's shape_to_mask) ----------------------------------------------------------------


def _pil_canvas(points: np.ndarray, height: int, width: int, pad: float = 1.0) -> tuple[Image.Image, int, int, int, int]:
    """A small PIL canvas around ``points`` (integer offset, so rasterisation is unchanged) clipped to the image."""
    left = max(0, int(math.floor(points[:, 0].min() - pad)))
    top = max(0, int(math.floor(points[:, 1].min() - pad)))
    right = min(width, int(math.ceil(points[:, 0].max() + pad)) + 1)
    bottom = min(height, int(math.ceil(points[:, 1].max() + pad)) + 1)
    return Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0), left, top, right, bottom


def _paste(mask_image: Image.Image, left: int, top: int, right: int, bottom: int, height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    if right > left and bottom > top:
        mask[top:bottom, left:right] = np.asarray(mask_image, dtype=bool)[: bottom - top, : right - left]
    return mask


def labelme_polygon(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """labelme's ``shape_to_mask`` for a polygon: PIL ``polygon(xy, outline=1, fill=1)``."""
    canvas, left, top, right, bottom = _pil_canvas(points, height, width)
    ImageDraw.Draw(canvas).polygon([(x - left, y - top) for x, y in points.tolist()], outline=1, fill=1)
    return _paste(canvas, left, top, right, bottom, height, width)


def labelme_rectangle(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """labelme's rectangle: PIL ``rectangle(xy, outline=1, fill=1)`` between the two corners."""
    canvas, left, top, right, bottom = _pil_canvas(points, height, width)
    (x1, y1), (x2, y2) = points.tolist()
    box = [min(x1, x2) - left, min(y1, y2) - top, max(x1, x2) - left, max(y1, y2) - top]
    ImageDraw.Draw(canvas).rectangle(box, outline=1, fill=1)
    return _paste(canvas, left, top, right, bottom, height, width)


def labelme_circle(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """labelme's circle: centre and a point on it, PIL ``ellipse(box, outline=1, fill=1)``."""
    (cx, cy), (px, py) = points.tolist()
    radius = math.hypot(cx - px, cy - py)
    box = np.array([[cx - radius, cy - radius], [cx + radius, cy + radius]])
    canvas, left, top, right, bottom = _pil_canvas(box, height, width)
    ImageDraw.Draw(canvas).ellipse(
        [cx - radius - left, cy - radius - top, cx + radius - left, cy + radius - top], outline=1, fill=1
    )
    return _paste(canvas, left, top, right, bottom, height, width)


class _Leaves(Exception):
    """A labelme mask patch that does not fit its image (told as it is, not as "not a base64 PNG")."""


def labelme_mask(points: np.ndarray, encoded: str, height: int, width: int) -> np.ndarray:
    """labelme 5's ``mask`` shape: a base64 PNG of the box from ``points[0]`` (its top left pixel). ValueError for
    a mask that is not a PNG or does not fit the image."""
    left, top = (int(round(v)) for v in points[0])
    try:
        with Image.open(io.BytesIO(base64.b64decode(encoded, validate=True))) as image:
            # The size is in the header: a patch that cannot fit the image is refused before a pixel is decoded
            # (a few bytes of base64 can declare a 60000 x 60000 PNG).
            patch_width, patch_height = image.size
            if left < 0 or top < 0 or top + patch_height > height or left + patch_width > width:
                raise _Leaves(f"its {patch_width}x{patch_height} mask at ({left}, {top}) leaves the image")
            patch = np.asarray(image.convert("L")) > 0
    except _Leaves as leaves:
        raise ValueError(str(leaves)) from None
    except Exception as exc:  # noqa: BLE001 - base64 and Pillow raise many types
        raise ValueError(f"its 'mask' is not a base64 PNG ({exc})") from exc
    bottom, right = top + patch.shape[0], left + patch.shape[1]
    mask = np.zeros((height, width), dtype=bool)
    mask[top:bottom, left:right] = patch
    return mask


def encode_mask_png(patch: np.ndarray) -> str:
    """A boolean patch as labelme 5 stores a mask shape: base64 of a 1-bit PNG."""
    buffer = io.BytesIO()
    Image.fromarray(patch.astype(bool)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# -- YOLO (OpenCV, as ultralytics' polygon2mask) --------------------------------------------------------------


def fill_polygon(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixel-centre polygon filled with its outline by OpenCV's ``fillPoly`` (vertices rounded to pixels)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, [np.rint(points).astype(np.int32).reshape(-1, 1, 2)], 1)
    return mask.astype(bool)
