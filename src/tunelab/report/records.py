"""What a run directory or a compare directory holds, as frozen, render-ready records.

These are the report's vocabulary: :mod:`tunelab.report.loader` builds them from the files
a run left behind, and the figures and the page read only these, never the raw JSON. A
field is ``None`` when the file or key behind it was absent (an older or crashed run), so
every consumer must treat ``None`` as "not recorded", not as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ClassScores:
    """Test precision / recall / F1 / support of one class."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class HeldOutMetrics:
    """The ``test`` block of ``metrics.json``; fields absent from the file are ``None``.

    Named for the held-out split rather than ``Test...``, which pytest would collect.
    """

    accuracy: float | None = None
    f1_macro: float | None = None
    precision_macro: float | None = None
    recall_macro: float | None = None
    loss: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    labels: list[str] = field(default_factory=list)
    per_class: list[ClassScores] = field(default_factory=list)
    confusion_matrix: list[list[int]] | None = None


@dataclass(frozen=True)
class RunMetrics:
    """The final numbers of one run (``metrics.json``)."""

    test: HeldOutMetrics
    validation: dict[str, float]
    model: str | None
    strategy: str | None
    pretrained: bool | None
    trainable_params: int | None
    total_params: int | None
    train_seconds: float | None
    seconds_per_epoch: float | None
    epochs_run: int | None
    steps: int | None
    best_epoch: int | None
    peak_memory_mb: float | None


@dataclass(frozen=True)
class EvalRecord:
    """One line of ``history.jsonl``: the state of training at one evaluation."""

    epoch: float
    step: int | None
    train_loss: float | None
    val_loss: float | None
    val_accuracy: float | None
    val_f1_macro: float | None
    lr: float | None
    phase: int
    trainable_params: int | None


@dataclass(frozen=True)
class LayerGroup:
    """One layer group of the backbone and what the strategy did to it."""

    name: str
    params: int
    state: str
    lr_scale: float | None
    lr: float | None
    unfreeze_epoch: int | None


@dataclass(frozen=True)
class LayerPlan:
    """``layers.json``: the ordered groups (bottom = embeddings, top = head)."""

    strategy: str
    groups: list[LayerGroup]
    trainable_params: int | None
    total_params: int | None


@dataclass(frozen=True)
class SplitSummary:
    """Size, class counts and text-length histogram of one data split."""

    name: str
    n: int
    class_counts: dict[str, int]
    length_min: float | None
    length_p50: float | None
    length_max: float | None
    length_hist: list[tuple[float, float, int]]


@dataclass(frozen=True)
class DataSummary:
    """``data_summary.json``: what the data looked like after cleaning and splitting."""

    labels: list[str]
    splits: list[SplitSummary]
    duplicates_across_splits: dict[str, int]
    cleaning: dict[str, Any]
    warnings: list[str]

    def split(self, name: str) -> SplitSummary | None:
        """The split called ``name`` (``train``, ``validation``, ``test``), if present."""
        return next((s for s in self.splits if s.name == name), None)


@dataclass(frozen=True)
class RunData:
    """Everything the report shows about one run directory."""

    path: Path
    metrics: RunMetrics
    config: dict[str, Any] | None
    history: list[EvalRecord] | None
    layers: LayerPlan | None
    data: DataSummary | None

    @property
    def strategy(self) -> str:
        """The strategy name, from whichever file recorded it."""
        if self.metrics.strategy:
            return self.metrics.strategy
        if self.layers:
            return self.layers.strategy
        return str(config_value(self.config, "strategy.name") or "unknown")


@dataclass(frozen=True)
class StrategySummary:
    """One row of ``summary.json``'s ``strategies``: a strategy averaged over seeds."""

    strategy: str
    n_seeds: int
    accuracy_mean: float | None
    accuracy_std: float | None
    f1_macro_mean: float | None
    f1_macro_std: float | None
    train_seconds_mean: float | None
    trainable_params: int | None
    total_params: int | None
    latency_ms_p50: float | None
    peak_memory_mb: float | None
    run_dirs: list[str]


@dataclass(frozen=True)
class TransferGain:
    """How much the best pre-trained strategy beat training from scratch."""

    best_strategy: str
    best_f1_macro: float | None
    scratch_f1_macro: float | None
    gain: float | None


@dataclass(frozen=True)
class Flag:
    """A warning ``compare`` raised about one strategy, with the numbers behind it."""

    kind: str
    strategy: str
    message: str
    numbers: dict[str, Any]


@dataclass(frozen=True)
class Recommendation:
    """The strategy ``compare`` recommends and why."""

    strategy: str
    reason: str


@dataclass(frozen=True)
class CompareData:
    """Everything the report shows about a compare directory."""

    path: Path
    strategies: list[StrategySummary]
    transfer_gain: TransferGain | None
    flags: list[Flag]
    recommendation: Recommendation | None
    data: DataSummary | None
    runs: dict[str, list[RunData]]

    def first_run(self, strategy: str) -> RunData | None:
        """The first loadable run of ``strategy`` (seed order), if any."""
        runs = self.runs.get(strategy) or []
        return runs[0] if runs else None


def config_value(config: dict[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """``config["a"]["b"]`` for ``"a.b"``, or ``default`` when any level is missing.

    The report reads configs written by any tunelab version, so a key that moved or was
    added later must not crash it.
    """
    node: Any = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return default if node is None else node
