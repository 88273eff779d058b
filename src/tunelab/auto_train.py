"""``train`` keys set to ``auto``, resolved when the run has its model and data.

* ``train.lr: auto``: a learning-rate range test (:mod:`tunelab.lr_finder`) picks the
  backbone rate; the curve is recorded with the decision and plotted in the report.
* ``train.epochs: auto``: train until early stopping on the task's monitored metric
  ends the run, at most :data:`AUTO_MAX_EPOCHS` epochs.

Each resolved key is printed as one line and recorded in metrics.json "decisions",
like every other decision the run makes (``run._decide``).
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape

from tunelab.config import TrainConfig
from tunelab.lr_finder import FALLBACK_LR, TrainParts, lr_range_test, suggest_lr

AUTO_MAX_EPOCHS = 20
AUTO_MIN_PATIENCE = 3


def resolve_auto_train(
    train_cfg: TrainConfig, parts: TrainParts, decisions: dict, console: Console
) -> TrainConfig:
    """``train_cfg`` with ``epochs`` and ``lr`` numbers where they were ``auto``; the
    decisions are added to ``decisions`` and printed."""
    update: dict = {}
    if train_cfg.epochs == "auto":
        update.update(_auto_epochs(train_cfg, parts.objective.monitor, decisions))
    if train_cfg.lr == "auto":
        parts.cfg = train_cfg.model_copy(update={"lr": FALLBACK_LR, **update})
        update["lr"] = _auto_lr(parts, decisions)
    for key in ("train.epochs", "train.lr"):
        if key in decisions and key.split(".")[1] in update:
            console.print(escape(f"{key}: {decisions[key]['value']} ({decisions[key]['reason']})"))
    return train_cfg.model_copy(update=update) if update else train_cfg


def _auto_epochs(train_cfg: TrainConfig, monitor: str, decisions: dict) -> dict:
    stopping = train_cfg.early_stopping
    patience = max(stopping.patience, AUTO_MIN_PATIENCE)
    metric = stopping.metric or monitor
    decisions["train.epochs"] = {
        "setting": "auto",
        "value": AUTO_MAX_EPOCHS,
        "reason": (
            f"auto: until val {metric} stops improving for {patience} evaluations, "
            f"at most {AUTO_MAX_EPOCHS} epochs"
        ),
        "patience": patience,
        "metric": metric,
    }
    return {
        "epochs": AUTO_MAX_EPOCHS,
        "early_stopping": stopping.model_copy(update={"patience": patience}),
    }


def _auto_lr(parts: TrainParts, decisions: dict) -> float:
    if not parts.trains_backbone():
        decisions["train.lr"] = {
            "setting": "auto",
            "value": FALLBACK_LR,
            "reason": "auto: no backbone group trains, so train.lr sets nothing",
        }
        return FALLBACK_LR
    started = time.perf_counter()
    test = lr_range_test(parts)
    suggestion = suggest_lr(test.lrs, test.losses)
    value = suggestion.lr if suggestion.lr is not None else FALLBACK_LR
    reason = f"auto: range test, {len(test.losses)} steps ({test.stop}); {suggestion.reason}"
    if suggestion.lr is None:
        reason += f"; kept {FALLBACK_LR:g}"
    decisions["train.lr"] = {
        "setting": "auto",
        "value": float(f"{value:.3g}"),
        "reason": reason,
        "curve": {
            "lr": test.lrs[: len(test.losses)],
            "loss": test.losses,
            "smoothed": suggestion.smoothed,
        },  # fmt: skip
        "steepest_index": suggestion.steepest_index,
        "min_index": suggestion.min_index,
        "stop": test.stop,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return decisions["train.lr"]["value"]
