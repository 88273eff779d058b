"""The search report: optimization history, parameter importances, parallel coordinates.

``write_search_report`` turns what ``tunelab search`` wrote (its summary and one row per
trial, plain dicts) into one self-contained ``search_report.html``: figures are PNG
``data:`` URIs drawn on the Agg canvas, so the page opens offline and nothing here needs
Optuna or a display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tunelab.io import write_text
from tunelab.report.plotting import to_data_uri

STATE_STYLE = {"complete": ("#2563eb", "o"), "pruned": ("#9ca3af", "x")}
BEST_COLOR, BASELINE_COLOR = "#c2255c", "#f08c00"
_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "legend.frameon": False,
    "font.family": "DejaVu Sans",
}


def _figure(width: float, height: float) -> Figure:
    """One-axes figure on the Agg canvas (no pyplot state); call inside ``rc_context``."""
    fig = Figure(figsize=(width, height), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    fig.add_subplot()
    return fig


def optimization_history(rows: Sequence[dict], metric: str, direction: str) -> str:
    """Each trial's value (pruned ones at their last report), and the best so far."""
    with matplotlib.rc_context(_STYLE):
        fig = _figure(7.5, 3.4)
        ax = fig.axes[0]
        for state, (color, marker) in STATE_STYLE.items():
            key = "value" if state == "complete" else "last_reported"
            points = [
                (r["number"], r[key]) for r in rows if r["state"] == state and r[key] is not None
            ]
            if points:
                ax.scatter(
                    *zip(*points, strict=True),
                    color=color,
                    marker=marker,
                    s=22,
                    label=state if state == "complete" else "pruned (last epoch)",
                    zorder=3,
                )
        _best_so_far(ax, rows, direction)
        for row in rows:
            if row["baseline"] and row["value"] is not None:
                ax.scatter(
                    [row["number"]],
                    [row["value"]],
                    marker="*",
                    s=140,
                    color=BASELINE_COLOR,
                    label="baseline (the config as written)",
                    zorder=4,
                )
        ax.set(xlabel="trial", ylabel=f"validation {metric}", title="Optimization history")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="lower right" if direction == "maximize" else "upper right")
        return to_data_uri(fig)


def _best_so_far(ax: Any, rows: Sequence[dict], direction: str) -> None:
    better = max if direction == "maximize" else min
    xs, ys, best = [], [], None
    for row in sorted(rows, key=lambda r: r["number"]):
        if row["state"] == "complete" and row["value"] is not None:
            best = row["value"] if best is None else better(best, row["value"])
        if best is not None:
            xs.append(row["number"])
            ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color=BEST_COLOR, linewidth=1.5, label="best so far")


def param_importances(importances: dict[str, float]) -> str:
    """Horizontal bars: how much of the metric's variance each parameter explains."""
    names = list(importances)[::-1]
    with matplotlib.rc_context(_STYLE):
        fig = _figure(7.5, 0.45 * len(names) + 1.0)
        ax = fig.axes[0]
        values = [importances[n] for n in names]
        ax.barh(names, values, color="#2563eb")
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:.2f}", va="center", fontsize=8)
        ax.set(xlabel="importance (share of explained variance)", title="Parameter importances")
        ax.set_xlim(0, max(values + [0.01]) * 1.15)
        return to_data_uri(fig)


def parallel_coordinates(
    rows: Sequence[dict], space: Sequence[dict], metric: str, direction: str
) -> str | None:
    """One line per complete trial across every parameter axis, coloured by its value."""
    complete = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    if not complete or not space:
        return None
    values = np.array([r["value"] for r in complete])
    low, high = float(values.min()), float(values.max())
    shade = (values - low) / (high - low) if high > low else np.full(len(values), 0.5)
    best = int(np.argmax(values) if direction == "maximize" else np.argmin(values))
    with matplotlib.rc_context({**_STYLE, "axes.grid": False}):
        fig = _figure(max(7.5, 1.5 * (len(space) + 1)), 3.8)
        ax = fig.axes[0]
        cmap = matplotlib.colormaps["viridis"]
        for i, row in enumerate(complete):
            ys = [_position(row["params"].get(p["key"]), p) for p in space] + [shade[i]]
            ax.plot(
                range(len(ys)),
                ys,
                color=BEST_COLOR if i == best else cmap(shade[i]),
                linewidth=2.4 if i == best else 1.0,
                alpha=1.0 if i == best else 0.7,
                zorder=3 if i == best else 2,
            )
        _axes_labels(ax, space, metric, low, high)
        ax.set_title("Parallel coordinates (complete trials; the best in red)")
        return to_data_uri(fig)


def _position(value: Any, param: dict) -> float:
    """A parameter value mapped to [0, 1] on its axis (log axes for log_uniform)."""
    if value is None:
        return math.nan  # a ``when`` parameter this trial did not use: a gap in its line
    options = param["values"]
    if param["kind"] == "choice":
        index = next((i for i, o in enumerate(options) if _same(o, value)), 0)
        return index / (len(options) - 1) if len(options) > 1 else 0.5
    low, high = options
    if param["kind"] == "log_uniform":
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def _same(option: Any, value: Any) -> bool:
    import json

    return option == value or (isinstance(option, list | dict) and json.dumps(option) == value)


def _axes_labels(ax: Any, space: Sequence[dict], metric: str, low: float, high: float) -> None:
    count = len(space) + 1
    for x in range(count):
        ax.axvline(x, color="#9ca3af", linewidth=0.8, zorder=1)
    for x, param in enumerate(space):
        for y, text in _ticks(param):
            ax.text(x + 0.04, y, text, fontsize=7, va="center", color="#374151")
    ax.text(count - 1 + 0.04, 0, f"{low:.3f}", fontsize=7, va="center")
    ax.text(count - 1 + 0.04, 1, f"{high:.3f}", fontsize=7, va="center")
    ax.set_xticks(range(count), [p["key"] for p in space] + [metric], rotation=20, ha="right")
    ax.set_yticks([])
    ax.set_xlim(-0.2, count - 0.5)
    ax.set_ylim(-0.05, 1.05)


def _ticks(param: dict) -> list[tuple[float, str]]:
    options = param["values"]
    if param["kind"] == "choice":
        last = max(len(options) - 1, 1)
        return [(i / last if len(options) > 1 else 0.5, str(o)) for i, o in enumerate(options)]
    return [(0.0, f"{options[0]:.3g}"), (1.0, f"{options[1]:.3g}")]


# ----------------------------------------------------------------------------- HTML
def write_search_report(
    path: str | Path,
    summary: dict,
    rows: Sequence[dict],
    space: Sequence[dict],
    importances: dict[str, float] | None,
    importance_note: str = "",
) -> Path:
    """Write ``search_report.html``: summary, the three figures and the trial table."""
    metric, direction = summary["metric"], summary["direction"]
    figures = [("Optimization history", optimization_history(rows, metric, direction), "")]
    figures.append(
        (
            "Parameter importances",
            param_importances(importances) if importances else None,
            importance_note or "no parameters to rank",
        )
    )
    figures.append(
        (
            "Parallel coordinates",
            parallel_coordinates(rows, space, metric, direction),
            "no complete trial yet",
        )
    )
    body = _summary_html(summary) + "".join(_figure_html(*f) for f in figures)
    body += _table_html(rows, space, metric)
    return write_text(
        path,
        _PAGE.format(
            title=escape(f"Search {summary['study']}"),
            body=body,
            when=datetime.now().strftime("%Y-%m-%d %H:%M"),
        ),
    )


def _summary_html(summary: dict) -> str:
    counts, best, baseline = summary["trials"], summary["best"], summary["baseline"]
    cards = [
        (
            "trials",
            f"{counts['total']} ({counts['complete']} complete, {counts['pruned']} "
            f"pruned, {counts['fail']} failed)",
        )
    ]
    if best:
        cards.append((f"best {summary['metric']}", f"{best['value']:.4f} (trial {best['number']})"))
    if baseline:
        cards.append(("baseline", f"{baseline['value']:.4f} (trial {baseline['number']})"))
    proc = summary["this_process"]
    cards.append(
        (
            "this process",
            f"{proc['trials_run']} trials in {proc['wall_seconds']:.0f}s, {proc['isolation']}",
        )
    )
    items = "".join(
        f"<div class=card><b>{escape(k)}</b><span>{escape(v)}</span></div>" for k, v in cards
    )
    params = ""
    if best:
        params = (
            "<p>best parameters: "
            + ", ".join(
                f"<code>{escape(k)}={escape(_fmt(v))}</code>" for k, v in best["params"].items()
            )
            + "</p>"
        )
    return (
        f"<h1>Search <code>{escape(summary['study'])}</code></h1><p class=dim>"
        f"{escape(summary['storage'])} · {escape(summary['direction'])} validation "
        f"{escape(summary['metric'])}</p><div class=cards>{items}</div>{params}"
    )


def _figure_html(title: str, uri: str | None, note: str) -> str:
    inner = (
        f'<img alt="{escape(title)}" src="{uri}">' if uri else f"<p class=dim>{escape(note)}</p>"
    )
    return f"<section><h2>{escape(title)}</h2>{inner}</section>"


def _table_html(rows: Sequence[dict], space: Sequence[dict], metric: str) -> str:
    keys = [p["key"] for p in space]
    head = "".join(f"<th>{escape(h)}</th>" for h in ["trial", "state", metric, "seconds", *keys])
    lines = []
    for row in rows:
        cells = [
            str(row["number"]) + (" ★" if row["baseline"] else ""),
            row["state"],
            _fmt(row["value"]),
            _fmt(row["duration_s"]),
            *(_fmt(row["params"].get(k)) for k in keys),
        ]
        lines.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return f"<section><h2>Trials</h2><table><tr>{head}</tr>{''.join(lines)}</table></section>"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


_PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#111827}}
.dim{{color:#6b7280}}.cards{{display:flex;gap:12px;flex-wrap:wrap}}
.card{{border:1px solid #e5e7eb;border-radius:8px;padding:8px 12px}}.card b{{display:block;
font-size:12px;color:#6b7280}}img{{max-width:100%}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:right}}</style></head>
<body>{body}<p class=dim>written {when} by tunelab search</p></body></html>
"""
