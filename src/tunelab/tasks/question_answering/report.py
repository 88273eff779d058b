"""The report sections of a question-answering run: answers highlighted in their
context, and the worst misses.

:func:`report_examples` picks them when the run ends (``metrics.json`` "qa_examples");
:func:`qa_report_sections` renders them.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from markupsafe import Markup

from tunelab.report.records import RunData
from tunelab.report.sections import ReportSection
from tunelab.tasks.question_answering.metrics import score_one

SHOWN = 8
CONTEXT_CHARS = 240  # characters of context shown either side of a span
COLUMNS = ("question", "context (prediction marked)", "gold", "F1", "score")


def report_examples(predictions: list[dict], shown: int = SHOWN) -> dict[str, list[dict]]:
    """Test questions to show: the first ``shown`` answered exactly, and the ``shown``
    worst misses (lowest F1, the most confident first)."""
    scored = []
    for record in predictions:
        golds = [a["text"] for a in record["answers"]]
        exact, f1 = score_one(record["answer"], golds)
        scored.append({**record, "exact": exact, "f1": f1})
    answered = [r for r in scored if r["exact"] and r["answer"]][:shown]
    worst = sorted((r for r in scored if not r["exact"]), key=lambda r: (r["f1"], -r["score"]))
    return {"answered": answered, "worst": worst[:shown]}


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
