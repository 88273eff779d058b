"""Load a run's model for prediction: the path behind ``tunelab predict`` and ``load()``.

The model card (``tunelab_model.json``) names the task; the task rebuilds its predictor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunelab.run_dir import model_dir_of, read_model_card


def load(run_dir: str | Path, device: str = "cpu") -> Any:
    """Load the model saved by a run (``RUN_DIR`` or ``RUN_DIR/model``).

    Returns the predictor of the run's task (its ``predict`` takes raw inputs).
    """
    model_dir = model_dir_of(Path(run_dir))
    return run_task(run_dir).load_predictor(model_dir, read_model_card(model_dir), device)


def run_task(run_dir: str | Path) -> Any:
    """The :class:`~tunelab.tasks.Task` whose model a finished run saved (its model card
    names it), for commands that read inputs before loading the model."""
    from tunelab.tasks import get_task

    return get_task(read_model_card(model_dir_of(Path(run_dir)))["task"])
