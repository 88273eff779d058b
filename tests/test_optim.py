"""Schedules are pure functions: test their shape directly."""

from __future__ import annotations

import pytest
import torch

from tunelab.config import TrainConfig
from tunelab.optim import lr_multiplier, warmup_steps_for


def test_linear_warmup_then_linear_decay():
    values = [lr_multiplier(s, total_steps=10, warmup_steps=2, kind="linear") for s in range(10)]
    assert values[:2] == [0.5, 1.0]
    assert values[2] == pytest.approx(1.0)
    assert values[6] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(values[2:], values[3:], strict=False))


def test_cosine_reaches_half_at_midpoint_and_zero_at_end():
    assert lr_multiplier(5, 10, 0, "cosine") == pytest.approx(0.5)
    assert lr_multiplier(10, 10, 0, "cosine") == pytest.approx(0.0)


def test_constant_after_warmup():
    assert [lr_multiplier(s, 10, 3, "constant") for s in (0, 2, 3, 9)] == pytest.approx(
        [1 / 3, 1.0, 1.0, 1.0]
    )


def test_warmup_steps_override_ratio():
    assert warmup_steps_for(TrainConfig(warmup_ratio=0.1), 200) == 20
    assert warmup_steps_for(TrainConfig(warmup_ratio=0.1, warmup_steps=7), 200) == 7


def test_unknown_schedule_raises():
    with pytest.raises(ValueError):
        lr_multiplier(5, 10, 0, "exponential")


# ---------------------------------------------------------------- optimizers by name
def _discriminative(tiny_model_dir, **train):
    """The tiny classifier under discriminative_lr, and its optimizer built as a run does."""
    from tests.conftest import step_config, tiny_setup
    from tunelab.optim import build_optimizer, build_param_groups
    from tunelab.strategies import strategy_config

    setup = tiny_setup(tiny_model_dir, strategy_config("discriminative_lr", lr_decay=0.5))
    cfg = step_config(lr=1e-3, head_lr=1e-2, weight_decay=0.05, **train)
    groups = build_param_groups(setup.model, setup.groups, setup.plans, cfg)
    return setup, cfg, build_optimizer(groups, cfg)


def test_a_torch_optim_class_by_dotted_name_keeps_per_group_lr_and_decay(tiny_model_dir):
    from tunelab.optim import build_scheduler

    kwargs = {"betas": [0.8, 0.99], "decoupled_weight_decay": True}
    _, cfg, optimizer = _discriminative(
        tiny_model_dir, optimizer="torch.optim.RAdam", optimizer_kwargs=kwargs
    )
    assert type(optimizer) is torch.optim.RAdam
    lrs = {g["group"]: g["lr"] for g in optimizer.param_groups}
    # embeddings, layer.0, layer.1 at 1e-3 * 0.5 ** depth; the head at head_lr
    assert lrs == pytest.approx(
        {"embeddings": 2.5e-4, "layer.0": 5e-4, "layer.1": 1e-3, "head": 1e-2}
    )
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.05, 0.0}
    assert all(tuple(g["betas"]) == (0.8, 0.99) for g in optimizer.param_groups)
    scheduler = build_scheduler(optimizer, cfg.model_copy(update={"warmup_ratio": 0.5}), 4)
    first = [g["lr"] for g in optimizer.param_groups]
    optimizer.step(), scheduler.step()
    ratios = [g["lr"] / lr for g, lr in zip(optimizer.param_groups, first, strict=True)]
    assert ratios == pytest.approx([2.0] * len(ratios))  # warmup scales every group alike


def test_adafactor_follows_our_lr_and_trains_only_the_plan(tiny_model_dir):
    from tests.conftest import classification_trainer, step_config, tiny_setup
    from tunelab.strategies import strategy_config

    setup = tiny_setup(tiny_model_dir, strategy_config("top_k", k=1))
    cfg = step_config(max_steps=1, optimizer="adafactor", scheduler="constant")
    trainer = classification_trainer(
        setup.model, setup.groups, setup.plans, cfg, setup.data, setup.labels
    )
    assert type(trainer.optimizer.optimizer).__name__ == "Adafactor"
    assert {g["relative_step"] for g in trainer.optimizer.param_groups} == {False}
    before = {n: p.detach().clone() for n, p in setup.model.named_parameters()}
    trainer.fit()
    changed = {n for n, p in setup.model.named_parameters() if not torch.equal(before[n], p)}
    assert changed and all(n.startswith(("backbone.encoder.layer.1.", "head.")) for n in changed)
    assert {g["lr"] for g in trainer.optimizer.param_groups} == {1e-2}


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"optimizer": "torch.optim.Adamm"}, r"train.optimizer 'torch.optim.Adamm' is not .*RAdam"),
        ({"optimizer": "os.system"}, r"train.optimizer 'os.system' is not"),
        (
            {"optimizer": "RAdam", "optimizer_kwargs": {"betaz": 1}},
            r"RAdam refused them \(.*'betaz'\)",
        ),
        (
            {"optimizer": "sgd", "optimizer_kwargs": {"momentum": -1}},
            r"SGD refused them \(Invalid momentum value: -1",
        ),
        ({"optimizer_kwargs": {"lr": 0.1}}, r"optimizer_kwargs.lr: set train.lr / train.head_lr"),
    ],
)
def test_a_bad_optimizer_is_one_line_before_anything_is_written(
    tiny_config, tmp_path, train, message
):
    import tunelab
    from tunelab.errors import ConfigError

    tiny_config["train"].update(train)
    with pytest.raises(ConfigError, match=message) as caught:
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_warmup_from_zero_is_hf_trainers_linear_schedule():
    """The pair phase reproduces setfit, which trains under HF Trainer's schedule."""
    from transformers import get_linear_schedule_with_warmup

    total, warmup = 24, 3
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)
    expected = [schedule.lr_lambdas[0](step) for step in range(total)]
    ours = [lr_multiplier(s, total, warmup, "linear", warmup_from_zero=True) for s in range(total)]
    assert ours == pytest.approx(expected)
    assert ours[0] == 0.0 and lr_multiplier(0, total, warmup, "linear") == pytest.approx(1 / 3)
