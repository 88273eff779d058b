"""The report's figures, each rendered to a PNG ``data:`` URI so the HTML stands alone.

Figures are built with :class:`matplotlib.figure.Figure` on the Agg canvas rather than
``pyplot``: no global figure registry, so nothing leaks across reports and the code runs
on a headless server with no display configured. Every function takes plain loader
dataclasses and returns a string ready for ``<img src=...>``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.transforms import Bbox

from tunelab.report import formatting as fmt
from tunelab.report.loader import (
    DataSummary,
    EvalRecord,
    LayerGroup,
    LayerPlan,
    StrategySummary,
)

STATE_COLORS = {"frozen": "#b8bec8", "trained": "#2563eb", "lora": "#f08c00"}
SPLIT_COLORS = {"train": "#2563eb", "validation": "#f08c00", "test": "#0f9d58"}
STRATEGY_PALETTE = (
    "#2563eb",
    "#f08c00",
    "#0f9d58",
    "#c2255c",
    "#7048e8",
    "#0c8599",
    "#e8590c",
    "#5c940d",
)
SCRATCH_COLOR = "#6b7280"
DPI = 150

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelcolor": "#374151",
    "axes.edgecolor": "#9ca3af",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.8,
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "legend.frameon": False,
    "font.family": "DejaVu Sans",
}


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    """A styled, constrained-layout figure; the style never leaks into user plots."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig


def css_width(uri: str) -> int:
    """Width in CSS pixels at which a figure's fonts show at their point size.

    Read from the PNG header inside the data URI, so the template can show every figure
    at its natural size (capped by the page width) without the figure functions having
    to return anything but the URI.
    """
    header = base64.b64decode(uri.partition(",")[2][:32])
    pixels = int.from_bytes(header[16:20], "big")
    return round(pixels * 96 / DPI)


def to_data_uri(fig: Figure) -> str:
    """Encode ``fig`` as a PNG ``data:`` URI and release its memory."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def strategy_colors(names: Sequence[str]) -> dict[str, str]:
    """A fixed colour per strategy so every comparison plot uses the same key."""
    colors: dict[str, str] = {}
    palette = iter(STRATEGY_PALETTE * (1 + len(names) // len(STRATEGY_PALETTE)))
    for name in names:
        colors[name] = SCRATCH_COLOR if name == "scratch" else next(palette)
    return colors


def layer_diagram(plan: LayerPlan, title: str | None = None, width: float = 8.0) -> str:
    """Horizontal bars per layer group, bottom = embeddings, coloured by what trains.

    Bar length is the group's parameter count on a log axis: the embeddings hold
    thousands of times more parameters than the head, and a linear axis would hide the
    head, which every strategy trains. The learning rate and unfreezing epoch of each
    group sit in a column on the right, aligned like a table. The colour key
    (:data:`STATE_COLORS`) is drawn once by the page, not in every diagram.
    """
    groups = plan.groups
    with _figure(width, 0.3 * len(groups) + 1.0) as fig:
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
    epoch = group.unfreeze_epoch
    if epoch == 0:
        parts.append("trains from start")
    elif epoch is not None:
        verb = "unfreezes" if group.state == "frozen" else "unfrozen"
        parts.append(f"{verb} at epoch {epoch + 1}")
    return " · ".join(parts) or group.state


def _plan_title(plan: LayerPlan, name: str) -> str:
    trainable = fmt.params(plan.trainable_params)
    total = fmt.params(plan.total_params)
    share = fmt.percent(plan.trainable_params, plan.total_params)
    return f"{name}: {trainable} of {total} trainable ({share})"


def _x_axis(history: Sequence[EvalRecord]) -> tuple[list[float], str]:
    """Epochs when there is one evaluation per epoch, else steps (``eval_every_steps``)."""
    epochs = [r.epoch for r in history]
    steps = [r.step for r in history]
    if len(set(epochs)) == len(epochs) or any(s is None for s in steps):
        return epochs, "epoch"
    return [float(s) for s in steps], "step"  # type: ignore[arg-type]


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


def _plot_series(ax: Axes, xs: Sequence[float], ys: Sequence[float | None], **style: Any) -> None:
    """Plot only the points that exist (older histories lack some keys)."""
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if points:
        px, py = zip(*points, strict=True)
        ax.plot(px, py, marker="o", markersize=3.5, **style)


def learning_curves(history: Sequence[EvalRecord]) -> str:
    """Train/val loss and val accuracy/F1 of one run, with phase boundaries marked."""
    xs, xlabel = _x_axis(history)
    with _figure(10.0, 3.4) as fig:
        loss_ax, metric_ax = fig.subplots(1, 2)
        _plot_series(loss_ax, xs, [r.train_loss for r in history], label="train loss")
        _plot_series(loss_ax, xs, [r.val_loss for r in history], label="val loss")
        _plot_series(metric_ax, xs, [r.val_f1_macro for r in history], label="val macro-F1")
        _plot_series(metric_ax, xs, [r.val_accuracy for r in history], label="val accuracy")
        _mark_best(metric_ax, xs, [r.val_f1_macro for r in history])
        for ax, title in ((loss_ax, "Loss"), (metric_ax, "Validation metrics")):
            _phase_lines(ax, history, xs)
            ax.set_title(title, loc="left")
            ax.set_xlabel(xlabel)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if ax.lines:
                ax.legend(loc="best")
        return to_data_uri(fig)


def _mark_best(ax: Axes, xs: Sequence[float], ys: Sequence[float | None]) -> None:
    """Star the best validation point: the checkpoint that ``best/`` holds."""
    scored = [(y, x) for x, y in zip(xs, ys, strict=True) if y is not None]
    if scored:
        best_y, best_x = max(scored)
        ax.plot([best_x], [best_y], marker="*", markersize=12, color="#f59f00", zorder=5)


def compare_curves(histories: dict[str, list[list[EvalRecord]]]) -> str:
    """Val macro-F1 and val loss per strategy overlaid; one faint line per extra seed."""
    colors = strategy_colors(list(histories))
    with _figure(10.0, 3.6) as fig:
        f1_ax, loss_ax = fig.subplots(1, 2)
        xlabel = "epoch"
        for name, runs in histories.items():
            for seed, history in enumerate(runs):
                xs, xlabel = _x_axis(history)
                style = {"color": colors[name], "alpha": 1.0 if seed == 0 else 0.35}
                label = name if seed == 0 else None
                _plot_series(f1_ax, xs, [r.val_f1_macro for r in history], label=label, **style)
                _plot_series(loss_ax, xs, [r.val_loss for r in history], label=label, **style)
        for ax, title in ((f1_ax, "Validation macro-F1"), (loss_ax, "Validation loss")):
            ax.set_title(title, loc="left")
            ax.set_xlabel(xlabel)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if f1_ax.lines:
            handles, names = f1_ax.get_legend_handles_labels()
            fig.legend(handles, names, loc="outside right upper")
        return to_data_uri(fig)


def confusion_matrix(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """Counts annotated in each cell, coloured by the share of the true class (row).

    Colouring by row share rather than raw count keeps errors on small classes visible
    next to a large class's diagonal.
    """
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = max(3.6, 0.34 * len(labels) + 1.9)
    with _figure(side + 0.9, side) as fig:
        ax = fig.add_subplot()
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        _annotate_cells(ax, counts, shares)
        ticks = range(len(labels))
        ax.set_xticks(ticks, labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(ticks, labels)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true label")
        ax.grid(visible=False)
        fig.colorbar(image, ax=ax, shrink=0.7, label="share of true class")
        return to_data_uri(fig)


def _annotate_cells(ax: Axes, counts: np.ndarray, shares: np.ndarray) -> None:
    size = 8 if len(counts) <= 12 else 7
    for (i, j), value in np.ndenumerate(counts):
        if value:
            color = "white" if shares[i, j] > 0.55 else "#1f2937"
            ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=size, color=color)


def class_balance(data: DataSummary) -> str:
    """Share of each class per split, grouped by class: imbalance and split shift at once."""
    labels = data.labels or sorted({c for s in data.splits for c in s.class_counts})
    width = 0.8 / max(len(data.splits), 1)
    with _figure(max(6.0, 0.45 * len(labels) + 2.0), 3.4) as fig:
        ax = fig.add_subplot()
        for k, split in enumerate(data.splits):
            total = max(sum(split.class_counts.values()), 1)
            shares = [100.0 * split.class_counts.get(label, 0) / total for label in labels]
            positions = [i + (k - (len(data.splits) - 1) / 2) * width for i in range(len(labels))]
            color = SPLIT_COLORS.get(split.name, STRATEGY_PALETTE[k % len(STRATEGY_PALETTE)])
            ax.bar(positions, shares, width, color=color, label=f"{split.name} (n={split.n:,})")
        ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_ylabel("% of split")
        ax.grid(axis="x", visible=False)
        # Above the plot: balanced classes leave no free corner inside the axes.
        fig.legend(loc="outside upper right", ncols=len(data.splits))
        ax.set_title("Class balance per split", loc="left")
        return to_data_uri(fig)


def length_histogram(data: DataSummary) -> str:
    """Text length (characters) per split, as a share of the split so sizes compare."""
    with _figure(5.4, 3.2) as fig:
        ax = fig.add_subplot()
        for k, split in enumerate(data.splits):
            if not split.length_hist:
                continue
            edges = [split.length_hist[0][0]] + [row[1] for row in split.length_hist]
            total = max(sum(row[2] for row in split.length_hist), 1)
            shares = [100.0 * row[2] / total for row in split.length_hist]
            color = SPLIT_COLORS.get(split.name, STRATEGY_PALETTE[k % len(STRATEGY_PALETTE)])
            ax.stairs(shares, edges, color=color, linewidth=1.8, label=split.name)
        ax.set_xlabel("text length (characters)")
        ax.set_ylabel("% of split")
        ax.set_title("Text length distribution", loc="left")
        if ax.patches:
            ax.legend(loc="upper right")
        return to_data_uri(fig)


def tradeoff(strategies: Sequence[StrategySummary], recommended: str | None = None) -> str:
    """Test macro-F1 against train time and against trainable params (log), per strategy."""
    colors = strategy_colors([s.strategy for s in strategies])
    with _figure(10.5, 3.8) as fig:
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
