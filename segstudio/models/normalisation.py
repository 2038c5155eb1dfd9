"""How image pixels become model input: scale to ``[0, 1]``, match the model's channels, subtract mean, divide by std.

One :class:`InputNormalisation` travels with a model (checkpoints store :meth:`InputNormalisation.to_mapping`), so
prediction feeds a model exactly what training fed it, whatever the file's bit depth:

- ``uint8`` pixels are scaled by ``1/255`` and ``uint16`` by ``1/65535`` (unless a fixed ``scale`` is set), so an
  8-bit and a 16-bit copy of one image give the same input; float images are taken as already in ``[0, 1]``;
- channels are matched to the model: a grey image fed to a 3-channel model is repeated, an RGB image fed to a
  1-channel model becomes grey (ITU-R BT.601 luma), an alpha channel is dropped;
- then ``(x - mean[c]) / std[c]`` per channel.

Conversion works on any slice of an image, so tiled prediction converts one tile at a time and never holds a
float copy of a whole large image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, what OpenCV's RGB2GRAY uses
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputNormalisation:
    """Per-channel ``(pixel * scale - mean) / std`` for a model with ``channels`` input channels.

    ``mean`` and ``std`` are in ``[0, 1]`` units (after scaling); empty means 0 and 1 for every channel.
    ``scale`` ``None`` picks it from the image's dtype (``1/255`` for ``uint8``, ``1/65535`` for ``uint16``,
    1 for float and bool images); a number fixes it (e.g. ``1/4095`` for 12-bit data stored as ``uint16``).
    """

    channels: int = 3
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    scale: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.channels, bool) or int(self.channels) != self.channels or self.channels < 1:
            raise ValueError(f"channels must be a positive integer, got {self.channels!r}")
        mean = tuple(float(v) for v in self.mean) or (0.0,) * self.channels
        std = tuple(float(v) for v in self.std) or (1.0,) * self.channels
        for name, values in (("mean", mean), ("std", std)):
            if len(values) != self.channels:
                raise ValueError(f"{name} has {len(values)} values for {self.channels} channel(s); give one per channel")
            if not all(np.isfinite(values)):
                raise ValueError(f"{name} must be finite numbers, got {values}")
        if min(std) <= 0:
            raise ValueError(f"std must be positive for every channel, got {std}")
        if self.scale is not None and not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive number or None (by dtype), got {self.scale!r}")
        object.__setattr__(self, "channels", int(self.channels))
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "scale", None if self.scale is None else float(self.scale))

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def unit(cls, channels: int = 3) -> InputNormalisation:
        """Pixels scaled to ``[0, 1]`` and nothing else (what torchvision's detection models expect)."""
        return cls(channels)

    @classmethod
    def imagenet(cls) -> InputNormalisation:
        """The ImageNet RGB statistics that torchvision's pretrained encoders were trained with."""
        return cls(3, _IMAGENET_MEAN, _IMAGENET_STD)

    @classmethod
    def from_images(cls, images: Iterable[np.ndarray], channels: int, *, scale: float | None = None) -> InputNormalisation:
        """Mean and std per channel over ``images`` (after scaling and channel matching), streamed image by image."""
        probe = cls(channels, scale=scale)
        total = np.zeros(channels, dtype=np.float64)
        squares = np.zeros(channels, dtype=np.float64)
        count = 0
        for image in images:
            unit = probe.to_unit(image)
            flat = unit.reshape(-1, channels).astype(np.float64)
            total += flat.sum(axis=0)
            squares += np.square(flat).sum(axis=0)
            count += flat.shape[0]
        if count == 0:
            raise ValueError("no images to take statistics from")
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - np.square(mean), 0.0))
        std = np.where(std < 1e-6, 1.0, std)  # a constant channel: do not blow it up
        return cls(channels, tuple(float(v) for v in mean), tuple(float(v) for v in std), scale)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> InputNormalisation:
        try:
            channels = int(data["channels"])  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"input normalisation needs an integer 'channels', got {dict(data)!r}") from exc
        scale = data.get("scale")
        return cls(
            channels,
            tuple(float(v) for v in _sequence(data.get("mean", ()), "mean")),
            tuple(float(v) for v in _sequence(data.get("std", ()), "std")),
            None if scale is None else float(scale),  # type: ignore[arg-type]
        )

    def to_mapping(self) -> dict[str, object]:
        """Plain data for checkpoint metadata: ``{"channels", "mean", "std", "scale"}`` (scale ``None`` = by dtype)."""
        return {"channels": self.channels, "mean": list(self.mean), "std": list(self.std), "scale": self.scale}

    # -- conversion ---------------------------------------------------------------------------------------

    def scale_for(self, dtype: np.dtype | type) -> float:
        """The factor that brings pixels of ``dtype`` to ``[0, 1]``."""
        if self.scale is not None:
            return self.scale
        dtype = np.dtype(dtype)
        if dtype == np.uint8:
            return 1.0 / 255.0
        if dtype == np.uint16:
            return 1.0 / 65535.0
        if dtype == np.bool_ or np.issubdtype(dtype, np.floating):
            return 1.0
        raise ValueError(f"images must be uint8, uint16, bool or float, got {dtype}; give a fixed scale for other types")

    def to_unit(self, image: np.ndarray) -> np.ndarray:
        """``(H, W, channels)`` float32 in ``[0, 1]`` units: scaled and channel-matched, not yet mean/std'ed."""
        pixels = check_image(image)
        factor = self.scale_for(pixels.dtype)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        have = pixels.shape[2]
        if have == 4:  # RGBA: drop alpha
            pixels, have = pixels[:, :, :3], 3
        unit = pixels.astype(np.float32)
        if factor != 1.0:
            unit *= np.float32(factor)
        if have == self.channels:
            return unit
        if have == 1:
            return np.repeat(unit, self.channels, axis=2)
        if have == 3 and self.channels == 1:
            return (unit @ _LUMA)[:, :, None]
        raise ValueError(f"an image with {have} channels cannot feed a model with {self.channels} input channels")

    def normalise_unit(self, unit: np.ndarray) -> np.ndarray:
        """``(H, W, C)`` ``[0, 1]`` pixels -> ``(C, H, W)`` float32 model input (contiguous)."""
        if unit.ndim != 3 or unit.shape[2] != self.channels:
            raise ValueError(f"expected (H, W, {self.channels}) pixels, got shape {unit.shape}")
        chw = np.ascontiguousarray(unit.transpose(2, 0, 1), dtype=np.float32)
        if any(m != 0.0 for m in self.mean) or any(s != 1.0 for s in self.std):
            mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
            std = np.asarray(self.std, dtype=np.float32)[:, None, None]
            chw -= mean
            chw /= std
        return chw

    def to_array(self, image: np.ndarray) -> np.ndarray:
        """``(C, H, W)`` float32 model input for a grey, RGB or RGBA image of any supported dtype."""
        return self.normalise_unit(self.to_unit(image))

    def to_tensor(self, image: np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
        """``(1, C, H, W)`` float32 tensor, on ``device`` when given."""
        tensor = torch.from_numpy(self.to_array(image)).unsqueeze(0)
        return tensor if device is None else tensor.to(device)


def check_image(image: np.ndarray) -> np.ndarray:
    """``image`` as an array of shape ``(H, W)`` or ``(H, W, 1|3|4)``; ``ValueError`` otherwise."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"an image must be a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"an image must be (H, W) grey or (H, W, 3) RGB (or RGBA), got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"the image is empty (shape {image.shape})")
    return image


def image_channels(image: np.ndarray) -> int:
    """1 for grey, 3 for colour (RGBA counts as colour)."""
    return 1 if image.ndim == 2 or image.shape[2] == 1 else 3


def _sequence(value: object, name: str) -> Sequence[object]:
    if isinstance(value, (list, tuple)):
        return value
    raise ValueError(f"input normalisation '{name}' must be a list of numbers, got {value!r}")
