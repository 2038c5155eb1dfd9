"""torchvision's compiled operators (``nms``, ``roi_align``: what Mask R-CNN runs) must be loaded before use.

torchvision loads them from a shared library beside its package (``_C_stable.so`` in torchvision 0.2x) and, when
that fails, only remembers it: the first detection then dies deep inside the model with "operator
torchvision::nms does not exist". A frozen app that did not collect the library fails exactly so. Checking first
turns that into a message that says what is missing and where it was looked for.
"""

from __future__ import annotations

from pathlib import Path


class MissingTorchvisionOps(RuntimeError):
    """torchvision is installed without its compiled operators."""


def require_torchvision_ops() -> None:
    """Raise :class:`MissingTorchvisionOps` unless ``torch.ops.torchvision.nms`` can run."""
    import torch
    import torchvision
    from torchvision import extension

    if extension._has_ops() and hasattr(torch.ops.torchvision, "nms"):
        return
    folder = Path(torchvision.__file__).parent
    found = sorted(p.name for p in folder.glob("_C*"))
    raise MissingTorchvisionOps(
        f"torchvision {torchvision.__version__} has no compiled operators (nms, roi_align), which Mask R-CNN needs: "
        f"its library {'(' + ', '.join(found) + ') did not load' if found else 'is missing'} in {folder}. Reinstall "
        "torchvision to match torch; in a bundle, rebuild it with segstudio.spec, which collects that library"
    )


__all__ = ["MissingTorchvisionOps", "require_torchvision_ops"]
