"""What a run directory or a compare directory holds, as frozen, render-ready records.

These are the report's vocabulary: :mod:`tunelab.report.loader` builds them from the files
a run left behind, and the figures and the page read only these, never the raw JSON. A
field is ``None`` when the file or key behind it was absent (an older or crashed run), so
every consumer must treat ``None`` as "not recorded", not as zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MetricInfo:
    """One metric as the run's objective described it (``objective.metrics[i]``)."""

    name: str
    label: str
    mode: str  # "max": higher is better; "min": lower is better
    short: str = ""

    @property
    def direction(self) -> str:
        """``higher is better`` or ``lower is better``, for captions and axis labels."""
        return "lower is better" if self.mode == "min" else "higher is better"


@dataclass(frozen=True)
class RecordedObjective:
    """What a run optimised and how it was scored, as ``metrics.json`` recorded it.

    The report reads every metric name, label and direction from here, so it renders
    any task's runs without knowing the task.
    """

    monitor: str
    train_metric: str | None
    metrics: tuple[MetricInfo, ...]

    def spec(self, name: str) -> MetricInfo:
        """The metric called ``name``; one the objective does not list is shown by name,
        higher being better (the loss: lower)."""
        found = next((m for m in self.metrics if m.name == name), None)
        mode = "min" if name == "loss" else "max"
        return found or MetricInfo(name, name.replace("_", " "), mode, name)

    @property
    def monitored(self) -> MetricInfo:
        """The metric runs are ranked and checkpoints kept by."""
        return self.spec(self.monitor)

    @property
    def headline(self) -> list[MetricInfo]:
        """The first two metrics other than the loss: the ones a reader looks at first."""
        return [m for m in self.metrics if m.name != "loss"][:2]

    @property
    def table(self) -> list[MetricInfo]:
        """The headline metrics, then the monitored one when it is not among them."""
        shown = self.headline
        return shown if self.monitored in shown else [*shown, self.monitored]

    def best(self, name: str, values: Iterable[float | None]) -> float | None:
        """The best of ``values`` for metric ``name`` in its direction (None: none recorded)."""
        present = [v for v in values if v is not None]
        if not present:
            return None
        return min(present) if self.spec(name).mode == "min" else max(present)


# Run directories written before ``objective`` was recorded were all classification.
CLASSIFICATION_OBJECTIVE = RecordedObjective(
    monitor="f1_macro",
    train_metric="accuracy",
    metrics=(
        MetricInfo("accuracy", "accuracy", "max", "acc"),
        MetricInfo("f1_macro", "macro-F1", "max", "f1"),
        MetricInfo("precision_macro", "macro precision", "max", "prec"),
        MetricInfo("recall_macro", "macro recall", "max", "rec"),
        MetricInfo("loss", "loss", "min", "loss"),
    ),
)


@dataclass(frozen=True)
class RunMetrics:
    """The final numbers of one run (``metrics.json``).

    ``test`` and ``validation`` hold the scalar metrics by name (whichever the task
    reports); ``test_details`` the test block's other entries (a classifier's labels,
    per-class scores and confusion matrix), which only the task's report sections read.
    """

    task: str
    objective: RecordedObjective
    test: dict[str, float]
    validation: dict[str, float]
    test_details: dict[str, Any]
    latency_ms_p50: float | None
    latency_ms_p95: float | None
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
    """One line of ``history.jsonl``: the state of training at one evaluation.

    ``train`` and ``val`` hold the ``train_<name>`` and ``val_<name>`` scalars by metric
    name (``loss`` among them), so ``val["perplexity"]`` is ``val_perplexity``.
    """

    epoch: float
    step: int | None
    lr: float | None
    phase: int
    trainable_params: int | None
    train: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerGroup:
    """One layer group of the backbone and what the strategy did to it."""

    name: str
    params: int
    state: str
    lr_scale: float | None
    lr: float | None
    unfreeze_epoch: int | None
    # What happened (gradual unfreezing): {"epoch": 0-based, "step": steps done before},
    # None when the group never unfroze; recorded False for runs that predate it.
    unfrozen_at: dict[str, int] | None = None
    unfreezing_recorded: bool = False
    # The strategy's own phase that trained the group before the main training
    # (e.g. "contrastive"); None when it trained, or not, in the main training only.
    trained_in: str | None = None


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
    """One row of ``summary.json``'s ``strategies``: a strategy averaged over seeds.

    ``mean`` and ``std`` hold the ``<name>_mean`` / ``<name>_std`` columns by name: every
    test metric of the objective, and ``val_<monitor>``.
    """

    strategy: str
    n_seeds: int
    mean: dict[str, float]
    std: dict[str, float]
    train_seconds_mean: float | None
    trainable_params: int | None
    total_params: int | None
    latency_ms_p50: float | None
    peak_memory_mb: float | None
    run_dirs: list[str]


@dataclass(frozen=True)
class TransferGain:
    """How much the best pre-trained strategy beat training from scratch on ``metric``.

    ``gain`` is signed so that positive always means better than scratch, whichever the
    metric's direction.
    """

    metric: str
    best_strategy: str
    best: float | None
    scratch: float | None
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
    objective: RecordedObjective
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
