"""Classification metrics (scikit-learn) and inference latency measurement."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: list[str], per_class: bool = True
) -> dict:
    """Accuracy, macro precision/recall/F1 and, optionally, per-class scores + confusion.

    Macro averages weight every class equally: on imbalanced data accuracy alone hides
    a model that never predicts the small classes. Classes absent from ``y_true`` and
    ``y_pred`` score 0 rather than raising (``zero_division=0``).
    """
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, average=None, zero_division=0
    )
    present = support > 0
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
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
        metrics["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=ids).tolist()
    return metrics


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
