"""Figures that set strategies side by side: validation curves and the score/cost tradeoff."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from tunelab.report.plotting import (
    DPI,
    plot_series,
    strategy_colors,
    styled_figure,
    to_data_uri,
    x_axis,
)
from tunelab.report.records import EvalRecord, MetricInfo, RecordedObjective, StrategySummary


def compare_curves(
    histories: dict[str, list[list[EvalRecord]]], objective: RecordedObjective
) -> str:
    """A validation score and the val loss per strategy overlaid; one faint line per
    extra seed. The score is the monitored metric, or the first headline metric when
    the loss is monitored (the loss has its own panel)."""
    colors = strategy_colors(list(histories))
    metrics = [curve_metric(objective), objective.spec("loss")]
    metrics = [m for m in metrics if m is not None]
    with styled_figure(5.0 * len(metrics), 3.6) as fig:
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        xlabel = "epoch"
        for name, runs in histories.items():
            for seed, history in enumerate(runs):
                xs, xlabel = x_axis(history)
                style = {"color": colors[name], "alpha": 1.0 if seed == 0 else 0.35}
                label = name if seed == 0 else None
                for ax, metric in zip(axes, metrics, strict=True):
                    values = [r.val.get(metric.name) for r in history]
                    plot_series(ax, xs, values, label=label, **style)
        for ax, metric in zip(axes, metrics, strict=True):
            ax.set_title(f"Validation {metric.label} ({metric.direction})", loc="left")
            ax.set_xlabel(xlabel)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if axes[0].lines:
            handles, names = axes[0].get_legend_handles_labels()
            fig.legend(handles, names, loc="outside right upper")
        return to_data_uri(fig)


def curve_metric(objective: RecordedObjective) -> MetricInfo | None:
    """The score the overlaid curves show beside the loss (None: the loss is all there is)."""
    if objective.monitor != "loss":
        return objective.monitored
    return objective.headline[0] if objective.headline else None


def tradeoff(
    strategies: Sequence[StrategySummary],
    objective: RecordedObjective,
    recommended: str | None = None,
) -> str:
    """The monitored test metric against train time and against trainable params (log),
    per strategy, with the seed spread as error bars."""
    metric = objective.monitored
    colors = strategy_colors([s.strategy for s in strategies])
    with styled_figure(10.5, 3.8) as fig:
        time_ax, params_ax = fig.subplots(1, 2)
        params_ax.set_xscale("log")
        panels = {time_ax: "train_seconds_mean", params_ax: "trainable_params"}
        placed = {}
        for ax, cost in panels.items():
            points = [_point(s, metric.name, getattr(s, cost), colors) for s in strategies]
            placed[ax] = [p for p in points if p.x and p.y is not None]
            for point in placed[ax]:
                _draw_point(ax, point, point.summary.strategy == recommended)
            ax.set_ylabel(f"test {metric.label} ({metric.direction})")
            ax.margins(x=0.15, y=0.18)
        fig.draw_without_rendering()  # final limits and layout, so label boxes are real
        for ax, points in placed.items():
            _label_points(ax, points, recommended)
        time_ax.set_xlabel("train time (s, mean over seeds)")
        params_ax.set_xlabel("trainable parameters (log scale)")
        time_ax.set_title(f"{metric.label} vs train time", loc="left")
        params_ax.set_title(f"{metric.label} vs trainable params", loc="left")
        return to_data_uri(fig)


def _point(
    summary: StrategySummary, metric: str, x: float | None, colors: dict[str, str]
) -> _TradeoffPoint:
    return _TradeoffPoint(
        summary, x, summary.mean.get(metric), summary.std.get(metric), colors[summary.strategy]
    )


@dataclass(frozen=True)
class _TradeoffPoint:
    summary: StrategySummary
    x: float | None
    y: float | None
    spread: float | None
    color: str


def _draw_point(ax: Axes, point: _TradeoffPoint, star: bool) -> None:
    """One point with its seed spread as an error bar; the recommendation starred."""
    marker, size = ("*", 15) if star else ("o", 7)
    ax.errorbar(
        point.x,
        point.y,
        yerr=point.spread or 0,
        color=point.color,
        marker=marker,
        markersize=size,
        capsize=3,
        linestyle="none",
        zorder=3,
    )


# Label positions tried in turn (offset in points, horizontal alignment).
_LABEL_SPOTS = ((7, 6, "left"), (7, -9, "left"), (-7, 6, "right"), (-7, -9, "right"))


def _label_points(ax: Axes, points: Sequence[_TradeoffPoint], recommended: str | None) -> None:
    """Name each point at the first spot where its label overlaps no other label or point.

    Strategies often cluster (full and discriminative_lr train the same parameters), so
    a fixed offset would print names over each other.
    """
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    taken = [_marker_box(ax, p) for p in points]
    for point in points:
        name = point.summary.strategy
        weight = "bold" if name == recommended else "normal"
        for dx, dy, align in _LABEL_SPOTS:
            label = ax.annotate(
                name,
                (point.x, point.y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=align,
                va="center",
                fontsize=8,
                color=point.color,
                fontweight=weight,
            )
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken):
                break
            if (dx, dy, align) != _LABEL_SPOTS[-1]:
                label.remove()
        taken.append(box)


def _marker_box(ax: Axes, point: _TradeoffPoint) -> Bbox:
    """The display-space box a point's marker and error bar cover."""
    mean, spread = point.y or 0.0, point.spread or 0.0
    x, low = ax.transData.transform((point.x, mean - spread))
    _, high = ax.transData.transform((point.x, mean + spread))
    half = 5 * DPI / 72  # a 7 pt marker's radius plus a little air, in pixels
    return Bbox.from_extents(x - half, min(low, high) - half, x + half, max(low, high) + half)
