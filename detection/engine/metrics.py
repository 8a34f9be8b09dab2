"""Detection metrics used by the training commands and the accuracy bench (no scikit-learn needed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def roc_auc(positives: Sequence[float] | np.ndarray, negatives: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative (ties half)."""
    pos, neg = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def tpr_at_fpr(
    positives: Sequence[float] | np.ndarray, negatives: Sequence[float] | np.ndarray, fpr: float
) -> tuple[float, float]:
    """True-positive rate at the strictest threshold whose false-positive rate is at most `fpr`.

    Returns (tpr, threshold). With few negatives the achievable false-positive rates are steps of
    1/len(negatives); below the first step this is the rate at zero false positives.
    """
    pos, neg = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    allowed = int(np.floor(fpr * len(neg) + 1e-9))
    ordered = np.sort(neg)[::-1]
    # Scores strictly above the (allowed+1)-th highest negative pass.
    threshold = float(ordered[allowed]) if allowed < len(ordered) else float("-inf")
    return float((pos > threshold).mean()) if len(pos) else float("nan"), threshold


def equal_error_rate(
    genuine: Sequence[float] | np.ndarray, impostor: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Equal error rate (and its threshold) for similarity scores: higher means the same person."""
    gen, imp = np.asarray(genuine, dtype=np.float64), np.asarray(impostor, dtype=np.float64)
    best = (1.0, 0.0)
    gap = np.inf
    for threshold in np.unique(np.concatenate([gen, imp])):
        false_reject = float((gen < threshold).mean())
        false_accept = float((imp >= threshold).mean())
        if abs(false_reject - false_accept) < gap:
            gap = abs(false_reject - false_accept)
            best = ((false_reject + false_accept) / 2, float(threshold))
    return best
