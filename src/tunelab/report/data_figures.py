"""Figures of the data a run trained on: class balance and text length per split."""

from __future__ import annotations

from tunelab.report.plotting import SPLIT_COLORS, STRATEGY_PALETTE, styled_figure, to_data_uri
from tunelab.report.records import DataSummary


def class_balance(data: DataSummary) -> str:
    """Share of each class per split, grouped by class: imbalance and split shift at once."""
    labels = data.labels or sorted({c for s in data.splits for c in s.class_counts})
    width = 0.8 / max(len(data.splits), 1)
    with styled_figure(max(6.0, 0.45 * len(labels) + 2.0), 3.4) as fig:
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
    with styled_figure(5.4, 3.2) as fig:
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
