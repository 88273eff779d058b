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
from tunelab.report.flowchart import build_steps, flowchart_svg
from tunelab.report.loader import load_source
from tunelab.report.plotting import css_width
from tunelab.report.records import (
    CompareData,
    DataSummary,
    RunData,
    StrategySummary,
    config_value,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"
REPORT_NAME = "report.html"
SECTION_TITLES = {
    "comparison": "Comparison",
    "process": "Process",
    "layers": "Layers",
    "curves": "Learning curves",
    "errors": "Confusion matrix",
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
    """What the template shows for one run: its flowchart, layers, curves and errors."""

    name: str
    run: RunData
    flowchart: Markup
    layer_diagram: str | None
    curves: str | None
    confusion: str | None


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
    context["sections"] = _sections(context)
    context["number"] = {key: i for i, (key, _) in enumerate(context["sections"], start=1)}
    context["generated"] = datetime.now().strftime("%Y-%m-%d %H:%M")
    return _environment().get_template(TEMPLATE_NAME).render(**context)


def _sections(context: dict[str, Any]) -> list[tuple[str, str]]:
    """The sections this report has, as (anchor, title); sections without data are left out."""
    runs: list[RunView] = context["runs"]
    present = {
        "comparison": context["comparison"] is not None,
        "process": bool(runs),
        "layers": any(v.layer_diagram for v in runs),
        "curves": bool(context["compare_curves"]) or any(v.curves for v in runs),
        "errors": any(v.confusion or v.run.metrics.test.per_class for v in runs),
        "data": context["data"] is not None,
    }
    return [(key, SECTION_TITLES[key]) for key, shown in present.items() if shown]


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
        "task": config_value(run.config, "task", "text_classification"),
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
    return {
        "kind": "compare",
        "title": f"compare · {len(compare.strategies)} strategies",
        "source": str(compare.path),
        "model": _model_name(first) if first else "—",
        "strategies": [s.strategy for s in compare.strategies],
        "task": config_value(first.config if first else None, "task", "text_classification"),
        "cards": _compare_cards(compare),
        "runs": views,
        "featured": featured,
        "compare_curves": compare_figures.compare_curves(histories) if histories else None,
        "comparison": _comparison_view(compare, recommended),
        "data": _data_view(compare.data),
    }


def _run_view(run: RunData, name: str, layer_width: float = 8.0) -> RunView:
    """Render one run's figures; ``name`` is how the page calls it (``scratch``, not ``full``).

    ``layer_width`` (inches) is smaller on compare pages, where diagrams sit two abreast.
    """
    test = run.metrics.test
    confusion: str | None = None
    layers: str | None = None
    if test.confusion_matrix and test.labels:
        confusion = run_figures.confusion_matrix(test.labels, test.confusion_matrix)
    if run.layers:
        layers = run_figures.layer_diagram(run.layers, name, layer_width)
    return RunView(
        name=name,
        run=run,
        flowchart=Markup(flowchart_svg(build_steps(run), uid=f"flow-{name}")),
        layer_diagram=layers,
        curves=run_figures.learning_curves(run.history) if run.history else None,
        confusion=confusion,
    )


def _model_name(run: RunData) -> str:
    """The model as configured: a registry name, or a local path (shortened in the title)."""
    name = run.metrics.model or config_value(run.config, "model.name", "model")
    return str(name)


def _run_cards(run: RunData) -> list[Card]:
    m, test = run.metrics, run.metrics.test
    val_acc, val_f1 = m.validation.get("accuracy"), m.validation.get("f1_macro")
    total, share = fmt.params(m.total_params), fmt.percent(m.trainable_params, m.total_params)
    epochs = f"{m.epochs_run} epochs" if m.epochs_run is not None else ""
    p95 = fmt.number(test.latency_ms_p95, 1, "ms")
    return [
        Card("test accuracy", fmt.score(test.accuracy), f"validation {fmt.score(val_acc)}"),
        Card("test macro-F1", fmt.score(test.f1_macro), f"validation {fmt.score(val_f1)}"),
        Card("trainable params", fmt.params(m.trainable_params), f"of {total} ({share})"),
        Card("train time", fmt.seconds(m.train_seconds), epochs),
        Card("latency p50", fmt.number(test.latency_ms_p50, 1, "ms"), f"p95 {p95}"),
        Card("peak memory", fmt.number(m.peak_memory_mb, 0, "MB")),
    ]


def _compare_cards(compare: CompareData) -> list[Card]:
    by_name = {s.strategy: s for s in compare.strategies}
    cards = []
    if compare.recommendation and compare.recommendation.strategy in by_name:
        rec = by_name[compare.recommendation.strategy]
        cards.append(Card("recommended", rec.strategy, compare.recommendation.reason))
        seeds = rec.n_seeds
        spread = f"± {fmt.score(rec.f1_macro_std)} over {seeds} seeds" if seeds > 1 else ""
        cards.append(Card("its test macro-F1", fmt.score(rec.f1_macro_mean), spread))
        cards.append(Card("its train time", fmt.seconds(rec.train_seconds_mean), "mean over seeds"))
    gain = compare.transfer_gain
    if gain and gain.gain is not None:
        note = f"{gain.best_strategy} vs scratch (F1 {fmt.score(gain.scratch_f1_macro)})"
        cards.append(Card("transfer gain", f"{gain.gain:+.3f} F1", note))
    seeds = sum(s.n_seeds for s in compare.strategies)
    cards.append(Card("runs", str(seeds), f"{len(compare.strategies)} strategies"))
    return cards


@dataclass(frozen=True)
class ComparisonRow:
    """One strategy in the comparison table."""

    summary: StrategySummary
    recommended: bool
    flagged: bool


def _comparison_view(compare: CompareData, recommended: str | None) -> dict[str, Any]:
    flagged = {f.strategy for f in compare.flags}
    rows = [
        ComparisonRow(s, s.strategy == recommended, s.strategy in flagged)
        for s in compare.strategies
    ]
    return {
        "rows": rows,
        "gain": compare.transfer_gain,
        "flags": compare.flags,
        "recommendation": compare.recommendation,
        "tradeoff": compare_figures.tradeoff(compare.strategies, recommended),
    }


def _data_view(data: DataSummary | None) -> dict[str, Any] | None:
    if data is None:
        return None
    has_lengths = any(s.length_hist for s in data.splits)
    return {
        "summary": data,
        "balance": data_figures.class_balance(data) if data.splits else None,
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
