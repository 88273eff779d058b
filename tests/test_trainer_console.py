"""What the trainer tells the user when a run ends: why it stopped early, and which
evaluation's weights it kept (scripted validation losses, tiny model)."""

from __future__ import annotations

import pytest
from rich.console import Console

from tests.conftest import classification_trainer, step_config, tiny_setup
from tunelab.config import load_config
from tunelab.errors import ConfigError
from tunelab.objective import EvalResult
from tunelab.strategies import strategy_config


def _scripted_trainer(model_dir, losses: list[float], **train):
    setup = tiny_setup(model_dir, strategy_config("full"), n_per_class=8)
    cfg = step_config(epochs=len(losses) + 3, **train)
    trainer = classification_trainer(
        setup.model, setup.groups, setup.plans, cfg, setup.data, setup.labels
    )
    trainer.console = Console(record=True, width=300)
    scripted = iter(losses)

    def evaluate(data):
        return EvalResult(
            {name: 0.5 for name in trainer.objective.metric_names()} | {"loss": next(scripted)}
        )

    trainer.evaluate = evaluate
    return trainer


def test_early_stop_and_the_kept_epoch_are_printed(tiny_model_dir):
    trainer = _scripted_trainer(
        tiny_model_dir,
        [0.9, 0.5, 0.6, 0.7],
        early_stopping={"enabled": True, "metric": "loss", "patience": 2},
    )
    state = trainer.fit()
    text = trainer.console.export_text()
    assert state.stopped_early and len(state.history) == 4
    assert "early stopping: val loss did not improve for 2 evaluations" in text
    assert "stopped at epoch 4 of 7, step 12" in text
    assert "kept the weights of epoch 2 (step 6): val loss 0.5000, the lowest of 4" in text
    assert (state.best_epoch, state.best_step) == (2, 6)


def test_a_run_that_ends_on_schedule_says_only_which_epoch_it_kept(tiny_model_dir):
    trainer = _scripted_trainer(
        tiny_model_dir,
        [0.9, 0.5, 0.6],
        max_steps=9,
        early_stopping={"enabled": False, "metric": "loss"},
    )
    state = trainer.fit()
    text = trainer.console.export_text()
    assert not state.stopped_early and "early stopping" not in text
    assert "kept the weights of epoch 2 (step 6)" in text


@pytest.mark.parametrize(("metric", "mode"), [("loss", "max"), ("f1_macro", "min")])
def test_a_mode_against_the_metrics_direction_is_refused(metric, mode):
    with pytest.raises(ConfigError, match=f"mode '{mode}' contradicts metric '{metric}'"):
        load_config(
            None, [f"train.early_stopping.metric={metric}", f"train.early_stopping.mode={mode}"]
        )
    right = "min" if mode == "max" else "max"
    cfg = load_config(
        None, [f"train.early_stopping.metric={metric}", f"train.early_stopping.mode={right}"]
    )
    assert cfg.train.early_stopping.mode == right
