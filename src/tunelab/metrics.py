"""Classification metrics and inference latency measurement.

The metrics are scikit-learn's definitions (``precision_recall_fscore_support`` with
``zero_division=0``), computed from one confusion matrix in numpy: the trainer evaluates
after every epoch, and sklearn's input validation costs ~5 ms a call, more than a whole
epoch of training a head on cached features.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: list[str], per_class: bool = True
) -> dict:
    """Accuracy, macro precision/recall/F1 and, optionally, per-class scores + confusion.

    Macro averages weight every class equally: on imbalanced data accuracy alone hides
    a model that never predicts the small classes. Classes absent from ``y_true`` and
    ``y_pred`` score 0 rather than raising (``zero_division=0``).
    """
    truth = np.asarray(y_true, dtype=np.int64).reshape(-1)
    pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    k = len(labels)
    known = (truth >= 0) & (truth < k) & (pred >= 0) & (pred < k)
    confusion = np.bincount(truth[known] * k + pred[known], minlength=k * k).reshape(k, k)
    tp, support, predicted = np.diag(confusion), confusion.sum(1), confusion.sum(0)
    precision, recall = _divide(tp, predicted), _divide(tp, support)
    f1 = _divide(2 * tp, support + predicted)
    present = support > 0
    metrics = {
        "accuracy": float(np.mean(truth == pred)) if truth.size else 0.0,
        "precision_macro": float(precision[present].mean()) if present.any() else 0.0,
        "recall_macro": float(recall[present].mean()) if present.any() else 0.0,
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
    }
    if per_class:
        metrics["labels"] = list(labels)
        metrics["per_class"] = {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        }
        metrics["confusion_matrix"] = confusion.tolist()
    return metrics


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ratio, 0 where the denominator is 0 (sklearn's ``zero_division=0``)."""
    out = np.zeros(len(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def measure_latency(
    predict_one: Callable[[object], object], inputs: Sequence[object], warmup: int = 3
) -> dict[str, float]:
    """p50/p95 wall time in ms of single-example prediction, after ``warmup`` calls.

    Single-example latency is what an online service sees; batch throughput is a
    different number (see ``make bench``).
    """
    if not inputs:
        return {"latency_ms_p50": float("nan"), "latency_ms_p95": float("nan")}
    for item in list(inputs)[:warmup]:
        predict_one(item)
    times = []
    for item in inputs:
        start = time.perf_counter()
        predict_one(item)
        times.append((time.perf_counter() - start) * 1000.0)
    return {
        "latency_ms_p50": float(np.percentile(times, 50)),
        "latency_ms_p95": float(np.percentile(times, 95)),
    }
