"""Anomaly detection scores as pure functions, and the objective the trainer reads.

Point-wise precision / recall / F1 count every point once. The point-adjusted variants
(``pa_*``, Xu et al. 2018, used across the deep TSAD literature) count a whole labelled
anomaly segment as found when any one of its points is flagged; they are reported
under their own names because they flatter a detector (one lucky point finds a long
segment). ``pr_auc`` (average precision over all thresholds) needs no threshold at all.
"""

from __future__ import annotations

import numpy as np
import torch

from tunelab.objective import Batches, EvalResult, MetricSpec, Objective


def segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of 1s in a 0/1 array."""
    padded = np.concatenate([[0], np.asarray(labels, dtype=np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def point_adjust(flags: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``flags`` with every labelled segment that has a flagged point flagged whole."""
    adjusted = np.asarray(flags, dtype=bool).copy()
    for start, end in segments(labels):
        if adjusted[start:end].any():
            adjusted[start:end] = True
    return adjusted


def choose_threshold(
    rule: str, scores: np.ndarray, validation: np.ndarray, quantile: float, contamination: float
) -> float:
    """The score above which a point of ``scores`` is flagged.

    ``validation_quantile``: the ``quantile`` of the validation scores (mostly normal
    points, so about ``1 - quantile`` of normal points are flagged); ``contamination``:
    the ``1 - contamination`` quantile of ``scores`` themselves (PyOD's convention).
    """
    if rule == "contamination":
        return float(np.quantile(scores, 1.0 - contamination))
    return float(np.quantile(validation, quantile))


def detection_scores(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Point-wise and point-adjusted precision / recall / F1 at ``threshold``, and
    ``pr_auc`` (NaN when ``labels`` hold one class only)."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support

    labels = np.asarray(labels, dtype=bool)
    flags = np.asarray(scores) > threshold
    out: dict[str, float] = {}
    for prefix, predicted in (("", flags), ("pa_", point_adjust(flags, labels))):
        precision, recall, f1, _ = precision_recall_fscore_support(
            labels, predicted, average="binary", zero_division=0
        )
        out |= {f"{prefix}precision": float(precision), f"{prefix}recall": float(recall),
                f"{prefix}f1": float(f1)}  # fmt: skip
    both = 0 < labels.sum() < len(labels)
    out["pr_auc"] = float(average_precision_score(labels, scores)) if both else float("nan")
    out["flagged"] = int(flags.sum())
    return out


class AnomalyObjective(Objective):
    """Trains the backbone to forecast (or reconstruct) mostly-normal windows; the
    monitored ``error`` is the mean absolute error in each window's standardised units,
    which is also the mean anomaly score. Detection scores need a threshold over whole
    series, so the task adds them once after training (``final_metrics``).

    Targets are ``[B, H + 3]`` as for forecasting: the standardised target, then the
    window's ``loc``, ``scale`` and a series scale this objective does not read.
    """

    metrics = (
        MetricSpec("error", "mean score", "min", "err"),
        MetricSpec("loss", "loss", "min", "loss"),
    )
    final_metrics = (
        MetricSpec("f1", "F1", "max", "f1"),
        MetricSpec("precision", "precision", "max", "p"),
        MetricSpec("recall", "recall", "max", "r"),
        MetricSpec("pa_f1", "point-adjusted F1", "max", "pa_f1"),
        MetricSpec("pa_precision", "point-adjusted precision", "max", "pa_p"),
        MetricSpec("pa_recall", "point-adjusted recall", "max", "pa_r"),
        MetricSpec("pr_auc", "PR-AUC", "max", "pr_auc"),
    )
    monitor = "error"
    headline = ("f1", "pa_f1", "pr_auc")

    def __init__(self, width: int) -> None:
        self.width = width

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ((outputs.float() - targets[:, : self.width]) ** 2).mean()

    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return 0.0

    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        error = squared = 0.0
        for _, outputs, targets in batches:
            difference = outputs.float() - targets[:, : self.width]
            error += float(difference.abs().mean(dim=1).sum())
            squared += float((difference**2).mean(dim=1).sum())
        count = max(num_examples, 1)
        return EvalResult({"error": error / count, "loss": squared / count})
