"""Figures of one run: its layer diagram and learning curves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, NullLocator

from tunelab.report import formatting as fmt
from tunelab.report.plotting import (
    STATE_COLORS,
    plot_series,
    styled_figure,
    to_data_uri,
    x_axis,
)
from tunelab.report.records import EvalRecord, LayerGroup, LayerPlan, RecordedObjective


def layer_diagram(plan: LayerPlan, title: str | None = None, width: float = 8.0) -> str:
    """Horizontal bars per layer group, bottom = embeddings, coloured by what trains.

    Bar length is the group's parameter count on a log axis: the embeddings hold
    thousands of times more parameters than the head, and a linear axis would hide the
    head, which every strategy trains. The learning rate and unfreezing epoch of each
    group sit in a column on the right, aligned like a table. The colour key
    (:data:`STATE_COLORS`) is drawn once by the page, not in every diagram.
    """
    groups = plan.groups
    with styled_figure(width, 0.3 * len(groups) + 1.0) as fig:
        ax = fig.add_subplot()
        sizes = [max(g.params, 1) for g in groups]
        left = min(sizes) / 4
        colors = [STATE_COLORS.get(g.state, "#d1d5db") for g in groups]
        ax.barh(range(len(groups)), [s - left for s in sizes], left=left, color=colors, height=0.7)
        for y, group in enumerate(groups):
            _note(ax, fmt.params(group.params), (group.params, y), offset=3)
            _note(ax, _layer_detail(group), (1.02, y), xycoords=("axes fraction", "data"))
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())  # decades are enough to compare sizes
        ax.set_xlim(left, max(sizes) * 8)
        ax.set_yticks(range(len(groups)), [g.name for g in groups])
        ax.set_ylim(-0.6, len(groups) - 0.4)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("parameters (log scale)")
        ax.set_title(_plan_title(plan, title or plan.strategy), loc="left")
        return to_data_uri(fig)


def _note(ax: Axes, text: str, xy: tuple[float, float], offset: float = 0, **kwargs: Any) -> None:
    ax.annotate(
        text,
        xy,
        xytext=(offset, 0),
        textcoords="offset points",
        va="center",
        fontsize=8,
        color="#374151",
        **kwargs,
    )


def _layer_detail(group: LayerGroup) -> str:
    """``lr 2e-5 (×0.41) · unfrozen at epoch 3``: what the optimizer does to a group.

    ``unfreeze_epoch`` is 0-based in ``layers.json``; it is shown 1-based to match the
    epoch axis of the learning curves.
    """
    parts = []
    if group.state != "frozen" and group.lr is not None:
        scale = f" (×{group.lr_scale:.2g})" if group.lr_scale is not None else ""
        parts.append(f"lr {fmt.learning_rate(group.lr, digits=2)}{scale}")
    elif group.state != "frozen" and group.lr_scale is not None:
        parts.append(f"lr ×{group.lr_scale:.2g}")
    parts.extend(_unfreezing_note(group))
    if group.trained_in:
        parts.append(f"trained in the {group.trained_in} phase, then frozen")
    return " · ".join(parts) or group.state


def _unfreezing_note(group: LayerGroup) -> list[str]:
    """When a gradually unfrozen group trained: as recorded by the run, else the plan."""
    epoch, when = group.unfreeze_epoch, group.unfrozen_at
    if epoch == 0:
        return ["trains from start"]
    if when is not None:
        return [f"trained from epoch {when['epoch'] + 1} (after step {when['step']})"]
    if epoch is None:
        return []
    if group.unfreezing_recorded:  # planned, but the run ended (or stopped) first
        return [f"never unfrozen (planned for epoch {epoch + 1})"]
    verb = "unfreezes" if group.state == "frozen" else "unfrozen"
    return [f"{verb} at epoch {epoch + 1}"]


def layer_caption(plan: LayerPlan) -> str | None:
    """The diagram's caption for gradual unfreezing: whether it shows what happened."""
    if not any(g.unfreeze_epoch for g in plan.groups):
        return None
    if any(g.unfreezing_recorded for g in plan.groups):
        return (
            "Gradual unfreezing, drawn as the run ended: a group coloured trained says the "
            "epoch (and optimizer step) it actually unfroze at; a frozen one never trained."
        )
    return (
        "Gradual unfreezing, drawn from the plan (this run did not record when groups "
        "unfroze): a group coloured frozen may have trained from the epoch it names."
    )


def _plan_title(plan: LayerPlan, name: str) -> str:
    trainable = fmt.params(plan.trainable_params)
    total = fmt.params(plan.total_params)
    share = fmt.percent(plan.trainable_params, plan.total_params)
    return f"{name}: {trainable} of {total} trainable ({share})"


def _phase_lines(ax: Axes, history: Sequence[EvalRecord], xs: Sequence[float]) -> None:
    """Dashed lines between the evaluations where gradual unfreezing changed phase."""
    for i in range(1, len(history)):
        if history[i].phase != history[i - 1].phase:
            x = (xs[i] + xs[i - 1]) / 2
            ax.axvline(x, color="#7048e8", linestyle="--", linewidth=1)
            ax.annotate(
                f"{history[i].phase} unfrozen",
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -2),
                textcoords="offset points",
                va="top",
                fontsize=7,
                color="#7048e8",
            )


def learning_curves(history: Sequence[EvalRecord], objective: RecordedObjective) -> str:
    """Train/val loss, then one panel per headline validation metric of ``objective``.

    Phase boundaries are marked on every panel, and a star marks the best evaluation of
    the monitored metric in its direction (the checkpoint ``best/`` holds).
    """
    xs, xlabel = x_axis(history)
    shown = [m for m in objective.table if m.name != "loss"]
    with styled_figure(3.7 * (1 + len(shown)) + 0.6, 3.4) as fig:
        loss_ax, *metric_axes = fig.subplots(1, 1 + len(shown), squeeze=False)[0]
        plot_series(loss_ax, xs, [r.train.get("loss") for r in history], label="train loss")
        panels = [(loss_ax, objective.spec("loss"))]
        panels += list(zip(metric_axes, shown, strict=True))
        for ax, metric in panels:
            values = [r.val.get(metric.name) for r in history]
            plot_series(ax, xs, values, label=f"val {metric.label}")
            if metric.name == objective.monitor:
                _mark_best(ax, xs, values, metric.mode)
            _phase_lines(ax, history, xs)
            title = "Loss" if ax is loss_ax else f"Validation {metric.label}"
            ax.set_title(f"{title} ({metric.direction})", loc="left")
            ax.set_xlabel(xlabel)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if ax.lines:
                ax.legend(loc="best")
        return to_data_uri(fig)


def best_point(
    xs: Sequence[float], ys: Sequence[float | None], mode: str
) -> tuple[float, float] | None:
    """``(x, y)`` of the best recorded ``y`` (largest, or smallest when ``mode`` is ``min``);
    the earliest one on a tie, as early stopping keeps the first best checkpoint."""
    scored = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if not scored:
        return None
    sign = -1.0 if mode == "min" else 1.0
    return max(scored, key=lambda point: (sign * point[1], -point[0]))


def _mark_best(ax: Axes, xs: Sequence[float], ys: Sequence[float | None], mode: str) -> None:
    """Star the best validation point: the checkpoint that ``best/`` holds."""
    best = best_point(xs, ys, mode)
    if best is not None:
        ax.plot([best[0]], [best[1]], marker="*", markersize=12, color="#f59f00", zorder=5)
