"""Continual updates: start from a finished run's model and measure what it forgot.

``tunelab run --init-from RUN_DIR`` fine-tunes the earlier run's model (backbone and
head) on new data. The old run's test set is evaluated before (its ``metrics.json``) and
after the update: the drop is catastrophic forgetting, measured rather than guessed.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tunelab.config import load_config
from tunelab.diagnostics import forgetting_flag
from tunelab.errors import ConfigError


def init_from_run(model: torch.nn.Module, labels: list[str], run_dir: str | Path) -> None:
    """Copy an earlier run's backbone and head into ``model`` (before any strategy).

    New labels may extend the old ones: the head rows of known labels are copied and the
    new rows keep their fresh initialisation. A LoRA run's adapter is merged first.
    """
    from tunelab.inference import load

    old = load(run_dir)
    backbone = old.model.backbone
    if hasattr(backbone, "merge_and_unload"):
        backbone = backbone.merge_and_unload()
    missing = sorted(set(old.labels) - set(labels))
    if missing:
        raise ConfigError(
            f"--init-from {run_dir}: label '{missing[0]}' of the earlier run is absent from the "
            "new data; a continual update must keep the old labels (add examples of them)"
        )
    try:
        model.backbone.load_state_dict(backbone.state_dict())
    except RuntimeError:
        raise ConfigError(
            f"--init-from {run_dir}: its model is not the same architecture as model.name; "
            "use the same model.name (and drop_top_layers) as the earlier run"
        ) from None
    _copy_head(model.head, old.model.head, [labels.index(label) for label in old.labels])


@torch.no_grad()
def _copy_head(new_head: torch.nn.Module, old_head: torch.nn.Module, rows: list[int]) -> None:
    old_state, new_state = old_head.state_dict(), new_head.state_dict()
    last = max(k for k in new_state if k.endswith(".weight")).rsplit(".", 1)[0]
    for key, value in old_state.items():
        if key.startswith(last + "."):
            new_state[key][rows] = value
        else:
            new_state[key] = value
    new_head.load_state_dict(new_state)


def old_test_report(predictor, run_dir: str | Path, strategy: str) -> dict:
    """Accuracy on the earlier run's test split, before and after the update."""
    from tunelab.tasks import get_task

    run_dir = Path(run_dir)
    old_cfg = load_config(run_dir / "config.yaml")
    task = get_task(old_cfg.task)
    inputs, labels = task.examples(task.prepare_data(old_cfg).test)
    predictions = predictor.predict(inputs)
    after = sum(p.label == y for p, y in zip(predictions, labels, strict=True)) / len(labels)
    before = json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"]
    flag = forgetting_flag(strategy, before, after)
    return {
        "init_from": str(run_dir),
        "old_test_accuracy_before": before,
        "old_test_accuracy_after": after,
        "flags": [flag.to_dict()] if flag else [],
    }
