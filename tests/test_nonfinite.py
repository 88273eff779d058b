"""train.on_nonfinite on scripted values: stop names the step and cause, skip counts,
and a run whose every step was skipped fails (no training)."""

from __future__ import annotations

import math

import pytest
from rich.console import Console

from tunelab.config import TrainConfig
from tunelab.errors import TrainingDiverged
from tunelab.nonfinite import NonfiniteGuard
from tunelab.trainer import TrainState


def _guard(on_nonfinite: str = "stop", fp16: bool = False) -> NonfiniteGuard:
    return NonfiniteGuard(TrainConfig(on_nonfinite=on_nonfinite, lr=1e-3, head_lr=0.1), fp16)


def test_stop_names_the_step_the_value_and_the_learning_rates():
    state = TrainState(epoch=1, step=6, nonfinite_skipped=0)
    assert _guard().finite("loss", 0.5, state)
    with pytest.raises(TrainingDiverged) as err:
        _guard().finite("gradient norm", math.inf, state)
    assert str(err.value) == (
        "step 7 (epoch 2): the training gradient norm is inf; likely cause: a learning rate "
        "too high (train.lr 0.001, train.head_lr 0.1): lower it, or set train.grad_clip; or "
        "set train.on_nonfinite: skip to skip such steps"
    )


@pytest.mark.parametrize(
    ("fp16", "step", "skipped", "cause"),
    [(True, 5, 0, "fp16 overflow"), (False, 0, 0, "before any update"), (False, 3, 3, "before")],
)
def test_the_cause_is_fp16_then_the_inputs_then_the_learning_rate(fp16, step, skipped, cause):
    state = TrainState(step=step, nonfinite_skipped=skipped)
    assert cause in _guard(fp16=fp16).cause(state)


def test_skip_returns_false_and_a_partly_skipped_run_warns():
    guard, console = _guard("skip"), Console(record=True, width=200)
    assert guard.finite("loss", math.nan, TrainState()) is False
    guard.check_trained(TrainState(step=10, nonfinite_skipped=2), console)
    assert "2 of 10 optimizer steps skipped" in console.export_text()
    guard.check_trained(TrainState(step=10), console)
    assert console.export_text() == ""  # nothing skipped: nothing said


@pytest.mark.parametrize(("step", "skipped"), [(4, 4), (1, 1)])
def test_a_run_whose_every_step_was_skipped_fails(step, skipped):
    with pytest.raises(TrainingDiverged, match="so nothing was trained"):
        _guard("skip").check_trained(TrainState(step=step, nonfinite_skipped=skipped), Console())
