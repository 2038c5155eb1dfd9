"""How the file list draws its review and comparison cells: the status marks and their colours (the Review panel and
the filter box show the same marks, as the legend), the share fixed, and the Δ IoU of a comparison. Pure functions of a
cell's values and a Qt item role, so the table model only looks values up."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from segstudio.app.model_comparison import ImageComparison
from segstudio.core.review import CorrectionEffort, ReviewStatus

RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
# One mark per status: a narrow column a labeler scans down (the words are in its tooltip, the filter box and the
# Review panel, which doubles as its legend).
STATUS_MARKS = {
    ReviewStatus.TO_DO: "○", ReviewStatus.IN_PROGRESS: "◐", ReviewStatus.CORRECTED: "◆", ReviewStatus.ACCEPTED: "✓",
    ReviewStatus.REJECTED: "✗",
}  # fmt: skip
STATUS_COLOURS = {
    ReviewStatus.TO_DO: QColor(150, 150, 150), ReviewStatus.IN_PROGRESS: QColor(214, 137, 16),
    ReviewStatus.CORRECTED: QColor(0, 110, 200), ReviewStatus.ACCEPTED: QColor(30, 150, 80),
    ReviewStatus.REJECTED: QColor(210, 50, 50),
}  # fmt: skip
EDITED_MARK = "●"  # as editors mark a modified file
EDITED_COLOUR = QColor(230, 100, 0)
COMMENT_MARK = "✎"
SAVED_MARK = STATUS_MARKS[ReviewStatus.CORRECTED]
EDITED_TIP = "edited, not saved yet (Ctrl+S saves it; autosaved meanwhile)"
STATUS_TIPS = {
    ReviewStatus.TO_DO: "nobody has worked on this image yet",
    ReviewStatus.IN_PROGRESS: "being corrected: edited, not yet saved as a correction",
    ReviewStatus.CORRECTED: "a correction is saved (in segstudio-corrections/), not yet accepted",
    ReviewStatus.ACCEPTED: "accepted: its mask is final and goes into exports",
    ReviewStatus.REJECTED: "rejected: left out of exports and training (see the comment)",
}


def status_cell(role: int, status: ReviewStatus, unsaved: bool, comment: str):  # noqa: ANN201 (Qt's variant)
    if role == Qt.ItemDataRole.DisplayRole:
        return (EDITED_MARK if unsaved else STATUS_MARKS[status]) + (COMMENT_MARK if comment else "")
    if role == Qt.ItemDataRole.ToolTipRole:
        tip = f"{EDITED_TIP}; status: {status.value}" if unsaved else f"{status.value}: {STATUS_TIPS[status]}"
        return f"{tip}\ncomment: {comment}" if comment else tip
    if role == Qt.ItemDataRole.ForegroundRole:
        return EDITED_COLOUR if unsaved else STATUS_COLOURS[status]
    if role == Qt.ItemDataRole.TextAlignmentRole:
        return int(Qt.AlignmentFlag.AlignCenter)
    return None


def gain_cell(role: int, found: ImageComparison | None, other: str):  # noqa: ANN201
    gain = None if found is None else found.iou_gain
    if role == Qt.ItemDataRole.DisplayRole:
        return "n/a" if gain is None else f"{gain:+.3f}"
    if role == Qt.ItemDataRole.TextAlignmentRole:
        return RIGHT
    if role == Qt.ItemDataRole.ForegroundRole and gain is not None and abs(gain) >= 0.005:
        return STATUS_COLOURS[ReviewStatus.ACCEPTED] if gain > 0 else STATUS_COLOURS[ReviewStatus.REJECTED]
    if role == Qt.ItemDataRole.ToolTipRole and found is not None:
        share = found.disagreement_share
        return (f"mean IoU: shown predictions {_score(found.shown_iou)}, {other} {_score(found.other_iou)}; they "
                "disagree on " + ("n/a" if share is None else f"{100 * share:.1f} % of the pixels"))
    return None


def share_cell(role: int, share: float | None):  # noqa: ANN201
    if role == Qt.ItemDataRole.DisplayRole:
        return "n/a" if share is None else f"{100 * share:.1f} %"
    if role == Qt.ItemDataRole.TextAlignmentRole:
        return RIGHT
    return None


def class_iou_cell(role: int, value: float | None, class_name: str | None):  # noqa: ANN201
    if role == Qt.ItemDataRole.DisplayRole:
        return _score(value)
    if role == Qt.ItemDataRole.TextAlignmentRole:
        return RIGHT
    if role == Qt.ItemDataRole.ToolTipRole and class_name is not None:
        return (f"{class_name}: in neither the prediction nor the ground truth" if value is None
                else f"IoU of {class_name}, prediction against the ground truth")
    return None


def effort_cell(role: int, effort: CorrectionEffort | None):  # noqa: ANN201
    if effort is None:
        return None
    if role == Qt.ItemDataRole.DisplayRole:
        return f"{100 * effort.changed_fraction:.1f} %"
    if role == Qt.ItemDataRole.TextAlignmentRole:
        return RIGHT
    if role == Qt.ItemDataRole.ToolTipRole:
        return (f"{effort.changed:,} of {effort.counted:,} px changed from the model's prediction; "
                f"prediction vs accepted mask: mean IoU {_score(effort.iou)}")
    return None


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


__all__ = [
    "COMMENT_MARK", "EDITED_MARK", "SAVED_MARK", "STATUS_COLOURS", "STATUS_MARKS", "class_iou_cell", "effort_cell",
    "gain_cell", "share_cell", "status_cell",
]  # fmt: skip
