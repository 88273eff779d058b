"""The report's self-training section: one row per round (metrics.json "self_training")."""

from __future__ import annotations

import json

from markupsafe import Markup, escape

from tunelab.report.records import RunData
from tunelab.report.sections import ReportSection

TITLE = "Self-training"


def self_training_sections(run: RunData) -> list[ReportSection]:
    """The rounds table, for a run that self-trained (none otherwise)."""
    try:
        record = json.loads((run.path / "metrics.json").read_text()).get("self_training")
    except (OSError, ValueError):
        return []
    if not record:
        return []
    return [ReportSection(title=TITLE, html=rounds_table(record), lead=_lead(record))]


def _lead(record: dict) -> str:
    check = "the file's labels check them" if record["labels_in_source"] else "no labels"
    return (
        f"{record['pool']} unlabelled inputs ({check}); the run trained on round "
        f"{record['best_round']}'s examples, the best on validation."
    )


def rounds_table(record: dict) -> Markup:
    """Round, training examples, pseudo-labels added (per class, agreement), val score."""
    metric = record["monitor"]
    head = Markup("").join(
        Markup("<th>{}</th>").format(name)
        for name in (
            "round",
            "labelled + pseudo",
            "added",
            "per class",
            "agreement",
            f"val {metric}",
        )  # fmt: skip
    )
    best = record["best_round"]
    body = Markup("").join(_row(r, metric, r["round"] == best) for r in record["rounds"])
    return Markup("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(head, body)


def _row(row: dict, metric: str, best: bool) -> Markup:
    classes = ", ".join(f"{k} {v}" for k, v in row.get("accepted_per_class", {}).items())
    agreed = row.get("agreement")
    cells = (
        f"{row['round']}{' (kept)' if best else ''}",
        f"{row['labelled']} + {row['pseudo_labels']}",
        str(row["accepted"]),
        classes or "-",
        "-" if agreed is None else f"{agreed:.4f} of {row['checked']}",
        f"{row[f'val_{metric}']:.4f}",
    )
    return Markup("<tr>{}</tr>").format(
        Markup("").join(Markup("<td>{}</td>").format(escape(c)) for c in cells)
    )
