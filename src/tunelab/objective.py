"""What a task optimises and how it is scored: the trainer's only view of a task.

The trainer knows no labels, accuracy or F1. It asks the run's :class:`Objective` for
the training loss of a batch, for a running training score, and for the metrics of a
whole evaluation pass; early stopping, search and compare rank runs by the metric the
objective names as its ``monitor``, in that metric's direction. Classification (text,
image, audio) shares :class:`tunelab.tasks.classification.ClassificationObjective`; a
causal LM has its own (loss and perplexity).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch

Direction = Literal["max", "min"]


@dataclass(frozen=True)
class MetricSpec:
    """One scalar metric an objective reports.

    Attributes:
        name: the key in metric dicts, ``metrics.json`` and ``history.jsonl`` (``val_<name>``).
        label: how tables and the report title it (``macro-F1``).
        mode: ``max`` when higher is better, ``min`` when lower is.
        short: the progress line's abbreviation (``f1``).
        scale: what a perfect score reads (1 for a fraction, 100 for SQuAD's
            percentages): compare prints differences as points of it and sizes its
            "within noise" tie threshold by it.
    """

    name: str
    label: str
    mode: Direction
    short: str = ""
    scale: float = 1.0


@dataclass
class EvalResult:
    """Metrics of one evaluation pass, and per-example outputs keyed by kind."""

    metrics: dict[str, Any]
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


Batches = Iterable[tuple[list[int], torch.Tensor, torch.Tensor]]


class Objective(ABC):
    """The contract between a task and the trainer.

    Subclasses set the class attributes and implement the three methods:

    * ``metrics``: every scalar metric :meth:`evaluate` returns (``loss`` among them).
    * ``monitor``: the metric early stopping, search and compare rank by by default.
    * ``train_metric``: a metric also measured on training batches (its train/validation
      gap is the overfitting signal), or None.
    * ``final_metrics``: test-only metrics the task adds after training (e.g. a language
      model's generation scores), too costly to compute at every evaluation.
    * ``headline``: the metrics tables show first (default: the first two non-loss ones).
    * :meth:`loss`: the differentiable training loss of one batch's model outputs.
    * :meth:`batch_score`: the batch's contribution to ``train_metric`` (a sum over its
      examples, e.g. correct predictions); the trainer divides by examples seen.
    * :meth:`evaluate`: metrics (and per-example outputs) of a whole pass, from
      ``(indices, outputs, targets)`` triples.
    * :meth:`monitor_on` (optional): the monitor on a resample of a pass's examples.
    """

    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    monitor: ClassVar[str] = "loss"
    train_metric: ClassVar[str | None] = None
    final_metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    headline: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The scalar loss to minimise for one batch."""

    @abstractmethod
    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Sum over the batch of what ``train_metric`` averages (0 when it is None)."""

    @abstractmethod
    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        """Metrics of a pass over ``num_examples`` examples, fed batch by batch."""

    def monitor_on(self, outputs: dict[str, np.ndarray], rows: np.ndarray) -> float | None:
        """The ``monitor`` metric on the examples ``rows`` (indices into the per-example
        ``outputs`` of :meth:`evaluate`, repeats allowed), or None where the objective
        cannot recompute it from them. Resampling a validation pass this way tells a
        real difference between two runs from noise (:mod:`tunelab.paired_bootstrap`)."""
        return None

    @classmethod
    def metric_names(cls) -> list[str]:
        """Names of every metric :meth:`evaluate` reports."""
        return [spec.name for spec in cls.metrics]

    @classmethod
    def spec(cls, name: str) -> MetricSpec:
        """The spec of metric ``name`` (KeyError when the objective has none)."""
        for spec in cls.metrics:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What readers of a run directory need to rank and label its metrics."""
        headline = cls.headline or tuple(s.name for s in cls.metrics if s.name != "loss")[:2]
        return {
            "monitor": cls.monitor,
            "train_metric": cls.train_metric,
            "metrics": [asdict(spec) for spec in cls.metrics],
            "final_metrics": [asdict(spec) for spec in cls.final_metrics],
            "headline": list(headline),
        }


def better(mode: Direction, a: float, b: float) -> bool:
    """Whether ``a`` beats ``b`` for a metric whose direction is ``mode``."""
    return a > b if mode == "max" else a < b


@dataclass
class ScoredPass:
    """One evaluation pass's per-example outputs with the objective that scored them:
    what rescoring a resample of its examples needs, kept in memory (a run's
    :attr:`tunelab.run.RunResult.validation`), never written.

    Attributes:
        objective: the run's objective (its labels, monitor and direction).
        outputs: :attr:`EvalResult.outputs` of the pass, indexed by example.
    """

    objective: Objective
    outputs: dict[str, np.ndarray]

    def monitor_on(self, rows: np.ndarray) -> float | None:
        """The monitored metric on the examples ``rows`` (:meth:`Objective.monitor_on`)."""
        return self.objective.monitor_on(self.outputs, rows)
