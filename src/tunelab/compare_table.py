"""A comparison's summary as tables: the console table (with transfer gain, flags and
the recommendation under it) and ``summary.csv``.

Kept apart from the numbers (``compare_rows``, ``comparison.summarise``) so what is shown
can change without touching what is measured.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from rich.console import Console
from rich.table import Table

from tunelab.compare_rows import all_metrics

FIXED_COLUMNS = ("train s", "s/epoch", "trainable", "p50 ms", "peak MB")
# Shown when some row has them: representation drift (CKA, information), the change of
# the pretrained model's own-task score, a language model's rise in perplexity on general
# reference text (the last two measure forgetting).
OPTIONAL_COLUMNS = (
    ("cka", "CKA"),
    ("old_task_change", "old task Δ"),
    ("reference_ppl_rise", "ref ppl +%"),
)


def summary_csv(rows: list[dict]) -> str:
    """``summary.csv``: one row per strategy, scalar columns only."""
    columns = [k for k in rows[0] if k != "run_dirs"] if rows else []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def print_summary(console: Console, summary: dict) -> None:
    """The comparison table, transfer gain, flags and recommendation."""
    table = Table(title="strategies compared (test set; mean ± std over seeds)")
    shown = _table_metrics(summary["objective"])
    rows = summary["strategies"]
    extras = [(key, label) for key, label in OPTIONAL_COLUMNS if any(key in r for r in rows)]
    columns = ["strategy", *(s["label"] for s in shown), *FIXED_COLUMNS, *(e[1] for e in extras)]
    for column in columns:
        table.add_column(column, justify="left" if column == "strategy" else "right")
    recommended = (summary.get("recommendation") or {}).get("strategy")
    for r in rows:
        name = (
            f"[bold green]{r['strategy']} *[/]" if r["strategy"] == recommended else r["strategy"]
        )
        table.add_row(
            name,
            *(_mean_std(r, spec["name"]) for spec in shown),
            _cell(r["train_seconds_mean"], ".1f"),
            _cell(r["seconds_per_epoch_mean"], ".1f"),
            f"{r['trainable_params']:,}",
            _cell(r["latency_ms_p50"], ".1f"),
            _cell(r["peak_memory_mb"], ".0f"),
            *(
                _cell(r.get(key), form)
                for (key, _), form in zip(extras, _forms(extras), strict=True)
            ),
        )
    console.print(table)
    _print_conclusions(console, summary, recommended)


def _print_conclusions(console: Console, summary: dict, recommended: str | None) -> None:
    """Under the table: transfer gain, flags, and the recommended strategy with why."""
    gain = summary.get("transfer_gain")
    if gain:
        metric = gain["metric"]
        label = next(s["label"] for s in all_metrics(summary["objective"]) if s["name"] == metric)
        console.print(
            f"transfer gain: {gain['best_strategy']} {label} {gain[f'best_{metric}']:.3f} vs "
            f"scratch {gain[f'scratch_{metric}']:.3f} = {gain['gain']:+.3f}"
        )
    for flag in summary["flags"]:
        console.print(f"[yellow]flag[/] {flag['kind']} · {flag['strategy']}: {flag['message']}")
    if recommended:
        console.print(
            f"recommendation: [bold]{recommended}[/] — {summary['recommendation']['reason']}"
        )


def _mean_std(row: dict, metric: str) -> str:
    """``mean ± std`` over seeds; the mean alone for one seed, where std says nothing."""
    mean = f"{row[f'{metric}_mean']:.3f}"
    return mean if row["n_seeds"] < 2 else f"{mean} ± {row[f'{metric}_std']:.3f}"


def _forms(extras: list[tuple[str, str]]) -> list[str]:
    return [".2f" if key == "cka" else "+.1%" for key, _ in extras]


def _cell(value, form: str) -> str:
    """A number, or ``-`` where a row has none (the base row trains nothing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return format(value, form)


def _table_metrics(objective: dict) -> list[dict]:
    """The metrics the table shows: the objective's headline."""
    specs = {spec["name"]: spec for spec in all_metrics(objective)}
    names = objective.get("headline") or [n for n in specs if n != "loss"][:2]
    return [specs[name] for name in names]
