"""``train_and_validate``: the half of a run that self-training's rounds reuse. It must
train and validate exactly as the run does, write nothing, and leave the test split,
the predictor, latency and the saved model to the run."""

from __future__ import annotations

import pytest
from accelerate.utils import set_seed
from rich.console import Console

import tunelab
from tunelab.config import load_config
from tunelab.run import train_and_validate
from tunelab.strategies import apply_strategy
from tunelab.tasks import get_task
from tunelab.trainer import Trainer

RUN_ONLY = ("predictor", "latency_inputs", "save_model", "final_metrics")


def _refused(name: str):
    def refuse(*args, **kwargs):
        raise AssertionError(f"train_and_validate called Task.{name}: that is the run's work")

    return refuse


def test_validates_as_the_run_does_writes_nothing_and_never_sees_the_test_split(
    tiny_config, tmp_path, monkeypatch
):
    run = tunelab.fine_tune(tiny_config, tmp_path / "run")

    cfg = load_config(base=tiny_config)
    task = get_task(cfg.task)
    for name in RUN_ONLY:
        monkeypatch.setattr(type(task), name, _refused(name))
    evaluated = []
    evaluate = Trainer.evaluate

    def recorded(self, data):
        evaluated.append(data)
        return evaluate(self, data)

    monkeypatch.setattr(Trainer, "evaluate", recorded)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    set_seed(cfg.train.seed)  # as fine_tune seeds before reading the data
    splits = task.prepare_data(cfg)
    built = task.build_model(cfg, splits)
    applied = apply_strategy(built.model, cfg.strategy)
    trained = train_and_validate(cfg, task, splits, built, applied, Console(quiet=True))

    assert trained.validation == pytest.approx(run.metrics["validation"])
    assert [row["val_loss"] for row in trained.state.history] == pytest.approx(
        [row["val_loss"] for row in run.history]
    )
    # one validation per epoch, then the final score; never the test split
    assert len(evaluated) == len(run.history) + 1
    # (during training the frozen-prefix cache stands in for the validation batches)
    assert evaluated[-1] is trained.data["validation"]
    assert all(data is not trained.data["test"] for data in evaluated)
    assert list(workdir.iterdir()) == []
