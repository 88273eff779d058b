"""Objectives for HF's other ``problem_type`` values: multi-label and regression.

``multi_label``: one sigmoid per label and binary cross-entropy, so an example may have
any number of labels (given as a list, or a string such as ``"sport,news"``). Scored by
micro and macro F1, micro precision / recall and subset accuracy at a 0.5 threshold
while training; after training, one threshold per label is tuned on validation
(:func:`tune_thresholds`) and the test split is scored with them (:func:`tuned_metrics`).

``regression``: one output and mean squared error on targets standardised with the
training split's mean and std (the head's scale does not depend on the target's units);
scored in the target's own units by R², MSE, MAE and Spearman's rank correlation.

These are objectives and pure functions: a task package chooses one for its
``problem_type`` setting; the trainer sees only the :class:`Objective` contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tunelab.errors import DataError
from tunelab.objective import Batches, EvalResult, MetricSpec, Objective

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


# ----------------------------------------------------------------------- multi-label
def label_sets(values: Sequence[Any], separator: str = ",") -> list[list[str]]:
    """Each example's labels from a list or a ``separator``-separated string (blanks and
    repeats dropped, order kept); a missing value (None, NaN, ``""``) is no label."""
    sets = []
    for value in values:
        if isinstance(value, str):
            parts = value.split(separator)
        elif isinstance(value, list | tuple):
            parts = [str(v) for v in value]
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            parts = []
        else:
            parts = [str(value)]
        sets.append(list(dict.fromkeys(p.strip() for p in parts if p.strip())))
    return sets


def multi_hot(sets: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """``(examples, labels)`` 0/1 matrix; a label outside ``labels`` is a DataError."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(sets), len(labels)), dtype=np.float32)
    for row, chosen in enumerate(sets):
        unknown = [label for label in chosen if label not in index]
        if unknown:
            raise DataError(
                f"example {row}: label '{unknown[0]}' is not one of the training labels "
                f"({', '.join(labels)})"
            )
        matrix[row, [index[label] for label in chosen]] = 1.0
    return matrix


def multilabel_metrics(
    truth: np.ndarray, predicted: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """Micro / macro F1, micro precision / recall, subset accuracy and per-label scores."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    truth, predicted = truth.astype(bool), predicted.astype(bool)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, average=None, zero_division=0
    )
    micro = precision_recall_fscore_support(truth, predicted, average="micro", zero_division=0)
    return {
        "f1_micro": float(micro[2]),
        "f1_macro": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "precision_micro": float(micro[0]),
        "recall_micro": float(micro[1]),
        "subset_accuracy": float((truth == predicted).all(axis=1).mean()) if len(truth) else 0.0,
        "per_label": {
            label: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
    }


def tune_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per label, the threshold in :data:`THRESHOLD_GRID` with the best F1 on these
    (validation) examples; ties go to the one nearest 0.5, and a label with no positive
    example keeps 0.5 (there is nothing to tune it on)."""
    from sklearn.metrics import f1_score

    thresholds = np.full(probabilities.shape[1], 0.5)
    for label in range(probabilities.shape[1]):
        positives = truth[:, label].astype(bool)
        if not positives.any():
            continue
        scores = [
            (f1_score(positives, probabilities[:, label] >= t, zero_division=0), -abs(t - 0.5), t)
            for t in THRESHOLD_GRID
        ]
        thresholds[label] = max(scores)[2]
    return thresholds


class MultiLabelObjective(Objective):
    """Binary cross-entropy per label (``pos_weight`` optional); monitored by micro-F1,
    which weighs every (example, label) decision alike."""

    metrics = (
        MetricSpec("f1_micro", "micro-F1", "max", "f1"),
        MetricSpec("f1_macro", "macro-F1", "max", "f1M"),
        MetricSpec("precision_micro", "micro precision", "max", "prec"),
        MetricSpec("recall_micro", "micro recall", "max", "rec"),
        MetricSpec("subset_accuracy", "exact-set accuracy", "max", "exact"),
        MetricSpec("loss", "loss", "min", "loss"),
    )
    monitor = "f1_micro"
    train_metric = "subset_accuracy"
    # test only, after training (tuned_metrics): thresholds tuned on validation
    final_metrics = (
        MetricSpec("f1_micro_tuned", "micro-F1, tuned thresholds", "max", "f1t"),
        MetricSpec("f1_macro_tuned", "macro-F1, tuned thresholds", "max", "f1Mt"),
    )

    def __init__(
        self,
        labels: list[str],
        pos_weight: torch.Tensor | None = None,
        thresholds: np.ndarray | None = None,
    ) -> None:
        self.labels, self.pos_weight = labels, pos_weight
        self.thresholds = np.full(len(labels), 0.5) if thresholds is None else thresholds

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = None if self.pos_weight is None else self.pos_weight.to(outputs.device)
        return F.binary_cross_entropy_with_logits(
            outputs.float(), targets.float(), pos_weight=weight
        )

    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Examples whose whole label set is right at 0.5."""
        return float(((outputs > 0) == targets.bool()).all(dim=-1).sum())

    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        """Mean BCE, the metrics at :attr:`thresholds`, probabilities and targets."""
        probs = np.zeros((num_examples, len(self.labels)), dtype=np.float32)
        truth = np.zeros_like(probs)
        total_loss = 0.0
        for indices, outputs, targets in batches:
            logits = outputs.float()
            total_loss += float(
                F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="sum")
            )
            probs[indices] = logits.sigmoid().cpu().numpy()
            truth[indices] = targets.float().cpu().numpy()
        predicted = probs >= self.thresholds
        metrics = multilabel_metrics(truth, predicted, self.labels)
        metrics["loss"] = total_loss / max(num_examples * len(self.labels), 1)
        outputs = {"probabilities": probs, "predictions": predicted, "targets": truth}
        return EvalResult(metrics, outputs)


def tuned_metrics(labels: Sequence[str], validation: EvalResult, test: EvalResult) -> dict:
    """Thresholds tuned on ``validation`` and the test metrics they give
    (``<metric>_tuned``): what a multi-label task adds to ``metrics.json``."""
    thresholds = tune_thresholds(validation.outputs["probabilities"], validation.outputs["targets"])
    predicted = test.outputs["probabilities"] >= thresholds
    scores = multilabel_metrics(test.outputs["targets"], predicted, labels)
    scores.pop("per_label")
    return {
        "test": {f"{name}_tuned": value for name, value in scores.items()},
        "thresholds": {label: float(t) for label, t in zip(labels, thresholds, strict=True)},
    }


# ------------------------------------------------------------------------ regression
def regression_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """R², MSE, MAE and Spearman's rank correlation (NaN when either side is constant)."""
    from scipy.stats import spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    constant = len(truth) < 2 or np.ptp(truth) == 0 or np.ptp(predicted) == 0
    return {
        "r2": float(r2_score(truth, predicted)) if len(truth) > 1 else float("nan"),
        "mse": float(mean_squared_error(truth, predicted)),
        "mae": float(mean_absolute_error(truth, predicted)),
        "spearman": float("nan") if constant else float(spearmanr(truth, predicted)[0]),
    }


class RegressionObjective(Objective):
    """MSE on standardised targets; monitored by R² (higher is better, unit-free)."""

    metrics = (
        MetricSpec("r2", "R²", "max", "r2"),
        MetricSpec("mse", "MSE", "min", "mse"),
        MetricSpec("mae", "MAE", "min", "mae"),
        MetricSpec("spearman", "Spearman ρ", "max", "rho"),
        MetricSpec("loss", "loss", "min", "loss"),
    )
    monitor = "r2"

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        self.mean, self.std = mean, std

    @classmethod
    def from_targets(cls, targets: Sequence[float]) -> RegressionObjective:
        """Standardise with the training split's mean and std (1 when it is constant)."""
        values = np.asarray(targets, dtype=np.float64)
        std = float(values.std())
        return cls(float(values.mean()), std if std > 1e-12 else 1.0)

    def predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        """The model's outputs in the target's units."""
        return outputs.float().reshape(-1) * self.std + self.mean

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        scaled = (targets.float().reshape(-1) - self.mean) / self.std
        return F.mse_loss(outputs.float().reshape(-1), scaled)

    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return 0.0

    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        """Metrics in the target's units; ``loss`` is the standardised MSE."""
        predicted = np.zeros(num_examples, dtype=np.float64)
        truth = np.zeros(num_examples, dtype=np.float64)
        for indices, outputs, targets in batches:
            predicted[indices] = self.predictions(outputs).cpu().numpy()
            truth[indices] = targets.float().reshape(-1).cpu().numpy()
        metrics = regression_metrics(predicted, truth)
        metrics["loss"] = metrics["mse"] / self.std**2
        return EvalResult(metrics, {"predictions": predicted, "targets": truth})
