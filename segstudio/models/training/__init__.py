"""Training and fine-tuning on samples the caller hands in (:class:`TrainingData`; the app layer builds it from a
dataset folder: :func:`segstudio.app.training.train`).

:func:`train` builds any registered architecture for the dataset's label set (or fine-tunes one from a
checkpoint), trains it, validates after every epoch on whole images, keeps the best checkpoint (by validation
mean IoU for semantic models, by validation mask AP@0.5 for instance models; a tie keeps the later epoch) and
writes a resume state after every epoch. It runs on CUDA with mixed precision when present, else
on the CPU.

Semantic models: loss = cross-entropy + ``dice_weight`` x soft Dice (over the classes present in the batch),
both leaving out pixels whose ground truth is the ignore id and pixels a crop padded; PSPNet's auxiliary head
adds ``aux_weight`` x the same loss. Instance models (Mask R-CNN): torchvision's detection losses summed, SGD
with a linear warm-up by default; validation then computes COCO's mask AP (at IoU 0.5, which chooses the best
epoch, and over 0.5:0.95) of every detection the model returns (torchvision's own floor, ``box_score_thresh``
0.05, is the only score cut; overlapping masks are kept, as COCO scores them; see
:mod:`segstudio.models.training.instance_validation`) against the validation images' ground-truth instances, and,
for information, the class IoU of the class mask of the instances at ``score_threshold``.

Determinism: one ``seed`` fixes the split, the initial weights, the sample order, every augmentation (a pure
function of seed, epoch and position, see :mod:`segstudio.models.training.samples`) and, on the CPU, the
arithmetic (``torch.use_deterministic_algorithms`` for the duration of the run): two runs with one seed give
identical weights. The best model is written with :func:`segstudio.models.checkpoints.save_checkpoint` (a ``.safetensors``
segstudio checkpoint with labels, normalisation, the training settings, history and metrics). Resume:
``<out>.resume.pt`` (``best.safetensors`` -> ``best.resume.pt``) holds model, optimiser and
AMP scaler state, the step, the history, the best score and the torch RNG state, as plain tensors and dicts
(loaded with ``weights_only=True``); ``train(..., resume=True)`` continues exactly where it was saved. It is
kept only while it is needed: a run that completes all its epochs removes it (``keep_resume_state`` keeps it),
a run stopped by its time budget, a cancel or a failure keeps it (``TrainingResult.resume_state_kept``).

Progress: ``Progress("train", batch, batches per epoch, "epoch e of E", {"loss", "lr", "epoch"})`` after every
batch and ``Progress("validate", epoch, epochs, ..., {"mean_iou", "mean_dice", "pixel_accuracy", "loss"})``
after every epoch (instance models add ``"mask_ap50"`` and ``"mask_ap"``, and the message names mask AP@0.5). Cancel is checked between batches and between validation images and raises
:class:`~segstudio.core.progress.Cancelled`; the last epoch's resume state and the best checkpoint stay on
disk. ``max_seconds`` stops a run gracefully instead: the epoch in progress is validated, and the result says
:attr:`StopReason.TIME_BUDGET`.
"""

from segstudio.models.training.config import (
    MASK_AP50,
    MEAN_IOU,
    EpochRecord,
    Optimiser,
    Schedule,
    StopReason,
    TrainingConfig,
    TrainingResult,
)
from segstudio.models.training.losses import learning_rate_factor, segmentation_loss, soft_dice_loss
from segstudio.models.training.resume import resume_state_path
from segstudio.models.training.run import train
from segstudio.models.training.runner import save_trained_model
from segstudio.models.training.samples import Augmentation, SampleFiles, TrainingSample
from segstudio.models.training.setup import TrainingData

__all__ = [
    "MASK_AP50",
    "MEAN_IOU",
    "Augmentation",
    "EpochRecord",
    "Optimiser",
    "SampleFiles",
    "Schedule",
    "StopReason",
    "TrainingConfig",
    "TrainingData",
    "TrainingResult",
    "TrainingSample",
    "learning_rate_factor",
    "resume_state_path",
    "save_trained_model",
    "segmentation_loss",
    "soft_dice_loss",
    "train",
]
