"""Early stopping as configured, and the lines that report how a run ended (scripted
states, no training)."""

from __future__ import annotations

import pytest

from tunelab.config import TrainConfig
from tunelab.errors import ConfigError
from tunelab.stopping import early_stopping_for, stop_lines
from tunelab.tasks.classification import ClassificationObjective
from tunelab.trainer import TrainState

OBJECTIVE = ClassificationObjective(["a", "b"])


def test_the_objectives_monitor_and_its_direction_by_default():
    stopping = early_stopping_for(TrainConfig(), OBJECTIVE)
    assert (stopping.metric, stopping.mode, stopping.patience) == ("f1_macro", "max", 3)
    loss = early_stopping_for(TrainConfig(early_stopping={"metric": "loss"}), OBJECTIVE)
    assert loss.mode == "min"
    disabled = TrainConfig(early_stopping={"enabled": False, "patience": 2})
    assert early_stopping_for(disabled, OBJECTIVE).patience is None  # tracks the best only


def test_a_metric_the_objective_lacks_is_refused():
    cfg = TrainConfig(early_stopping={"metric": "perplexity"})
    with pytest.raises(ConfigError, match="'perplexity' is not a metric of this task"):
        early_stopping_for(cfg, OBJECTIVE)


def test_the_lines_say_why_it_stopped_and_which_weights_it_kept():
    stopping = early_stopping_for(TrainConfig(early_stopping={"patience": 2}), OBJECTIVE)
    history = [{"epoch": e} for e in (1, 2, 3)]
    state = TrainState(
        step=9, best_value=0.8, best_epoch=1, best_step=3, history=history, stopped_early=True
    )
    assert stop_lines(stopping, state, num_epochs=10) == [
        "early stopping: val f1_macro did not improve for 2 evaluations "
        "(train.early_stopping.patience); stopped at epoch 3 of 10, step 9",
        "kept the weights of epoch 1 (step 3): val f1_macro 0.8000, the highest of 3 evaluations",
    ]
    assert stop_lines(stopping, TrainState(), num_epochs=10) == []
