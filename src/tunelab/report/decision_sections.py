"""Report sections drawn from a run's recorded decisions (metrics.json "decisions").

Settings a run resolved at run time (``auto``) are recorded with what they were read
from; the report shows that evidence, from the record alone: the learning-rate range
test's loss curve (``train.lr: auto``) and the strategy choice's reasons
(``strategy.name: auto``); and, for runs of ``compare --train-sizes``, the
strategy's learning curve.
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
    chosen = decisions.get("strategy.name") or {}
    if chosen.get("setting") == "auto":
        html = Markup("<p><b>{}</b>: {}</p>").format(chosen["value"], chosen["reason"])
        sections.append(ReportSection(title="Strategy chosen", html=html, lead="auto."))
    lr = decisions.get("train.lr") or {}
    if lr.get("curve"):
        sections.append(lr_range_section(lr))
    curve = _learning_curve(run)
    if curve:
        sections.append(curve)
    return sections


def _learning_curve(run: RunData) -> ReportSection | None:
    """This strategy's learning curve, when the run belongs to ``compare --train-sizes``
    (``<compare>/runs/<strategy>-seed0``, the curve in ``<compare>/learning_curve.json``)."""
    from tunelab.learning_curve import CURVE_FILE

    try:
        curve = json.loads((run.path.parent.parent / CURVE_FILE).read_text())
    except (OSError, ValueError):
        return None
    points = curve["curves"].get(run.strategy)
    if not points:
        return None
    return learning_curve_section(run.strategy, points, curve)


def learning_curve_section(strategy: str, points: list[dict], curve: dict) -> ReportSection:
    """Test and validation score against examples per class ("all" at the right)."""
    sized = sorted((p for p in points if p["per_class"]), key=lambda p: p["per_class"])
    full = next((p for p in points if p["per_class"] is None), None)
    xs = [p["per_class"] for p in sized]
    with styled_figure(5.6, 3.0) as fig:
        ax = fig.add_subplot()
        for key, color in (("test", "#2563eb"), ("validation", "#94a3b8")):
            ax.plot(xs, [p[key] for p in sized], "o-", color=color, label=key)
            if full is not None and full.get(key) is not None:
                ax.axhline(full[key], color=color, ls=":", lw=1, label=f"{key}, all the data")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training examples per class")
        ax.set_ylabel(curve["label"])
        ax.legend(fontsize=8)
        figure = to_data_uri(fig)
    return ReportSection(
        title="Learning curve",
        html=Markup("<p>{}</p>").format(curve["sentences"].get(strategy, "")),
        figure=figure,
        alt=f"learning curve of {strategy}",
        caption="Seeded subsets of the same training split; validation and test unchanged.",
        lead="compare --train-sizes.",
        layout="stack",
    )


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
