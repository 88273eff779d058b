"""The report sections of a causal-LM run: answers side by side, base vs fine-tuned.

Reads what :mod:`tunelab.tasks.causal_lm.evaluation` wrote into ``metrics.json``:
``samples`` (prompt, reference, base and tuned answers), ``baseline`` and ``forgetting``.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from markupsafe import Markup

from tunelab.report.records import RunData
from tunelab.report.sections import ReportSection

COMPARED = (
    ("perplexity", "test perplexity", "{:.2f}"),
    ("chrf", "chrF", "{:.1f}"),
    ("exact_match", "exact match", "{:.3f}"),
    ("stop_rate", "stop rate", "{:.2f}"),
)


def causal_lm_report_sections(run: RunData) -> list[ReportSection]:
    """Base vs fine-tuned scores (with forgetting) and sample generations."""
    path = run.path / "metrics.json"
    raw: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    sections = []
    if raw.get("baseline"):
        sections.append(
            ReportSection(
                title="Base model vs fine-tuned",
                html=_comparison_table(raw),
                lead="The untouched pretrained model, scored in the same run on the same data.",
                layout="stack",
            )
        )
    if raw.get("samples"):
        sections.append(
            ReportSection(
                title="Sample generations",
                html=_samples_table(raw["samples"]),
                lead="Held-out prompts, greedy decoding.",
                layout="stack",
            )
        )
    return sections


def _comparison_table(raw: dict[str, Any]) -> Markup:
    base, tuned = raw["baseline"]["test"], raw["test"]
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td>{_number(base.get(key), form)}</td>"
        f"<td>{_number(tuned.get(key), form)}</td></tr>"
        for key, label, form in COMPARED
    )
    forgetting = raw.get("forgetting")
    if forgetting:
        rows += (
            "<tr><td>perplexity on general reference text</td>"
            f"<td>{forgetting['reference_perplexity_before']:.2f}</td>"
            f"<td>{forgetting['reference_perplexity_after']:.2f}</td></tr>"
        )
    head = "<tr><th>metric</th><th>base</th><th>fine-tuned</th></tr>"
    return Markup(f'<table class="data"><thead>{head}</thead><tbody>{rows}</tbody></table>')


def _samples_table(samples: list[dict[str, Any]]) -> Markup:
    head = "<tr><th>prompt</th><th>reference</th><th>base</th><th>fine-tuned</th></tr>"
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(s.get(k) or '—'))}</td>"
            for k in ("prompt", "reference", "base", "tuned")
        )
        + "</tr>"
        for s in samples
    )
    return Markup(f'<table class="data"><thead>{head}</thead><tbody>{rows}</tbody></table>')


def _number(value: Any, form: str) -> str:
    return "—" if value is None else form.format(value)
