"""Report sections drawn from a run's recorded decisions (metrics.json "decisions").

Settings a run resolved at run time (``auto``) are recorded with what they were read
from; the report shows that evidence, from the record alone: the learning-rate range
test's loss curve (``train.lr: auto``) and the strategy choice's reasons
(``strategy.name: auto``).
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from tunelab.report.plotting import styled_figure, to_data_uri
from tunelab.report.records import RunData
from tunelab.report.sections import ReportSection

LR_TITLE = "Learning-rate range test"


def decision_sections(run: RunData) -> list[ReportSection]:
    """The sections for the decisions ``run`` recorded (none for a run without any)."""
    decisions = _decisions(run)
    sections = []
    lr = decisions.get("train.lr") or {}
    if lr.get("curve"):
        sections.append(lr_range_section(lr))
    return sections


def _decisions(run: RunData) -> dict[str, Any]:
    try:
        return json.loads((run.path / "metrics.json").read_text()).get("decisions") or {}
    except (OSError, ValueError):
        return {}


def lr_range_section(decision: dict[str, Any]) -> ReportSection:
    """The range test's raw and smoothed loss against the rate, the pick marked."""
    curve = decision["curve"]
    with styled_figure(5.6, 3.0) as fig:
        ax = fig.add_subplot()
        ax.plot(curve["lr"], curve["loss"], color="#cbd5e1", lw=1, label="loss per step")
        if curve.get("smoothed"):
            ax.plot(curve["lr"], curve["smoothed"], color="#2563eb", lw=2, label="smoothed")
        ax.axvline(decision["value"], color="#16a34a", ls="--", lw=1.5,
                   label=f"train.lr {decision['value']:.2g}")  # fmt: skip
        low = decision.get("min_index")
        if low is not None and curve.get("smoothed"):
            ax.plot(curve["lr"][low], curve["smoothed"][low], "o", color="#dc2626",
                    label="smoothed minimum")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("backbone learning rate (train.lr)")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=8)
        figure = to_data_uri(fig)
    html = Markup("<p>{}</p>").format(decision["reason"])  # format() escapes it
    return ReportSection(
        title=LR_TITLE,
        html=html,
        figure=figure,
        alt="learning-rate range test: training loss against the learning rate",
        caption="One training step per rate, rates growing exponentially; the pick is the "
        "steepest descent of the smoothed loss before its minimum. The model is restored "
        "after the test.",
        lead="train.lr: auto.",
        layout="stack",
    )
