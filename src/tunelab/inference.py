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
    from tunelab.tasks import get_task

    model_dir = model_dir_of(Path(run_dir))
    card = read_model_card(model_dir)
    return get_task(card["task"]).load_predictor(model_dir, card, device)
