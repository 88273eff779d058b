"""The run directory's file names and the model card: one place for writers and readers.

A run directory holds ``config.yaml``, ``status.json``, ``history.jsonl``,
``data_summary.json``, ``layers.json``, ``metrics.json``, ``checkpoints/`` and
``model/``; ``model/tunelab_model.json`` (the model card) names the task and what its
loader needs. See docs/run_dir.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunelab.config import DEFAULT_TASK
from tunelab.errors import RunDirError

MODEL_DIR = "model"
MODEL_CARD = "tunelab_model.json"


def model_dir_of(path: Path) -> Path:
    """The ``model/`` directory of a run directory (or ``path`` itself when it is one)."""
    for candidate in (path / MODEL_DIR, path):
        if (candidate / MODEL_CARD).is_file():
            return candidate
    raise RunDirError(
        f"{path}: no trained model found (expected {path}/{MODEL_DIR}/{MODEL_CARD}); "
        "is this a finished tunelab run directory?"
    )


def read_model_card(model_dir: Path) -> dict[str, Any]:
    """The model card saved beside the weights (task, labels, loading options)."""
    card = model_dir / MODEL_CARD
    if not card.is_file():
        raise RunDirError(f"{model_dir}: no {MODEL_CARD}; is this a tunelab run's model/ dir?")
    try:
        data = json.loads(card.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{card}: not valid JSON; the run's model directory is damaged") from None
    data.setdefault("task", DEFAULT_TASK)  # cards written before tasks were named
    return data


def write_model_card(model_dir: Path, card: dict[str, Any]) -> None:
    """Write the model card into a (temporary) model directory."""
    (model_dir / MODEL_CARD).write_text(json.dumps(card, indent=2))
