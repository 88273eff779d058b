"""The report sections of a question-answering run: answers highlighted in their
context, and the worst misses (picked when the run ends, :mod:`.samples`)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from markupsafe import Markup

from tunelab.report.records import RunData
from tunelab.report.sections import ReportSection

CONTEXT_CHARS = 240  # characters of context shown either side of a span
COLUMNS = ("question", "context (prediction marked)", "gold", "F1", "score")


def qa_report_sections(run: RunData) -> list[ReportSection]:
    """Answered test questions with the span highlighted, and the worst misses."""
    path = run.path / "metrics.json"
    raw: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    examples = raw.get("qa_examples") or {}
    sections = []
    if examples.get("answered"):
        sections.append(
            ReportSection(
                title="Answers in context",
                html=_table(examples["answered"]),
                lead="Test questions answered exactly; the predicted span is highlighted.",
                layout="stack",
            )
        )
    if examples.get("worst"):
        sections.append(
            ReportSection(
                title="Worst misses",
                html=_table(examples["worst"]),
                lead="Test questions with the lowest F1, the most confident first; the "
                "predicted span is highlighted, the gold answers listed.",
                layout="stack",
            )
        )
    return sections


def highlighted(context: str, start: int, end: int) -> Markup:
    """The context around ``[start, end)`` with the span in ``<mark>``, escaped."""
    if start < 0 or end <= start:
        return Markup(escape(_cut(context, 0, 2 * CONTEXT_CHARS)) + " <em>(no answer)</em>")
    left = max(0, start - CONTEXT_CHARS)
    right = min(len(context), end + CONTEXT_CHARS)
    before = ("…" if left else "") + context[left:start]
    after = context[end:right] + ("…" if right < len(context) else "")
    return Markup(f"{escape(before)}<mark>{escape(context[start:end])}</mark>{escape(after)}")


def _cut(text: str, start: int, end: int) -> str:
    return text[start:end] + ("…" if end < len(text) else "")


def _table(records: list[dict]) -> Markup:
    head = "".join(f"<th>{name}</th>" for name in COLUMNS)
    head = f"<tr>{head}</tr>"
    rows = "".join(
        "<tr>"
        f"<td>{escape(r['question'])}</td>"
        f"<td>{highlighted(r['context'], r['start'], r['end'])}</td>"
        f"<td>{escape(' | '.join(sorted({a['text'] for a in r['answers']})) or '(none)')}</td>"
        f"<td>{100 * r['f1']:.0f}</td><td>{r['score']:.2f}</td>"
        "</tr>"
        for r in records
    )
    return Markup(f'<table class="data"><thead>{head}</thead><tbody>{rows}</tbody></table>')
