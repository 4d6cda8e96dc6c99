"""Classification metrics: accuracy, macro-F1, per-class precision, recall and F1, confusion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``matrix[i, j]``: rows of true class ``i`` predicted as class ``j``."""
    flat = np.asarray(y_true, np.int64) * num_classes + np.asarray(y_pred, np.int64)
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any]
) -> dict[str, Any]:
    """Accuracy, macro-F1 (unweighted mean over classes; a class with no predictions and no
    rows scores 0), per-class metrics keyed by class name, and the confusion matrix."""
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    true_positive = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(0), matrix.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = int(matrix.sum())
    return {
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": {
            str(name): {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(n),
            }
            for name, p, r, f, n in zip(classes, precision, recall, f1, actual, strict=True)
        },
        "confusion": matrix.tolist(),
        "labels": [str(name) for name in classes],
    }
