"""Settings that would train a useless model are refused: a head layer narrower than 1,
and more gradient-accumulation steps than an epoch has batches."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import step_config, tiny_setup
from tunelab.config import load_config
from tunelab.errors import ConfigError
from tunelab.strategies import strategy_config
from tunelab.tasks.classification import ClassificationObjective, HeadConfig
from tunelab.trainer import Trainer, check_grad_accum


@pytest.mark.parametrize(
    ("sizes", "index", "bad"), [("[-5]", 0, -5), ("[0]", 0, 0), ("[64, 0]", 1, 0)]
)
def test_head_hidden_sizes_below_one_are_a_config_error(sizes, index, bad):
    with pytest.raises(ConfigError) as raised:
        load_config(None, [f"model.head.hidden_sizes={sizes}"])
    message = str(raised.value)
    assert f"model.head.hidden_sizes.{index}" in message and f"(got {bad})" in message
    assert "greater than or equal to 1" in message


def test_positive_head_hidden_sizes_load():
    assert load_config(None, ["model.head.hidden_sizes=[64, 16]"]).model.head.hidden_sizes == [
        64,
        16,
    ]
    assert HeadConfig().hidden_sizes == []


@pytest.mark.parametrize(
    ("examples", "batch_size", "accum", "refused"),
    [(24, 8, 3, False), (24, 8, 4, True), (25, 8, 4, False), (8, 8, 2, True)],
)
def test_grad_accum_past_the_batches_of_an_epoch(examples, batch_size, accum, refused):
    cfg = step_config(batch_size=batch_size, grad_accum_steps=accum)
    if not refused:
        check_grad_accum(cfg, examples)
        return
    with pytest.raises(ConfigError) as raised:
        check_grad_accum(cfg, examples)
    batches = -(-examples // batch_size)
    assert str(raised.value) == (
        f"train.grad_accum_steps={accum} but an epoch has only {batches} batches "
        f"({examples} training examples / train.batch_size {batch_size}), so no optimizer "
        f"step would be taken; set train.grad_accum_steps <= {batches} or lower "
        "train.batch_size"
    )


def test_trainer_refuses_grad_accum_before_building_anything(tiny_model_dir):
    setup = tiny_setup(tiny_model_dir, strategy_config("full"), n_per_class=8)  # 24 texts
    objective = ClassificationObjective(setup.labels)
    before = {n: p.detach().clone() for n, p in setup.model.named_parameters()}
    with pytest.raises(ConfigError, match="grad_accum_steps=4 but an epoch has only 3 batches"):
        Trainer(
            setup.model,
            setup.groups,
            setup.plans,
            step_config(grad_accum_steps=4),
            setup.data,
            setup.data,
            objective,
        )
    trainer = Trainer(
        setup.model,
        setup.groups,
        setup.plans,
        step_config(grad_accum_steps=3, epochs=1),
        setup.data,
        setup.data,
        objective,
    )
    trainer.fit()
    assert trainer.state.step == 1
    changed = [n for n, p in setup.model.named_parameters() if not torch.equal(before[n], p)]
    assert changed, "three accumulated batches must take one optimizer step"
