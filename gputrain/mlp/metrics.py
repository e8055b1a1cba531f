"""Quality measures on the host (NumPy) from true classes and predicted probabilities, or
from true and predicted values: scikit-learn's definitions, so numbers can be compared.

- ``precision``, ``recall``, ``f1``: macro averages over the classes that occur in the true
  or the predicted labels (a class never predicted has precision 0, as scikit-learn's
  ``zero_division=0``).
- ``roc_auc``: the area under the ROC curve of the second class's probability for two
  classes; with more, the macro average of one-vs-rest areas (``multi_class="ovr"``) over
  the classes that occur in the true labels. None when only one class occurs.
- ``r2``: 1 - SSE / SST (0 when the targets are constant and predicted exactly).
"""

from __future__ import annotations

import numpy as np


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict:
    """Macro precision / recall / F1 and ROC AUC of class indices ``y_true`` (n,) against
    probabilities ``proba`` (n, classes)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = proba.argmax(axis=1)
    n_classes = proba.shape[1]
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_classes).astype(np.float64)
    true_count = np.bincount(y_true, minlength=n_classes).astype(np.float64)
    pred_count = np.bincount(y_pred, minlength=n_classes).astype(np.float64)
    present = (true_count > 0) | (pred_count > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred_count > 0, tp / pred_count, 0.0)
        recall = np.where(true_count > 0, tp / true_count, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": float(precision[present].mean()),
            "recall": float(recall[present].mean()),
            "f1": float(f1[present].mean()),
            "roc_auc": roc_auc(y_true, proba)}


def roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float | None:
    if proba.shape[1] == 2:
        return _binary_auc(y_true == 1, proba[:, 1])
    areas = [_binary_auc(y_true == k, proba[:, k]) for k in range(proba.shape[1])
             if (y_true == k).any()]
    areas = [a for a in areas if a is not None]
    return float(np.mean(areas)) if areas else None


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Mann-Whitney U / (n_pos * n_neg) with tied scores given their average rank."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    # average rank (1-based) of each run of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    ends = np.r_[starts[1:], len(score)]
    run_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(score), dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    sse = float(((y_true - y_pred) ** 2).sum())
    sst = float(((y_true - y_true.mean()) ** 2).sum())
    if sst == 0:
        return 1.0 if sse == 0 else 0.0
    return 1.0 - sse / sst
