"""Report sections a task adds after the generic ones (a classifier's confusion matrix).

The report shell knows no task: it asks the run's task, through
:meth:`tunelab.tasks.base.Task.report_sections`, for extra sections and renders them
as they come. The core defines the section type; only tasks fill it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup

from tunelab.report.records import RunData


@dataclass(frozen=True)
class ReportSection:
    """One task-specific section of a run's report.

    Attributes:
        title: the section heading (sections of the same title from several runs of a
            comparison are shown as one section, a collapsible block per strategy).
        html: a trusted HTML fragment, already escaped by the task that built it.
        figure: a PNG ``data:`` URI (:func:`tunelab.report.plotting.to_data_uri`).
        alt: the figure's alternative text.
        caption: a line under the figure.
        lead: a line under the heading (``Test split.``).
        layout: ``split``: figure and fragment side by side; ``stack``: one above the
            other (wide figures).
    """

    title: str
    html: Markup = Markup("")
    figure: str | None = None
    alt: str = ""
    caption: str = ""
    lead: str = ""
    layout: Literal["split", "stack"] = "split"


def task_sections(run: RunData) -> list[ReportSection]:
    """The extra sections the task of ``run`` contributes; none when the task is unknown
    here (a run of a task this tunelab version does not have still renders)."""
    from tunelab.errors import ConfigError
    from tunelab.tasks import get_task  # loads torch: only reports of runs need it

    try:
        task = get_task(run.metrics.task)
    except ConfigError:
        return []
    return task.report_sections(run)
