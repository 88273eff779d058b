"""The invariant every strategy must honour: after optimizer steps, exactly the
intended parameters changed (peft's ``test_only_params_are_updated``)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import classification_trainer, step_config, tiny_setup
from tunelab.strategies import strategy_config, strategy_names


def _setup(tiny_model_dir, strategy_cfg, steps: int = 1):
    setup = tiny_setup(tiny_model_dir, strategy_cfg)
    model, strategy, groups, plans = setup.model, setup.strategy, setup.groups, setup.plans
    data, labels = setup.data, setup.labels
    cfg = step_config(max_steps=steps)
    trainer = classification_trainer(
        model, groups, plans, cfg, data, labels, strategy.callbacks(groups, plans)
    )
    return model, groups, trainer


def _changed_after_fit(model, trainer) -> set[str]:
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.fit()
    return {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}


def _names(model, groups, wanted: set[str]) -> set[str]:
    ids = {id(p) for g in groups if g.name in wanted for p in g.params}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_all_six_strategies_registered():
    assert strategy_names() == sorted(
        ["feature_extraction", "top_k", "full", "gradual_unfreeze", "discriminative_lr", "lora"]
    )


def test_groups_of_tiny_bert(tiny_model_dir):
    model, groups, _ = _setup(tiny_model_dir, strategy_config("full"))
    assert [g.name for g in groups] == ["embeddings", "layer.0", "layer.1", "head"]
    assert sum(g.num_params for g in groups) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("cfg", "trained"),
    [
        (strategy_config("feature_extraction"), {"head"}),
        (strategy_config("top_k", k=1), {"layer.1", "head"}),
        (strategy_config("top_k", k=2), {"layer.0", "layer.1", "head"}),
        (strategy_config("full"), {"embeddings", "layer.0", "layer.1", "head"}),
        (strategy_config("discriminative_lr"), {"embeddings", "layer.0", "layer.1", "head"}),
        (strategy_config("gradual_unfreeze"), {"head"}),
    ],
)
def test_only_planned_params_change(tiny_model_dir, cfg, trained):
    model, groups, trainer = _setup(tiny_model_dir, cfg)
    assert _changed_after_fit(model, trainer) == _names(model, groups, trained)


def test_gradual_unfreeze_by_steps_reaches_next_group(tiny_model_dir):
    cfg = strategy_config("gradual_unfreeze", unfreeze_every_steps=1)
    model, groups, trainer = _setup(tiny_model_dir, cfg, steps=2)
    changed = _changed_after_fit(model, trainer)
    # step 1 trains the head; then layer.1 is unfrozen; step 2 trains it too.
    assert changed == _names(model, groups, {"head", "layer.1"})
    assert trainer.callbacks[0].phase == 2


def test_lora_changes_only_adapters_and_head(tiny_model_dir):
    model, groups, trainer = _setup(tiny_model_dir, strategy_config("lora"))
    changed = _changed_after_fit(model, trainer)
    head = _names(model, groups, {"head"})
    assert head <= changed
    adapters = changed - head
    assert adapters and all("lora_" in n for n in adapters)
    # query and value of both layers, A and B each
    assert len(adapters) == 2 * 2 * 2


def test_discriminative_lr_scales(tiny_model_dir):
    _, groups, trainer = _setup(tiny_model_dir, strategy_config("discriminative_lr", lr_decay=0.5))
    lrs = {g["group"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert lrs["layer.1"] == pytest.approx(1e-2)
    assert lrs["layer.0"] == pytest.approx(5e-3)
    assert lrs["embeddings"] == pytest.approx(2.5e-3)
    assert lrs["head"] == pytest.approx(1e-2)


def test_top_k_larger_than_backbone_is_a_config_error(tiny_model_dir):
    from tunelab.errors import ConfigError

    with pytest.raises(ConfigError, match="strategy.k=5"):
        _setup(tiny_model_dir, strategy_config("top_k", k=5))


def test_frozen_groups_stay_in_eval_mode(tiny_model_dir):
    from tunelab.layers import set_train_mode

    model, groups, _ = _setup(tiny_model_dir, strategy_config("top_k", k=1))
    set_train_mode(model, groups)
    assert not model.backbone.embeddings.training
    assert not model.backbone.encoder.layer[0].training
    assert model.backbone.encoder.layer[1].training and model.head.training


def test_lora_adapters_train_at_scaled_lr(tiny_model_dir):
    cfg = strategy_config("lora", lora={"lr_scale": 4.0})
    _, _, trainer = _setup(tiny_model_dir, cfg)
    lrs = {g["group"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert lrs["layer.0"] == lrs["layer.1"] == pytest.approx(4e-2)
    assert lrs["head"] == pytest.approx(1e-2)
    assert "embeddings" not in lrs
