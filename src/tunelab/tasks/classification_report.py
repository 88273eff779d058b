"""The report section every classification task adds: confusion matrix and per-class scores.

The report shell knows no task; text and image classification return this section from
:meth:`tunelab.tasks.base.Task.report_sections`. It reads the classifier-only entries of
``metrics.json``'s ``test`` block (``labels``, ``per_class``, ``confusion_matrix``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np
from markupsafe import Markup
from matplotlib.axes import Axes

from tunelab.report import formatting as fmt
from tunelab.report.plotting import styled_figure, to_data_uri
from tunelab.report.records import RunData
from tunelab.report.sections import ReportSection

SECTION_TITLE = "Confusion matrix and per-class scores"
WEAK_F1 = 0.5  # per-class rows below this F1 are tinted
SIDE_BY_SIDE_CLASSES = 10  # up to this many classes the matrix fits beside the table


def classification_report_sections(run: RunData) -> list[ReportSection]:
    """The confusion matrix and per-class table of ``run``'s test split (none when the
    run recorded neither)."""
    details = run.metrics.test_details
    labels, matrix = details.get("labels") or [], details.get("confusion_matrix")
    per_class = details.get("per_class") or {}
    if not (labels and matrix) and not per_class:
        return []
    figure = confusion_matrix_figure(labels, matrix) if labels and matrix else None
    table = per_class_table(per_class, run.metrics.test) if per_class else Markup("")
    return [
        ReportSection(
            title=SECTION_TITLE,
            html=table,
            figure=figure,
            alt=f"confusion matrix of {run.strategy}",
            caption="Rows are true labels, columns predictions; colour is the share of the "
            "true class.",
            lead="Test split.",
            layout="split" if len(labels) <= SIDE_BY_SIDE_CLASSES else "stack",
        )
    ]


def per_class_table(per_class: dict[str, dict[str, Any]], test: dict[str, float]) -> Markup:
    """Precision / recall / F1 / support per class with a macro-average footer; rows with
    a weak F1 tinted so the classes the model misses stand out."""
    rows = "".join(_class_row(label, scores) for label, scores in per_class.items())
    footer = ""
    if test.get("f1_macro") is not None:
        support = sum(int(s.get("support", 0)) for s in per_class.values())
        cells = [test.get(k) for k in ("precision_macro", "recall_macro", "f1_macro")]
        footer = (
            '<tfoot><tr><td class="label">macro avg</td>'
            + "".join(f"<td>{fmt.score(v)}</td>" for v in cells)
            + f"<td>{fmt.count(support)}</td></tr></tfoot>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("class", "precision", "recall", "F1", "support"))
    hint = f'<p class="hint">Rows with F1 below {WEAK_F1} are tinted.</p>'
    return Markup(
        f'<table class="num"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
        f"{footer}</table>{hint}"
    )


def _class_row(label: str, scores: dict[str, Any]) -> str:
    f1 = float(scores.get("f1", 0.0))
    weak = ' class="weak"' if f1 < WEAK_F1 else ""
    return (
        f'<tr{weak}><td class="label">{escape(str(label))}</td>'
        f"<td>{fmt.score(scores.get('precision'))}</td>"
        f"<td>{fmt.score(scores.get('recall'))}</td>"
        f'<td class="bar" style="--pct: {round(f1 * 100, 1)}%">{fmt.score(f1)}</td>'
        f"<td>{fmt.count(scores.get('support'))}</td></tr>"
    )


def confusion_matrix_figure(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """Counts annotated in each cell, coloured by the share of the true class (row).

    Colouring by row share rather than raw count keeps errors on small classes visible
    next to a large class's diagonal.
    """
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = max(3.6, 0.34 * len(labels) + 1.9)
    with styled_figure(side + 0.9, side) as fig:
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
