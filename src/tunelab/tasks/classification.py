"""What every classification task shares: its config sections, objective and prediction.

Text, image and (later) audio classification differ in how inputs are read and which
backbone encodes them; the head, the cross-entropy objective, the metrics (accuracy,
macro precision / recall / F1, per class, confusion matrix) and the prediction record
are the same, and live here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, field_validator

from tunelab.config import Config, DataConfig, ModelConfig, TrainConfig, _Section
from tunelab.metrics import classification_metrics
from tunelab.objective import Batches, EvalResult, MetricSpec, Objective
from tunelab.tasks.base import Task

# ``class_weights: auto`` weights the loss when the training split's largest class is
# more than this many times its smallest. Below 2x the balanced weights differ by less
# than 2x and move the decision boundary little; on balanced data auto leaves the loss
# (and so every earlier result) exactly as it was.
AUTO_IMBALANCE_THRESHOLD = 2.0


class HeadConfig(_Section):
    """The classification head put on top of the pooled backbone output."""

    # Widths of the hidden layers between the pooled features and the logits; a width
    # below 1 makes no usable layer, so it is refused when the config is loaded.
    hidden_sizes: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    activation: Literal["gelu", "relu", "tanh"] = "gelu"
    # Scale each pooled feature vector to unit length before the head: for features
    # trained on cosine similarity (strategy contrastive sets it when left unset), whose
    # length carries nothing the training shaped.
    normalize: bool = False


class ClassifierModelConfig(ModelConfig):
    """A backbone with a new classification head; continual updates start from a run."""

    head: HeadConfig = Field(default_factory=HeadConfig)
    init_from: str | None = None  # a finished run directory: continual update of its model
    # With init_from: this share of the earlier run's training examples (stratified by
    # label, seeded) is added to the new training split: rehearsal against forgetting.
    replay_fraction: float = Field(0.0, ge=0.0, le=1.0)


class ClassificationDataConfig(DataConfig):
    """Labelled examples: which column holds the label, and how classes are filtered."""

    label_column: str = "label"
    min_class_count: int = Field(0, ge=0)
    max_per_class: int | None = Field(None, ge=1)


class ClassificationTrainConfig(TrainConfig):
    """Training settings, plus what the cross-entropy objective reads."""

    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    # auto: balanced when the train split's imbalance exceeds AUTO_IMBALANCE_THRESHOLD
    class_weights: Literal["auto", "balanced", "none"] = "auto"

    @field_validator("class_weights", mode="before")
    @classmethod
    def _null_means_none(cls, value: Any) -> Any:
        """``class_weights: null`` (the old default) keeps meaning no weights."""
        return "none" if value is None else value


@dataclass
class Prediction:
    """One input's predicted label and the probability of every label."""

    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The JSON record ``predict`` prints and ``serve`` returns."""
        return {"label": self.label, "probabilities": self.probabilities}


def predictions(labels: list[str], probabilities: torch.Tensor) -> list[Prediction]:
    """One :class:`Prediction` per row of class probabilities."""
    return [
        Prediction(
            labels[int(row.argmax())],
            {label: float(p) for label, p in zip(labels, row, strict=True)},
        )
        for row in probabilities
    ]


class ClassificationObjective(Objective):
    """Cross-entropy over labels (optionally class-weighted and smoothed); scored by
    accuracy and macro precision / recall / F1, monitored by macro-F1 because on
    imbalanced data accuracy hides a model that never predicts the small classes."""

    metrics = (
        MetricSpec("accuracy", "accuracy", "max", "acc"),
        MetricSpec("f1_macro", "macro-F1", "max", "f1"),
        MetricSpec("precision_macro", "macro precision", "max", "prec"),
        MetricSpec("recall_macro", "macro recall", "max", "rec"),
        MetricSpec("loss", "loss", "min", "loss"),
    )
    monitor = "f1_macro"
    train_metric = "accuracy"

    def __init__(
        self,
        labels: list[str],
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        decisions: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.labels, self.class_weights = labels, class_weights
        self.label_smoothing = label_smoothing
        # What an ``auto`` setting resolved to and why, by config key: the run prints
        # and records these (metrics.json "decisions").
        self.decisions = decisions or {}

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy; ``targets`` are class ids, or soft labels (MixUp / CutMix)."""
        weight = None if self.class_weights is None else self.class_weights.to(outputs.device)
        return F.cross_entropy(
            outputs.float(), targets, weight=weight, label_smoothing=self.label_smoothing
        )

    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Correct predictions in the batch (soft labels count by their largest share)."""
        hard = targets if targets.ndim == 1 else targets.argmax(-1)
        return float((outputs.argmax(-1) == hard).sum())

    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        """Unweighted mean cross-entropy, the metrics, and per-example probabilities,
        predictions and targets."""
        probs = np.zeros((num_examples, len(self.labels)), dtype=np.float32)
        truth = np.zeros(num_examples, dtype=np.int64)
        total_loss = 0.0
        for indices, outputs, targets in batches:
            logits = outputs.float()
            total_loss += float(F.cross_entropy(logits, targets, reduction="sum"))
            probs[indices] = logits.softmax(-1).cpu().numpy()
            truth[indices] = targets.cpu().numpy()
        preds = probs.argmax(-1)
        metrics = classification_metrics(truth, preds, self.labels)
        metrics["loss"] = total_loss / max(num_examples, 1)
        return EvalResult(metrics, {"probabilities": probs, "predictions": preds, "targets": truth})

    def monitor_on(self, outputs: dict[str, np.ndarray], rows: np.ndarray) -> float:
        """Macro-F1 of the examples ``rows`` of a pass (classes absent from them skipped,
        as :func:`classification_metrics` does for a whole pass)."""
        truth, preds = outputs["targets"][rows], outputs["predictions"][rows]
        return classification_metrics(truth, preds, self.labels, per_class=False)[self.monitor]


def classification_objective(
    labels: list[str], train_targets: Sequence[int], cfg: ClassificationTrainConfig
) -> ClassificationObjective:
    """The objective of a run: class weights from the training split when asked or
    (``auto``) when the split is imbalanced; the decision is kept in ``decisions``."""
    targets = torch.as_tensor(list(train_targets), dtype=torch.long)
    counts = torch.bincount(targets, minlength=len(labels))
    decision = class_weights_decision(cfg.class_weights, counts.tolist(), labels)
    weights = None
    if decision["value"] == "balanced":
        weights = balanced_class_weights(targets, len(labels))
        decision["weights"] = {
            label: round(float(w), 4) for label, w in zip(labels, weights, strict=True)
        }
    return ClassificationObjective(
        labels, weights, cfg.label_smoothing, {"train.class_weights": decision}
    )


def class_weights_decision(
    setting: str, counts: Sequence[int], labels: Sequence[str]
) -> dict[str, Any]:
    """Resolve ``train.class_weights`` against the training split's class counts.

    ``auto`` is ``balanced`` when the largest class has more than
    :data:`AUTO_IMBALANCE_THRESHOLD` times the examples of the smallest, else ``none``.

    Returns:
        ``{"setting", "value", "reason", "imbalance", "threshold"}``; ``value`` is
        ``balanced`` or ``none``, ``reason`` the words the run prints after it.
    """
    present = [n for n in counts if n > 0] or [1]
    ratio = max(present) / min(present)
    if setting == "auto":
        value = "balanced" if ratio > AUTO_IMBALANCE_THRESHOLD else "none"
        sign = ">" if value == "balanced" else "<="
        reason = f"auto: imbalance {ratio:.1f}x {sign} {AUTO_IMBALANCE_THRESHOLD:g}"
    else:
        value, reason = setting, f"set in config; imbalance {ratio:.1f}x"
    largest, smallest = (labels[counts.index(n)] for n in (max(present), min(present)))
    return {
        "setting": setting,
        "value": value,
        "reason": reason,
        "imbalance": round(ratio, 4),
        "threshold": AUTO_IMBALANCE_THRESHOLD,
        "largest_class": largest,
        "smallest_class": smallest,
    }


def balanced_class_weights(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``n / (k * count_c)``, as scikit-learn's ``compute_class_weight("balanced")``."""
    counts = torch.bincount(targets, minlength=num_classes).float().clamp(min=1)
    return len(targets) / (num_classes * counts)


class ClassificationTask(Task):
    """What every classification task shares: the cross-entropy objective over its
    labels, and the confusion-matrix section of the report. Subclasses say how inputs
    are read and encoded."""

    objective_class = ClassificationObjective

    def objective(self, cfg: Config, splits: Any) -> ClassificationObjective:
        ids = {label: i for i, label in enumerate(splits.labels)}
        return classification_objective(
            splits.labels, [ids[v] for v in self.train_labels(splits)], cfg.train
        )

    @abstractmethod
    def train_labels(self, splits: Any) -> list[str]:
        """The label of every training example, in order (for class weights)."""

    def class_labels(self, splits: Any, split: str) -> list[str] | None:
        """A split's ``labels``; None for label sets or values (``problem_type``)."""
        if splits.summary.get("problem_type", "single_label") != "single_label":
            return None
        return list(getattr(splits, split).labels)

    def report_sections(self, run: Any) -> list:
        from tunelab.tasks.classification_report import classification_report_sections

        return classification_report_sections(run)
