"""What the trainer tells the user when a run ends: why it stopped early, and which
evaluation's weights it kept (scripted validation losses, tiny model)."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
import yaml
from rich.console import Console

from tests.conftest import classification_trainer, step_config, tiny_setup
from tunelab.config import load_config
from tunelab.errors import ConfigError, TrainingDiverged
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


class _NanLossAt:
    """Wraps an objective so the loss of the given batches (1-based) is NaN."""

    def __init__(self, objective, batches: set[int]) -> None:
        self.objective, self.batches, self.seen = objective, batches, 0

    def __getattr__(self, name):
        return getattr(self.objective, name)

    def loss(self, outputs, targets):
        self.seen += 1
        loss = self.objective.loss(outputs, targets)
        return loss * float("nan") if self.seen in self.batches else loss


def _trainer(model_dir, **train):
    setup = tiny_setup(model_dir, strategy_config("full"), n_per_class=8)  # 3 batches/epoch
    cfg = step_config(epochs=2, **train)
    return classification_trainer(
        setup.model, setup.groups, setup.plans, cfg, setup.data, setup.labels
    )


def test_a_nan_loss_stops_the_run_naming_the_step_and_cause(tiny_model_dir):
    trainer = _trainer(tiny_model_dir)
    trainer.objective = _NanLossAt(trainer.objective, {2})
    with pytest.raises(
        TrainingDiverged,
        match=r"step 2 \(epoch 1\): the training loss is nan; "
        r"likely cause: a learning rate too high \(train.lr 0.01",
    ):
        trainer.fit()
    assert trainer.state.step == 1


def test_a_nan_gradient_stops_the_run_with_or_without_clipping(tiny_model_dir):
    for grad_clip in (1.0, None):
        trainer = _trainer(tiny_model_dir, grad_clip=grad_clip)
        weight = trainer._trainable()[0]
        weight.register_hook(lambda grad: grad * float("inf"))
        with pytest.raises(
            TrainingDiverged,
            match=r"step 1 \(epoch 1\): the training gradient "
            r"norm is (inf|nan); likely cause: the model's output is not finite",
        ):
            trainer.fit()


def test_skip_mode_skips_and_counts_nonfinite_steps(tiny_model_dir):
    trainer = _trainer(tiny_model_dir, on_nonfinite="skip")
    trainer.objective = _NanLossAt(trainer.objective, {2, 5})
    trainer.console = Console(record=True, width=300)
    state = trainer.fit()
    assert (state.step, state.nonfinite_skipped) == (6, 2)
    assert all(math.isfinite(row["train_loss"]) for row in state.history)
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert "2 of 6 optimizer steps skipped" in trainer.console.export_text()


# No optimizer step ever runs, so torch warns that the scheduler stepped first: expected.
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")
def test_skip_mode_with_every_step_skipped_fails(tiny_model_dir):
    trainer = _trainer(tiny_model_dir, on_nonfinite="skip")
    trainer.objective = _NanLossAt(trainer.objective, set(range(1, 7)))
    with pytest.raises(TrainingDiverged, match="all 6 optimizer steps had a non-finite loss"):
        trainer.fit()


def test_a_diverging_run_is_marked_failed_and_the_cli_says_one_line(tiny_config, tmp_path):
    from typer.testing import CliRunner

    from tunelab.cli import app

    config = tmp_path / "config.yaml"
    tiny_config["train"].update(lr=1e30, head_lr=1e30, warmup_ratio=0.0)
    config.write_text(yaml.safe_dump(tiny_config))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(config), "--output", str(out)])
    assert result.exit_code == 2
    assert re.search(
        r"error: step \d+ \(epoch 1\): the training (loss|gradient norm) is (nan|inf)",
        result.output,
    )
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "failed" and "TrainingDiverged" in status["reason"]


def _strict_json(line: str) -> dict:
    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_predict_with_a_nan_model_prints_valid_json_and_an_error(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file, save_file
    from typer.testing import CliRunner

    from tests.conftest import train_tiny_text_run
    from tunelab.cli import app

    run = train_tiny_text_run(tiny_model_dir, tmp_path, strategy="full")
    weights = run / "model" / "model.safetensors"
    tensors = load_file(str(weights))
    save_file({k: v.float().fill_(float("nan")) for k, v in tensors.items()}, str(weights))
    result = CliRunner().invoke(app, ["predict", str(run), "pizza pasta", "wifi router"])
    assert result.exit_code == 2
    records = [_strict_json(line) for line in result.stdout.splitlines()]
    assert len(records) == 2
    for record in records:
        assert "model's output is not finite" in record["error"]
        assert all(p is None for p in record["probabilities"].values())
