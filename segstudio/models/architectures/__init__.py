"""The built-in architectures: importing this package imports every architecture module, which registers it
(see :mod:`segstudio.models.registry`)."""

from importlib.util import find_spec

from segstudio.models.architectures import fcn, pspnet, segnet, unet

__all__ = ["fcn", "pspnet", "segnet", "unet"]

# Mask R-CNN lives in its own module, written separately; it registers itself whenever it is present.
if find_spec(f"{__name__}.mask_rcnn") is not None:
    from segstudio.models.architectures import mask_rcnn  # noqa: F401

    __all__.append("mask_rcnn")
