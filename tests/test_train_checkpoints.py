"""The trainer's best and last checkpoints on a two-layer model: only trained weights are
saved, best restores, and resume puts every stateful part back (no training loop)."""

from __future__ import annotations

import json

import torch
from rich.console import Console
from safetensors.torch import load_file

from tunelab.callbacks import EarlyStopping
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan
from tunelab.train_checkpoints import TrainCheckpoints, trained_param_names
from tunelab.trainer import TrainState


def _parts():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    groups = [
        LayerGroup("body", list(model[0].parameters())),
        LayerGroup("head", list(model[1].parameters())),
    ]
    plans = [GroupPlan(state="frozen"), GroupPlan(state="trained")]
    optimizer = torch.optim.SGD(model[1].parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    return model, groups, plans, optimizer, scheduler


def _step(model, optimizer, scheduler) -> None:
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()


def test_only_the_parameters_a_plan_trains_are_saved(tmp_path):
    model, groups, plans, optimizer, scheduler = _parts()
    names = trained_param_names(model, groups, plans)
    assert names == {"1.weight", "1.bias"}
    TrainCheckpoints(tmp_path, model, names, optimizer, scheduler, []).save_best()
    saved = load_file(str(tmp_path / "checkpoints" / "best" / "weights.safetensors"))
    assert set(saved) == {"1.weight", "1.bias"}


def test_best_is_restored_from_memory_without_a_run_directory():
    model, groups, plans, optimizer, scheduler = _parts()
    names = trained_param_names(model, groups, plans)
    checkpoints = TrainCheckpoints(None, model, names, optimizer, scheduler, [])
    checkpoints.save_best()
    best = model[1].weight.detach().clone()
    _step(model, optimizer, scheduler)
    assert not torch.equal(model[1].weight, best)
    checkpoints.restore_best()
    assert torch.equal(model[1].weight, best)


def test_resume_restores_weights_optimizer_scheduler_callbacks_and_history(tmp_path):
    model, groups, plans, optimizer, scheduler = _parts()
    stopping = EarlyStopping("f1_macro")
    stopping.update(0.5)
    names = trained_param_names(model, groups, plans)
    _step(model, optimizer, scheduler)
    state = TrainState(epoch=1, step=1, history=[{"epoch": 1, "step": 1}])
    TrainCheckpoints(tmp_path, model, names, optimizer, scheduler, [stopping]).save_last(state)
    saved_weight = model[1].weight.detach().clone()

    fresh, _, _, fresh_optimizer, fresh_scheduler = _parts()
    fresh_stopping = EarlyStopping("f1_macro")
    (tmp_path / "history.jsonl").write_text("stale\n")
    checkpoints = TrainCheckpoints(
        tmp_path, fresh, names, fresh_optimizer, fresh_scheduler, [fresh_stopping]
    )
    restored = TrainState(**checkpoints.resume(Console(quiet=True)))
    assert restored == state
    assert torch.equal(fresh[1].weight, saved_weight)
    assert fresh_scheduler.last_epoch == 1 and fresh_stopping.best == 0.5
    assert fresh_optimizer.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()
    rows = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert rows == [{"epoch": 1, "step": 1}]
