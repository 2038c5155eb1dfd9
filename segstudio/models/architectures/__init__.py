"""The built-in architectures. Each module describes its own (``ARCHITECTURES``, records from
:mod:`segstudio.models.architecture`); :data:`BUILT_IN` lists them all and :mod:`segstudio.models.registry`
collects them. No module here imports the registry."""

from importlib.util import find_spec

from segstudio.models.architecture import Architecture
from segstudio.models.architectures import fcn, pspnet, segnet, unet

BUILT_IN: tuple[Architecture, ...] = (*fcn.ARCHITECTURES, *pspnet.ARCHITECTURES, *segnet.ARCHITECTURES, *unet.ARCHITECTURES)

# Mask R-CNN lives in its own module, written separately; it is built in whenever it is present.
if find_spec(f"{__name__}.mask_rcnn") is not None:
    from segstudio.models.architectures import mask_rcnn

    BUILT_IN = (*BUILT_IN, *mask_rcnn.ARCHITECTURES)

__all__ = ["BUILT_IN"]
