"""Click-to-segment with a promptable model whose weights are on disk: Segment Anything (SAM) through Meta's
``segment-anything`` package, built to the checkpoint's own shape and loaded without running anything from it.

Nothing is downloaded. :func:`load_promptable` reads a local SAM checkpoint (``sam_vit_b_01ec64.pth`` and its
ViT-L/ViT-H siblings, or the same tensors as safetensors) with the safe reader every weights file here goes
through (:func:`~segstudio.models.checkpoints.files.read_state_dict`: ``weights_only``, finite values), infers the
network's shape from the tensors (:class:`SamShape`: encoder width, depth, heads, which blocks attend globally,
prompt width...), builds that network with ``weights=None`` and loads the tensors strictly. So the official
checkpoints load as ViT-B/L/H, and a small network of the same design (a test's) loads the same way; anything
else is refused with the reason.

:class:`PromptableModel` answers prompts (:class:`Prompts`: positive and negative points, a box) with a mask of
one *region* of the image (:func:`prompt_region`: the whole image up to :data:`MAX_REGION_SIDE` pixels a side,
else the part on screen), keeping the image embedding of the last region (the slow step, seconds on a CPU) so
every further click on it costs only the light mask decoder. One lock serialises the model: a worker thread may
still be embedding when the next click's job starts.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from segstudio.core.geometry import Rect
from segstudio.models.checkpoints.files import read_state_dict
from segstudio.models.checkpoints.problems import CheckpointProblem, ProblemKind

if TYPE_CHECKING:  # the package is imported when a model is built, so the app starts without it
    from segment_anything.modeling import Sam

PACKAGE = "segment-anything"
MAX_REGION_SIDE = 4096  # SAM sees 1024 px on its long side: a larger region only blurs what was clicked
DECODER_HEADS = 8  # SAM's mask decoder always has 8 heads (not recorded in its tensors)
_VARIANTS = {(768, 12): "ViT-B", (1024, 24): "ViT-L", (1280, 32): "ViT-H"}
_BLOCK = re.compile(r"image_encoder\.blocks\.(\d+)\.")
_DECODER_LAYER = re.compile(r"mask_decoder\.transformer\.layers\.(\d+)\.")
_IOU_LAYER = re.compile(r"mask_decoder\.iou_prediction_head\.layers\.(\d+)\.weight")


def unavailable_reason() -> str | None:
    """None when click-to-segment can run here, else a sentence saying why not (the package is missing)."""
    from importlib.util import find_spec

    if find_spec("segment_anything") is None:
        return f"click-to-segment needs the {PACKAGE} package, which is not installed: pip install {PACKAGE}"
    return None


@dataclass(frozen=True)
class SamShape:
    """The shape of a SAM network, read from its tensors (:meth:`of`)."""

    encoder_width: int
    encoder_depth: int
    encoder_heads: int
    global_blocks: tuple[int, ...]
    window: int
    patch: int
    image_size: int
    prompt_width: int
    mask_in_channels: int
    decoder_depth: int
    decoder_mlp: int
    iou_hidden: int
    iou_depth: int
    multimask: int

    @property
    def name(self) -> str:
        variant = _VARIANTS.get((self.encoder_width, self.encoder_depth))
        if variant is not None and self.image_size == 1024:
            return f"SAM {variant}"
        return f"SAM (ViT {self.encoder_width} wide, {self.encoder_depth} blocks, {self.image_size} px)"

    @classmethod
    def of(cls, path: Path, state: dict[str, Tensor]) -> SamShape:
        """The shape of the SAM network whose tensors ``state`` holds; :class:`CheckpointProblem` when they are not
        a SAM network's."""
        def tensor(key: str, ndim: int) -> Tensor:
            found = state.get(key)
            if found is None or found.ndim != ndim:
                raise CheckpointProblem(path, ProblemKind.UNRECOGNISED, _not_sam(state, key))
            return found

        position = tensor("image_encoder.pos_embed", 4)  # (1, grid, grid, width)
        patch = tensor("image_encoder.patch_embed.proj.weight", 4)  # (width, 3, p, p)
        blocks = sorted({int(m.group(1)) for key in state if (m := _BLOCK.match(key))})
        if not blocks or blocks != list(range(len(blocks))):
            raise CheckpointProblem(path, ProblemKind.UNRECOGNISED, _not_sam(state, "image_encoder.blocks.0"))
        relative = [tensor(f"image_encoder.blocks.{i}.attn.rel_pos_h", 2) for i in blocks]
        grid = int(position.shape[1])
        head_width = int(relative[0].shape[1])
        width = int(position.shape[3])
        global_blocks = tuple(i for i, table in zip(blocks, relative) if table.shape[0] == 2 * grid - 1)
        windowed = [table for table in relative if table.shape[0] != 2 * grid - 1]
        window = (int(windowed[0].shape[0]) + 1) // 2 if windowed else 14
        decoder = sorted({int(m.group(1)) for key in state if (m := _DECODER_LAYER.match(key))})
        iou = sorted({int(m.group(1)) for key in state if (m := _IOU_LAYER.match(key))})
        if width % head_width or not decoder or not iou:
            raise CheckpointProblem(path, ProblemKind.UNRECOGNISED, _not_sam(state, "mask_decoder.transformer.layers.0"))
        return cls(
            encoder_width=width,
            encoder_depth=len(blocks),
            encoder_heads=width // head_width,
            global_blocks=global_blocks,
            window=window,
            patch=int(patch.shape[2]),
            image_size=grid * int(patch.shape[2]),
            prompt_width=int(tensor("image_encoder.neck.0.weight", 4).shape[0]),
            mask_in_channels=int(tensor("prompt_encoder.mask_downscaling.3.weight", 4).shape[0]),
            decoder_depth=len(decoder),
            decoder_mlp=int(tensor("mask_decoder.transformer.layers.0.mlp.lin1.weight", 2).shape[0]),
            iou_hidden=int(tensor("mask_decoder.iou_prediction_head.layers.0.weight", 2).shape[0]),
            iou_depth=len(iou),
            multimask=int(tensor("mask_decoder.mask_tokens.weight", 2).shape[0]) - 1,
        )

    def build(self) -> Sam:
        """The network of this shape, freshly initialised (no weights are fetched from anywhere)."""
        from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

        grid = self.image_size // self.patch
        sam = Sam(
            image_encoder=ImageEncoderViT(
                depth=self.encoder_depth, embed_dim=self.encoder_width, img_size=self.image_size, mlp_ratio=4,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=self.encoder_heads,
                patch_size=self.patch, qkv_bias=True, use_rel_pos=True, global_attn_indexes=self.global_blocks,
                window_size=self.window, out_chans=self.prompt_width,
            ),
            prompt_encoder=PromptEncoder(
                embed_dim=self.prompt_width, image_embedding_size=(grid, grid),
                input_image_size=(self.image_size, self.image_size), mask_in_chans=self.mask_in_channels,
            ),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=self.multimask,
                transformer=TwoWayTransformer(depth=self.decoder_depth, embedding_dim=self.prompt_width,
                                              mlp_dim=self.decoder_mlp, num_heads=DECODER_HEADS),
                transformer_dim=self.prompt_width, iou_head_depth=self.iou_depth,
                iou_head_hidden_dim=self.iou_hidden,
            ),
            pixel_mean=[123.675, 116.28, 103.53],
            pixel_std=[58.395, 57.12, 57.375],
        )
        return sam.eval()


#: The smallest network of SAM's design (0.24 M parameters, random weights): what the self-test and the tests save
#: and load as a user's weights file would be, since no real SAM weights can be fetched.
TINY_SAM = SamShape(encoder_width=32, encoder_depth=2, encoder_heads=2, global_blocks=(1,), window=14, patch=16,
                    image_size=1024, prompt_width=32, mask_in_channels=16, decoder_depth=2, decoder_mlp=64, iou_hidden=32,
                    iou_depth=3, multimask=3)


def _not_sam(state: dict[str, Tensor], missing: str) -> str:
    sample = ", ".join(sorted(state)[:3])
    return (f"is not a Segment Anything (SAM) checkpoint: it has no {missing} tensor of SAM's shape "
            f"(its tensors start {sample}...). Point to sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or "
            "sam_vit_h_4b8939.pth (or the same tensors as safetensors)")


@dataclass(frozen=True)
class Prompts:
    """What the user said about the object: points ``(x, y, inside)`` in image pixels (``inside`` False: a point
    the object must leave out), and optionally a box around it."""

    points: tuple[tuple[float, float, bool], ...] = ()
    box: Rect | None = None

    @property
    def is_empty(self) -> bool:
        return not self.points and self.box is None

    def adding(self, x: float, y: float, inside: bool) -> Prompts:
        return Prompts((*self.points, (float(x), float(y), bool(inside))), self.box)

    def within(self, region: Rect) -> bool:
        """Whether every point lies inside ``region`` (the part of the image the model sees)."""
        return all(region.left <= x < region.right and region.top <= y < region.bottom for x, y, _ in self.points)


@dataclass(frozen=True, eq=False)
class PromptedMask:
    """The model's answer: ``pixels`` (bool) of ``rect`` (the region it saw), and its own estimate of the mask's
    IoU with the object (``score``)."""

    rect: Rect
    pixels: np.ndarray
    score: float

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.pixels))


def prompt_region(shape: tuple[int, ...], view: Rect | None) -> Rect:
    """The part of an image of ``shape`` a promptable model sees: all of it when neither side passes
    :data:`MAX_REGION_SIDE`, else the part on screen (``view``), at most that many pixels a side around its
    centre."""
    whole = Rect.full(shape)
    if max(whole.height, whole.width) <= MAX_REGION_SIDE:
        return whole
    seen = whole if view is None else view.clipped(shape)
    if seen.is_empty:
        seen = whole
    centre = ((seen.left + seen.right) / 2.0, (seen.top + seen.bottom) / 2.0)
    return Rect.around(centre, MAX_REGION_SIDE, shape).intersection(seen)


@dataclass(eq=False)
class PromptableModel:
    """A loaded SAM network (:func:`load_promptable`) and the embedding of the last region it was shown."""

    sam: Any
    shape: SamShape
    path: Path
    device: torch.device
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _predictor: Any = field(default=None, init=False, repr=False)
    _embedded: tuple[object, Rect] | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.shape.name

    def prepare(self, image: np.ndarray, region: Rect, image_key: object) -> None:
        """Embed ``region`` of ``image`` unless it is the region embedded last (seconds on a CPU: call it on a
        worker as soon as the tool is chosen, so the first click is quick). ``image_key`` names the image:
        another key, or another region, embeds afresh."""
        with self._lock:
            self._embed(image, region, image_key)

    def segment(self, image: np.ndarray, region: Rect, prompts: Prompts, image_key: object) -> PromptedMask:
        """The object the prompts point at, within ``region`` of ``image``. One point alone is ambiguous (a
        part, the object, the group), so SAM proposes three masks and the one it rates best is taken; more
        prompts give one mask."""
        if prompts.is_empty:
            raise ValueError("click on the object first: no points and no box were given")
        if not prompts.within(region):
            raise ValueError(f"every point must lie inside the region the model sees ({region.width}x{region.height} "
                             f"px from ({region.left}, {region.top})): zoom to the object and click again")
        with self._lock:
            predictor = self._embed(image, region, image_key)
            coords = labels = box = None
            if prompts.points:
                coords = np.array([(x - region.left, y - region.top) for x, y, _ in prompts.points], dtype=np.float32)
                labels = np.array([1 if inside else 0 for *_, inside in prompts.points], dtype=np.int32)
            if prompts.box is not None:
                local = prompts.box.intersection(region).relative_to(region)
                box = np.array([local.left, local.top, local.right - 1, local.bottom - 1], dtype=np.float32)
            several = len(prompts.points) == 1 and prompts.box is None
            masks, scores, _ = predictor.predict(point_coords=coords, point_labels=labels, box=box,
                                                 multimask_output=several)
        best = int(np.argmax(scores))
        return PromptedMask(region, np.ascontiguousarray(masks[best], dtype=bool), float(scores[best]))

    def _embed(self, image: np.ndarray, region: Rect, image_key: object) -> Any:
        from segment_anything import SamPredictor

        if self._predictor is None:
            self._predictor = SamPredictor(self.sam)
        if self._embedded != (image_key, region):
            self._embedded = None
            self._predictor.set_image(_rgb8(image[region.slices]))
            self._embedded = (image_key, region)
        return self._predictor


def _rgb8(pixels: np.ndarray) -> np.ndarray:
    """8-bit RGB, as SAM takes it: grey repeated, alpha dropped, deeper images stretched from their lowest to
    their highest value."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    pixels = pixels[..., :3]
    if pixels.dtype != np.uint8:
        low, high = float(pixels.min()), float(pixels.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        pixels = np.clip((pixels.astype(np.float32) - low) * scale, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pixels)


def load_promptable(path: str | Path, device: torch.device | str | None = None) -> PromptableModel:
    """The SAM network in the local file ``path``, on ``device`` (default: the GPU when there is one).

    Raises :class:`CheckpointProblem` naming the file when it cannot be read or is not a SAM network's weights,
    and ``RuntimeError`` with :func:`unavailable_reason` when the package is missing."""
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    path = Path(path)
    state = read_state_dict(path)
    shape = SamShape.of(path, state)
    sam = shape.build()
    try:
        result = sam.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of another size than the shape read from the others
        raise CheckpointProblem(path, ProblemKind.INCOMPATIBLE, f"does not fit {shape.name}: {exc}") from None
    if result.missing_keys or result.unexpected_keys:
        missing, extra = result.missing_keys, result.unexpected_keys
        raise CheckpointProblem(path, ProblemKind.INCOMPATIBLE,
                                f"does not fit {shape.name}: {len(missing)} tensors missing "
                                f"({', '.join(missing[:3])}...), {len(extra)} unexpected ({', '.join(extra[:3])}...)")
    target = torch.device(device) if device is not None else (
        torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    return PromptableModel(sam.to(target), shape, path, target)


__all__ = ["MAX_REGION_SIDE", "PACKAGE", "TINY_SAM", "PromptableModel", "PromptedMask", "Prompts", "SamShape", "load_promptable",
           "prompt_region", "unavailable_reason"]
