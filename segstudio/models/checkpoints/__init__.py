"""Our one checkpoint format, and safe loading of weight files from elsewhere.

**The segstudio checkpoint** is a ``.safetensors`` file: the model's state dict as tensors, plus one JSON
document in the safetensors string metadata under the key ``"segstudio"``::

    {"format": "segstudio-checkpoint", "format_version": 1,
     "model": {"architecture": "unet", "encoder": "resnet50", "num_classes": 12, "in_channels": 3, "options": {}},
     "task": "semantic",
     "labels": {"classes": [{"id": 0, "name": "Sky", "colour": "#808080"}, ...], "ignore_index": 11, ...},
     "normalisation": {"channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": null},
     "training": {...free-form: data set, epochs...}, "metrics": {...free-form: mIoU...},
     "created_by": "segstudio 0.1.0", "created_at": "2025-01-31T12:00:00+00:00"}

``labels`` is :meth:`LabelSet.to_mapping`; ``normalisation`` is
:meth:`~segstudio.models.normalisation.InputNormalisation.to_mapping`: ``x = (pixel * scale - mean) / std`` per
channel, ``scale`` ``null`` meaning "by the image's dtype" (1/255 for 8-bit, 1/65535 for 16-bit). Mask R-CNN
normalises inside the model, so its checkpoints store mean 0 and std 1.
A reader refuses a file whose ``format_version`` is newer than :data:`FORMAT_VERSION`.

**Foreign weight files** (:func:`load_weights_file`), from a local path only:

- torchvision's official files, recognised by their tensor names and shapes (not by the file name):
  Mask R-CNN ResNet-50 FPN (``maskrcnn_resnet50_fpn_coco-*.pth``, 91 COCO classes) -> ``mask_rcnn``;
  FCN ResNet-50 (``fcn_resnet50_coco-*.pth``, 21 VOC classes with the auxiliary head) -> ``fcn_resnet50``;
  ImageNet classification weights (``resnet50-*.pth``, ``vgg16-*.pth``, ``mobilenet_v2-*.pth``...) -> the
  encoder of a model you name (its ``load_torchvision_state_dict``), the rest of the model stays random;
- segmentation_models_pytorch ``Unet`` state dicts (``.pth``/``.pt``/``.bin``/``.safetensors``) -> ``unet``;
- a plain state dict of any registered architecture, when you name the model.

With ``replace_heads=True`` a whole-model file may have another class count than the one asked for: the
backbone/decoder weights load and the class-sized layers (the predictors) start afresh (fine-tuning).

**Safety**: nothing in a file is ever executed. PyTorch files are read with ``torch.load(...,
weights_only=True)`` (tensors and plain containers only; a pickle that asks for any other Python object is
refused before it runs), safetensors files with safetensors. Every failure is a :class:`CheckpointProblem`
(a :class:`FileProblem`, so a ``ValueError``) naming the file, with a :class:`ProblemKind` saying which
problem it is; nothing partially loaded is ever returned. segstudio's own training resume state (``*.resume.pt``,
marked :data:`RESUME_FORMAT`) holds a model's weights too, but it is refused as what it is, pointing to the
checkpoint beside it (``ProblemKind.RESUME_STATE``). Weights with NaN or infinite values (a diverged
training) are refused too (``ProblemKind.NON_FINITE``): such a model predicts all background as if it worked.

The package, by what each part owns: :mod:`.format` (our checkpoint format), :mod:`.files` (sniffing and
reading files safely), :mod:`.layouts` (recognising foreign state dicts), :mod:`.fitting` (fitting a state dict
to a model), :mod:`.adapters` (one loader per family of foreign file, and :func:`load_weights_file`) and
:mod:`.problems` (the error). Import from the package itself: the modules are its inner arrangement.
"""

from __future__ import annotations

from segstudio.models.checkpoints.adapters import load_weights_file
from segstudio.models.checkpoints.files import RESUME_FORMAT, RESUME_SUFFIX, model_beside
from segstudio.models.checkpoints.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    METADATA_KEY,
    SUFFIX,
    CheckpointMeta,
    LoadedModel,
    default_normalisation,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)
from segstudio.models.checkpoints.layouts import WeightsFamily, WeightsLayout, identify_state_dict
from segstudio.models.checkpoints.problems import CheckpointProblem, ProblemKind

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "RESUME_FORMAT",
    "RESUME_SUFFIX",
    "SUFFIX",
    "CheckpointMeta",
    "CheckpointProblem",
    "LoadedModel",
    "ProblemKind",
    "WeightsFamily",
    "WeightsLayout",
    "default_normalisation",
    "identify_state_dict",
    "load_checkpoint",
    "load_weights_file",
    "model_beside",
    "read_checkpoint_meta",
    "save_checkpoint",
]
