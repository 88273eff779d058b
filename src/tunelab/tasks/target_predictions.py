"""Predictions of a multi-label or regression model, for any input kind: the records
``predict`` prints and ``serve`` returns, and the scores ``tunelab evaluate`` reports.

A multi-label predictor has ``labels``, ``thresholds`` (a tensor, one per label, tuned on
validation) and ``predict_proba`` (a sigmoid per label); a regression predictor's
``predict`` gives :class:`Value` records in the target's units. Both have
``problem_type``. Text and image predictors of both kinds honour this contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunelab.errors import DataError
from tunelab.tasks.problem_types import (
    label_sets,
    multi_hot,
    multilabel_metrics,
    regression_metrics,
)
from tunelab.tasks.targets import numeric_targets


@dataclass
class LabelSet:
    """One input's predicted labels (probability at or above the label's threshold)."""

    labels: list[str]
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "probabilities": self.probabilities}


@dataclass
class Value:
    """One input's predicted regression value."""

    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value}


def label_set_predictions(
    labels: list[str], probabilities: torch.Tensor, thresholds: torch.Tensor
) -> list[LabelSet]:
    """One :class:`LabelSet` per row of per-label probabilities."""
    return [
        LabelSet(
            [label for label, on in zip(labels, row >= thresholds, strict=True) if on],
            {label: float(p) for label, p in zip(labels, row, strict=True)},
        )
        for row in probabilities
    ]


def value_predictions(values: torch.Tensor) -> list[Value]:
    """One :class:`Value` per predicted value."""
    return [Value(float(v)) for v in values.reshape(-1)]


def thresholds_tensor(labels: list[str], thresholds: dict[str, float]) -> torch.Tensor:
    """The model card's per-label thresholds in the order of ``labels``."""
    return torch.tensor([thresholds[label] for label in labels])


def evaluate_targets(
    predictor: Any, inputs: list, truth: Sequence[Any], columns: tuple[str, str], where: str
) -> dict[str, Any]:
    """Metrics of a multi-label or regression predictor on ``inputs`` with known targets
    (``tunelab evaluate``): micro / macro F1 and per-label scores at the model's tuned
    thresholds, or R², MSE, MAE and Spearman in the target's units.

    Args:
        predictor: a multi-label or regression predictor (see the module docstring).
        inputs: what its ``predict`` takes, one per example.
        truth: each example's labels (a list or a ``separator``-separated string) or
            number.
        columns: the label column and the run's ``data.label_separator``.
        where: the source, for messages (``--data FILE``).

    Raises:
        DataError: a label the model was never trained on, or a target that is not a
            number.
    """
    column, separator = columns
    if predictor.problem_type == "regression":
        values = numeric_targets(pd.Series(list(truth), dtype=object), where, column)
        predicted = np.array([p.value for p in predictor.predict(inputs)])
        return regression_metrics(predicted, values.to_numpy())
    try:
        hot = multi_hot(label_sets(list(truth), separator), predictor.labels)
    except DataError as err:
        raise DataError(f"{where}: {err}; remove those rows") from None
    probabilities = predictor.predict_proba(inputs).numpy()
    return multilabel_metrics(hot, probabilities >= predictor.thresholds.numpy(), predictor.labels)
