"""Evaluate a finished run on a new labelled source (``tunelab evaluate``)."""

from __future__ import annotations

from pathlib import Path

from tunelab.inference import load
from tunelab.run_dir import model_dir_of, read_model_card


def evaluate_run(
    run_dir: str | Path, data: str, columns: dict[str, str | None] | None = None
) -> dict:
    """Metrics of the run's model on ``data``; ``columns`` overrides the run's column
    names (``{"text": ..., "label": ...}`` for text, ``{"path": ..., "label": ...}``
    for images).

    Raises:
        DataError: missing columns, unreadable inputs, or labels the model never saw.
    """
    from tunelab.tasks import get_task

    run_dir = Path(run_dir)
    task = get_task(read_model_card(model_dir_of(run_dir))["task"])
    return task.evaluate_source(load(run_dir), run_dir, data, columns or {})
