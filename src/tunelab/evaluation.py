"""Evaluate a finished run on a new labelled source (``tunelab evaluate``)."""

from __future__ import annotations

from pathlib import Path

from tunelab.inference import load, run_task


def evaluate_run(
    run_dir: str | Path, data: str, columns: dict[str, str | None] | None = None
) -> dict:
    """Metrics of the run's model on ``data``; ``columns`` overrides the run's column
    names (``{"text": ..., "label": ...}`` for text, ``{"path": ..., "label": ...}``
    for images).

    Raises:
        DataError: missing columns, unreadable inputs, or labels the model never saw.
    """
    run_dir = Path(run_dir)
    return run_task(run_dir).evaluate_source(load(run_dir), run_dir, data, columns or {})
