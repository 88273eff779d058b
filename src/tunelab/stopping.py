"""When a run stops and whose weights it keeps: early stopping as the config asks for
it, checked against the task's objective, and the lines that tell the user.

The trainer only asks :class:`EarlyStopping` whether to stop and whether an evaluation
improved; which metric it watches in which direction, and how the outcome is reported,
are decided here so they can be checked on scripted states, without training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunelab.callbacks import EarlyStopping
from tunelab.config import TrainConfig
from tunelab.errors import ConfigError
from tunelab.objective import Objective

if TYPE_CHECKING:
    from tunelab.trainer import TrainState


def early_stopping_for(cfg: TrainConfig, objective: Objective) -> EarlyStopping:
    """Early stopping on the configured metric (default: the objective's monitor).

    Raises:
        ConfigError: ``train.early_stopping.metric`` is not one of the objective's.
    """
    stopping = cfg.early_stopping
    metric = stopping.metric or objective.monitor
    if metric not in objective.metric_names():
        raise ConfigError(
            f"train.early_stopping.metric '{metric}' is not a metric of this task; "
            f"choose one of {', '.join(objective.metric_names())}"
        )
    return EarlyStopping(
        metric,
        stopping.mode or objective.spec(metric).mode,
        stopping.patience if stopping.enabled else None,
        stopping.min_delta,
    )


def stop_lines(stopping: EarlyStopping, state: TrainState, num_epochs: int) -> list[str]:
    """Why training ended early (if it did) and which evaluation's weights are kept."""
    metric, lines = f"val {stopping.metric}", []
    if state.stopped_early:
        lines.append(
            f"early stopping: {metric} did not improve for {stopping.patience} "
            f"evaluations (train.early_stopping.patience); stopped at epoch "
            f"{state.history[-1]['epoch']} of {num_epochs}, step {state.step}"
        )
    if state.best_value is not None:
        extreme = "highest" if stopping.mode == "max" else "lowest"
        lines.append(
            f"kept the weights of epoch {state.best_epoch} (step {state.best_step}): "
            f"{metric} {state.best_value:.4f}, the {extreme} of {len(state.history)} "
            f"evaluations"
        )
    return lines
