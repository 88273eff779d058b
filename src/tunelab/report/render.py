"""Turn a loaded run or compare directory into one self-contained ``report.html``.

The page must open anywhere, offline, years later (attached to an email, archived with a
paper), so everything is inline: CSS in the template, figures as PNG ``data:`` URIs,
the flowchart as inline SVG. No script, font or stylesheet is fetched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tunelab.report import compare_figures, data_figures, run_figures
from tunelab.report import formatting as fmt
from tunelab.report.decision_sections import decision_sections
from tunelab.report.flowchart import build_steps, flowchart_svg
from tunelab.report.loader import load_source
from tunelab.report.plotting import css_width
from tunelab.report.records import (
    CompareData,
    DataSummary,
    MetricInfo,
    RecordedObjective,
    RunData,
    StrategySummary,
    config_value,
)
from tunelab.report.sections import ReportSection, task_sections
from tunelab.report.self_training_section import self_training_sections

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"
REPORT_NAME = "report.html"
SECTION_TITLES = {
    "comparison": "Comparison",
    "process": "Process",
    "layers": "Layers",
    "curves": "Learning curves",
    "data": "Data",
}


@dataclass(frozen=True)
class Card:
    """One key number in the header: a label, the value, and a short qualifier."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class RunView:
    """What the template shows for one run: its flowchart, layers, curves and the
    sections its task adds."""

    name: str
    run: RunData
    flowchart: Markup
    layer_diagram: str | None
    curves: str | None
    sections: list[ReportSection]
    layer_caption: str | None = None  # gradual unfreezing: drawn as the run ended or as planned


@dataclass(frozen=True)
class TaskSectionGroup:
    """One task section on the page: from one run, or one per strategy of a comparison."""

    anchor: str
    title: str
    lead: str
    entries: list[tuple[RunView, ReportSection]]


def write_report(source_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write a self-contained HTML report for a run directory or a compare directory.

    Args:
        source_dir: a run directory (holds ``metrics.json``) or a compare directory
            (holds ``summary.json``).
        output: where to write; defaults to ``source_dir/report.html``. A directory
            means ``output/report.html``.

    Returns:
        The path of the written report.

    Raises:
        RunDirError: ``source_dir`` is neither a run nor a compare directory.
    """
    source = load_source(source_dir)
    target = Path(output) if output is not None else Path(source_dir) / REPORT_NAME
    if target.is_dir():
        target = target / REPORT_NAME
    write_atomic(target, render_html(source))
    return target


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it into place.

    A crash or Ctrl-C mid-write leaves either the old report or none, never half a page,
    and the temporary file is removed on failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def render_html(source: RunData | CompareData) -> str:
    """The report page for ``source`` as an HTML string."""
    context = compare_context(source) if isinstance(source, CompareData) else run_context(source)
    context["task_sections"] = _task_section_groups(context["runs"])
    context["sections"] = _sections(context)
    context["number"] = {key: i for i, (key, _) in enumerate(context["sections"], start=1)}
    context["generated"] = datetime.now().strftime("%Y-%m-%d %H:%M")
    return _environment().get_template(TEMPLATE_NAME).render(**context)


def _sections(context: dict[str, Any]) -> list[tuple[str, str]]:
    """The sections this report has, as (anchor, title): the generic ones that have data,
    then the task's."""
    runs: list[RunView] = context["runs"]
    present = {
        "comparison": context["comparison"] is not None,
        "process": bool(runs),
        "layers": any(v.layer_diagram for v in runs),
        "curves": bool(context["compare_curves"]) or any(v.curves for v in runs),
        "data": context["data"] is not None,
    }
    generic = [(key, SECTION_TITLES[key]) for key, shown in present.items() if shown]
    return generic + [(g.anchor, g.title) for g in context["task_sections"]]


def _task_section_groups(views: list[RunView]) -> list[TaskSectionGroup]:
    """The task sections of every run, one group per title in first-seen order."""
    by_title: dict[str, list[tuple[RunView, ReportSection]]] = {}
    for view in views:
        for section in view.sections:
            by_title.setdefault(section.title, []).append((view, section))
    return [
        TaskSectionGroup(f"task-{i}", title, entries[0][1].lead, entries)
        for i, (title, entries) in enumerate(by_title.items(), start=1)
    ]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for name in ("params", "percent", "score", "mean_std", "seconds", "number", "count"):
        env.filters[name] = getattr(fmt, name)
    env.filters["humanize"] = _humanize
    env.filters["css_width"] = css_width
    return env


def run_context(run: RunData) -> dict[str, Any]:
    """Template variables for a single run directory."""
    view = _run_view(run, name=run.strategy)
    return {
        "kind": "run",
        "title": f"{Path(_model_name(run)).name} · {run.strategy}",
        "source": str(run.path),
        "model": _model_name(run),
        "strategies": [run.strategy],
        "task": run.metrics.task,
        "monitor": run.metrics.objective.monitored,
        "cards": _run_cards(run),
        "runs": [view],
        "featured": view,
        "compare_curves": None,
        "comparison": None,
        "data": _data_view(run.data),
    }


def compare_context(compare: CompareData) -> dict[str, Any]:
    """Template variables for a compare directory: the table, plots and every strategy."""
    views = [
        _run_view(run, name=s.strategy, layer_width=5.4)
        for s in compare.strategies
        if (run := compare.first_run(s.strategy)) is not None
    ]
    recommended = compare.recommendation.strategy if compare.recommendation else None
    featured = next((v for v in views if v.name == recommended), views[0] if views else None)
    histories = {
        name: [r.history for r in runs if r.history] for name, runs in compare.runs.items()
    }
    histories = {name: h for name, h in histories.items() if h}
    first = views[0].run if views else None
    objective = compare.objective
    curves = compare_figures.compare_curves(histories, objective) if histories else None
    return {
        "kind": "compare",
        "title": f"compare · {len(compare.strategies)} strategies",
        "source": str(compare.path),
        "model": _model_name(first) if first else "—",
        "strategies": [s.strategy for s in compare.strategies],
        "task": first.metrics.task if first else "—",
        "monitor": objective.monitored,
        "curve_metric": compare_figures.curve_metric(objective),
        "cards": _compare_cards(compare),
        "runs": views,
        "featured": featured,
        "compare_curves": curves,
        "comparison": _comparison_view(compare, recommended),
        "data": _data_view(compare.data),
    }


def _run_view(run: RunData, name: str, layer_width: float = 8.0) -> RunView:
    """Render one run's figures; ``name`` is how the page calls it (``scratch``, not ``full``).

    ``layer_width`` (inches) is smaller on compare pages, where diagrams sit two abreast.
    """
    layers = run_figures.layer_diagram(run.layers, name, layer_width) if run.layers else None
    curves = None
    if run.history:
        curves = run_figures.learning_curves(run.history, run.metrics.objective)
    return RunView(
        name=name,
        run=run,
        flowchart=Markup(flowchart_svg(build_steps(run), uid=f"flow-{name}")),
        layer_diagram=layers,
        layer_caption=run_figures.layer_caption(run.layers) if run.layers else None,
        curves=curves,
        sections=[*decision_sections(run), *self_training_sections(run), *task_sections(run)],
    )


def _model_name(run: RunData) -> str:
    """The model as configured: a registry name, or a local path (shortened in the title)."""
    name = run.metrics.model or config_value(run.config, "model.name", "model")
    return str(name)


def _run_cards(run: RunData) -> list[Card]:
    """The headline test metrics (validation beside them), then size, time, latency, memory."""
    m = run.metrics
    shown = m.objective.headline or [m.objective.monitored]
    total, share = fmt.params(m.total_params), fmt.percent(m.trainable_params, m.total_params)
    epochs = f"{m.epochs_run} epochs" if m.epochs_run is not None else ""
    p95 = fmt.number(m.latency_ms_p95, 1, "ms")
    return [
        *(_metric_card(metric, m.test, m.validation) for metric in shown),
        Card("trainable params", fmt.params(m.trainable_params), f"of {total} ({share})"),
        Card("train time", fmt.seconds(m.train_seconds), epochs),
        Card("latency p50", fmt.number(m.latency_ms_p50, 1, "ms"), f"p95 {p95}"),
        Card("peak memory", fmt.number(m.peak_memory_mb, 0, "MB")),
    ]


def _metric_card(metric: MetricInfo, test: dict[str, float], val: dict[str, float]) -> Card:
    note = f"validation {fmt.score(val.get(metric.name))}"
    if metric.mode == "min":
        note += f" · {metric.direction}"
    return Card(f"test {metric.label}", fmt.score(test.get(metric.name)), note)


def _compare_cards(compare: CompareData) -> list[Card]:
    by_name = {s.strategy: s for s in compare.strategies}
    monitored = compare.objective.monitored
    cards = []
    if compare.recommendation and compare.recommendation.strategy in by_name:
        rec = by_name[compare.recommendation.strategy]
        cards.append(Card("recommended", rec.strategy, compare.recommendation.reason))
        std = fmt.score(rec.std.get(monitored.name))
        spread = f"± {std} over {rec.n_seeds} seeds" if rec.n_seeds > 1 else ""
        score = fmt.score(rec.mean.get(monitored.name))
        cards.append(Card(f"its test {monitored.label}", score, spread))
        cards.append(Card("its train time", fmt.seconds(rec.train_seconds_mean), "mean over seeds"))
    gain = compare.transfer_gain
    if gain and gain.gain is not None:
        label = compare.objective.spec(gain.metric).label
        note = f"{gain.best_strategy} vs scratch ({label} {fmt.score(gain.scratch)})"
        cards.append(Card("transfer gain", f"{gain.gain:+.3f} {label}", note))
    seeds = sum(s.n_seeds for s in compare.strategies)
    cards.append(Card("runs", str(seeds), f"{len(compare.strategies)} strategies"))
    return cards


@dataclass(frozen=True)
class ScoreCell:
    """One metric of one strategy in the comparison table; ``best`` when no strategy has
    a better mean in the metric's direction."""

    mean: float | None
    std: float | None
    best: bool


@dataclass(frozen=True)
class ComparisonRow:
    """One strategy in the comparison table."""

    summary: StrategySummary
    scores: list[ScoreCell]
    recommended: bool
    flagged: bool


def _comparison_view(compare: CompareData, recommended: str | None) -> dict[str, Any]:
    flagged = {f.strategy for f in compare.flags}
    columns = compare.objective.table
    rows = [
        ComparisonRow(
            s,
            _score_cells(compare.objective, columns, compare.strategies, s),
            s.strategy == recommended,
            s.strategy in flagged,
        )
        for s in compare.strategies
    ]
    gain = compare.transfer_gain
    return {
        "columns": columns,
        "lower_better": [m.label for m in columns if m.mode == "min"],
        "rows": rows,
        "gain": gain,
        "gain_metric": compare.objective.spec(gain.metric) if gain else None,
        "flags": compare.flags,
        "recommendation": compare.recommendation,
        "tradeoff": compare_figures.tradeoff(compare.strategies, compare.objective, recommended),
    }


def _score_cells(
    objective: RecordedObjective,
    columns: list[MetricInfo],
    strategies: list[StrategySummary],
    row: StrategySummary,
) -> list[ScoreCell]:
    cells = []
    for metric in columns:
        best = objective.best(metric.name, (s.mean.get(metric.name) for s in strategies))
        mean = row.mean.get(metric.name)
        cells.append(ScoreCell(mean, row.std.get(metric.name), mean is not None and mean == best))
    return cells


def _data_view(data: DataSummary | None) -> dict[str, Any] | None:
    if data is None:
        return None
    has_lengths = any(s.length_hist for s in data.splits)
    has_classes = any(s.class_counts for s in data.splits)
    return {
        "summary": data,
        "balance": data_figures.class_balance(data) if has_classes else None,
        "lengths": data_figures.length_histogram(data) if has_lengths else None,
        "cleaning": [(_humanize(k), _describe(v)) for k, v in data.cleaning.items()],
    }


def _humanize(key: str) -> str:
    """``dropped_small_classes`` → ``dropped small classes``."""
    return key.replace("_", " ")


def _describe(value: Any) -> str:
    """A cleaning value as text: counts, lists of classes, or ``class: cap`` pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_describe(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
