"""Figures that set strategies side by side: validation curves and the F1/cost tradeoff."""

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
from tunelab.report.records import EvalRecord, StrategySummary


def compare_curves(histories: dict[str, list[list[EvalRecord]]]) -> str:
    """Val macro-F1 and val loss per strategy overlaid; one faint line per extra seed."""
    colors = strategy_colors(list(histories))
    with styled_figure(10.0, 3.6) as fig:
        f1_ax, loss_ax = fig.subplots(1, 2)
        xlabel = "epoch"
        for name, runs in histories.items():
            for seed, history in enumerate(runs):
                xs, xlabel = x_axis(history)
                style = {"color": colors[name], "alpha": 1.0 if seed == 0 else 0.35}
                label = name if seed == 0 else None
                plot_series(f1_ax, xs, [r.val_f1_macro for r in history], label=label, **style)
                plot_series(loss_ax, xs, [r.val_loss for r in history], label=label, **style)
        for ax, title in ((f1_ax, "Validation macro-F1"), (loss_ax, "Validation loss")):
            ax.set_title(title, loc="left")
            ax.set_xlabel(xlabel)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if f1_ax.lines:
            handles, names = f1_ax.get_legend_handles_labels()
            fig.legend(handles, names, loc="outside right upper")
        return to_data_uri(fig)


def tradeoff(strategies: Sequence[StrategySummary], recommended: str | None = None) -> str:
    """Test macro-F1 against train time and against trainable params (log), per strategy."""
    colors = strategy_colors([s.strategy for s in strategies])
    with styled_figure(10.5, 3.8) as fig:
        time_ax, params_ax = fig.subplots(1, 2)
        params_ax.set_xscale("log")
        panels = {time_ax: "train_seconds_mean", params_ax: "trainable_params"}
        placed = {}
        for ax, cost in panels.items():
            points = [_TradeoffPoint(s, getattr(s, cost), colors[s.strategy]) for s in strategies]
            placed[ax] = [p for p in points if p.x and p.summary.f1_macro_mean is not None]
            for point in placed[ax]:
                _draw_point(ax, point, point.summary.strategy == recommended)
            ax.set_ylabel("test macro-F1")
            ax.margins(x=0.15, y=0.18)
        fig.draw_without_rendering()  # final limits and layout, so label boxes are real
        for ax, points in placed.items():
            _label_points(ax, points, recommended)
        time_ax.set_xlabel("train time (s, mean over seeds)")
        params_ax.set_xlabel("trainable parameters (log scale)")
        time_ax.set_title("F1 vs train time", loc="left")
        params_ax.set_title("F1 vs trainable params", loc="left")
        return to_data_uri(fig)


@dataclass(frozen=True)
class _TradeoffPoint:
    summary: StrategySummary
    x: float | None
    color: str


def _draw_point(ax: Axes, point: _TradeoffPoint, star: bool) -> None:
    """One point with its seed spread as an error bar; the recommendation starred."""
    marker, size = ("*", 15) if star else ("o", 7)
    ax.errorbar(
        point.x,
        point.summary.f1_macro_mean,
        yerr=point.summary.f1_macro_std or 0,
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
                (point.x, point.summary.f1_macro_mean),
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
    mean, spread = point.summary.f1_macro_mean or 0.0, point.summary.f1_macro_std or 0.0
    x, low = ax.transData.transform((point.x, mean - spread))
    _, high = ax.transData.transform((point.x, mean + spread))
    half = 5 * DPI / 72  # a 7 pt marker's radius plus a little air, in pixels
    return Bbox.from_extents(x - half, min(low, high) - half, x + half, max(low, high) + half)
