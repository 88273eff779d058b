"""Continual updates: start from a finished run's model and measure what it forgot.

``tunelab run --init-from RUN_DIR`` fine-tunes the earlier run's model (backbone and
head) on new data. The old run's test set is evaluated before (its ``metrics.json``) and
after the update: the drop is catastrophic forgetting, measured rather than guessed.
``model.replay_fraction`` counters it by rehearsal: a stratified share of the earlier
run's training examples joins the new training split (examples that also occur in the
new validation or test split are left out, so they cannot leak).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.config import Config, load_config
from tunelab.diagnostics import forgetting_flag
from tunelab.errors import ConfigError
from tunelab.strategies.lora import merged


def init_from_run(model: torch.nn.Module, labels: list[str], run_dir: str | Path) -> None:
    """Copy an earlier run's backbone and head into ``model`` (before any strategy).

    New labels may extend the old ones: the head rows of known labels are copied and the
    new rows keep their fresh initialisation. A LoRA run's adapter is merged first.
    """
    from tunelab.inference import load

    old = load(run_dir)
    backbone = merged(old.model.backbone)
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


def earlier_splits(run_dir: str | Path) -> Any:
    """The earlier run's train / validation / test splits, rebuilt from its config."""
    from tunelab.tasks import get_task

    old_cfg = load_config(Path(run_dir) / "config.yaml")
    return get_task(old_cfg.task).prepare_data(old_cfg)


def old_test_report(predictor, run_dir: str | Path, strategy: str, earlier: Any = None) -> dict:
    """Accuracy on the earlier run's test split, before and after the update.

    ``earlier``: the earlier run's splits when the caller has them already (replay).
    """
    from tunelab.tasks import get_task

    run_dir = Path(run_dir)
    earlier = earlier if earlier is not None else earlier_splits(run_dir)
    task = get_task(load_config(run_dir / "config.yaml").task)
    inputs, labels = task.examples(earlier.test)
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


def check_continual(cfg: Config) -> None:
    """Replay needs an earlier run to replay from."""
    if getattr(cfg.model, "replay_fraction", 0) and not getattr(cfg.model, "init_from", None):
        raise ConfigError(
            "model.replay_fraction replays an earlier run's training data; set "
            "model.init_from (--init-from RUN_DIR) or leave replay_fraction at 0"
        )


def add_replay(task: Any, splits: Any, cfg: Config, earlier: Any) -> tuple[Any, dict]:
    """``splits`` with the replayed share of the earlier run's training split added.

    Args:
        earlier: the earlier run's splits (:func:`earlier_splits`).

    Returns:
        The new splits and ``{"from", "fraction", "examples", "left_out_overlap"}``.
    """
    run_dir = Path(cfg.model.init_from)
    old_train = earlier.train
    _, labels = task.examples(old_train)
    rows = replay_rows(labels, cfg.model.replay_fraction, cfg.data.seed)
    held_out = {*task.overlap_keys(splits.validation), *task.overlap_keys(splits.test)}
    keys = task.overlap_keys(old_train)
    kept = [i for i in rows if keys[i] not in held_out]
    info = {
        "from": str(run_dir),
        "fraction": cfg.model.replay_fraction,
        "examples": len(kept),
        "left_out_overlap": len(rows) - len(kept),
    }
    if not kept:
        return splits, info
    train = task.concat(splits.train, task.take(old_train, kept))
    summary = {**splits.summary, "replay": info}
    return dataclasses.replace(splits, train=train, summary=summary), info


def replay_rows(labels: list[str], fraction: float, seed: int) -> list[int]:
    """A seeded ``fraction`` of the rows of every label (at least one per label), sorted."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        by_label.setdefault(label, []).append(row)
    rows: list[int] = []
    for label in sorted(by_label):
        members = by_label[label]
        count = max(1, round(fraction * len(members))) if fraction > 0 else 0
        rows += rng.choice(members, size=min(count, len(members)), replace=False).tolist()
    return sorted(rows)
