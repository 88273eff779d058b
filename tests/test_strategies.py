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


def test_all_strategies_registered():
    assert strategy_names() == sorted(
        [
            "auto",  # resolved by the run (auto_strategy.py), never applied
            "contrastive",
            "feature_extraction",
            "top_k",
            "full",
            "gradual_unfreeze",
            "discriminative_lr",
            "lora",
            "layers",
        ]
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
        (strategy_config("layers", train=["embeddings", "head"]), {"embeddings", "head"}),
        (strategy_config("layers", train=["layer.0-1"]), {"layer.0", "layer.1"}),
        (strategy_config("layers", train=["layer.*", "head"]), {"layer.0", "layer.1", "head"}),
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


# ------------------------------------------------------------------- layers strategy
def test_layers_trains_groups_at_their_lr_scales(tiny_model_dir):
    cfg = strategy_config(
        "layers", train=["layer.*", "head"], lr_scales={"layer.*": 0.5, "layer.1": 2.0}
    )
    _, groups, trainer = _setup(tiny_model_dir, cfg)
    plans = {g.name: (p.state, p.lr_scale) for g, p in zip(groups, trainer.plans, strict=True)}
    assert plans == {
        "embeddings": ("frozen", 1.0),
        "layer.0": ("trained", 0.5),
        "layer.1": ("trained", 2.0),  # a later key wins
        "head": ("trained", 1.0),
    }
    lrs = {g["group"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert lrs == pytest.approx({"layer.0": 5e-3, "layer.1": 2e-2, "head": 1e-2})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"train": ["layer.9", "head"]},
            r"^strategy.train: 'layer.9' matches no layer group of this model; its groups are "
            r"embeddings, layer.0, layer.1, head \(use ",
        ),
        ({"train": ["layer.1-3"]}, r"'layer.1-3' matches no layer group"),
        ({"train": ["block.*"]}, r"'block.\*' matches no layer group"),
        (
            {"train": ["head"], "lr_scales": {"layer.0": 0.1}},
            r"strategy.lr_scales.layer.0: scales layer.0, which strategy.train leaves frozen",
        ),
        ({"train": ["head"], "lr_scales": {"head": 0.0}}, r"0.0 is not a positive"),
    ],
)
def test_layers_refuses_groups_the_model_does_not_have(tiny_model_dir, settings, message):
    from tunelab.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        tiny_setup(tiny_model_dir, strategy_config("layers", **settings))


def test_layers_on_an_image_cnn_trains_exactly_the_named_stages():
    from tests.conftest import TINY_CNN
    from tunelab.strategies import apply_strategy
    from tunelab.tasks.image.batches import ImageBatches
    from tunelab.tasks.image.config import ImageModelConfig
    from tunelab.tasks.image.model import build_image_classifier
    from tunelab.tasks.image.transforms import ImagePreprocessing

    torch.manual_seed(0)
    model, _ = build_image_classifier(ImageModelConfig(name=TINY_CNN, pretrained=False), 3)
    cfg = strategy_config("layers", train=["stem", "stage.3-4", "head"])
    strategy, groups, plans = apply_strategy(model, cfg)
    images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8)
    data = ImageBatches(
        images, torch.arange(24) % 3, ImagePreprocessing(32, (0.5,) * 3, (0.5,) * 3, "bilinear")
    )
    trainer = classification_trainer(model, groups, plans, step_config(max_steps=1), data, "abc")
    trained = {"stem", "stage.3", "stage.4", "head"}
    assert _changed_after_fit(model, trainer) == _names(model, groups, trained)


def test_layers_on_a_causal_lm_freezes_all_but_the_named_blocks():
    from tests.tasks.causal_lm.conftest import tiny_decoder
    from tunelab.strategies import apply_strategy
    from tunelab.tasks.causal_lm.module import CausalLM

    model = CausalLM(tiny_decoder("llama"))
    _, groups, _ = apply_strategy(model, strategy_config("layers", train=["layer.1", "head"]))
    trainable = {g.name for g in groups if g.num_trainable == g.num_params}
    assert trainable == {"layer.1", "head"}
    assert all(g.num_trainable == 0 for g in groups if g.name not in trainable)


def test_compare_takes_layers_by_name_but_not_by_default():
    from tunelab.comparison import _check_strategies, all_strategies

    assert "layers" not in all_strategies("text_classification")  # needs strategy.train
    assert _check_strategies(["layers", "top_k"], 1, "text_classification") == ["layers", "top_k"]


def test_model_defaults_fill_only_keys_the_config_left_unset():
    from tunelab.config import load_config
    from tunelab.strategies import with_model_defaults

    unset = with_model_defaults(load_config(base={"strategy": {"name": "contrastive"}}))
    assert unset.model.head.normalize is True
    assert "normalize" in unset.model.head.model_fields_set  # config.yaml records it
    kept = with_model_defaults(
        load_config(
            base={"strategy": {"name": "contrastive"}, "model": {"head": {"normalize": False}}}
        )  # fmt: skip
    )
    assert kept.model.head.normalize is False
    other = load_config(base={"strategy": {"name": "top_k"}})
    assert with_model_defaults(other) is other


def test_model_defaults_skip_keys_the_tasks_model_lacks(monkeypatch):
    """A task whose model section has no such key (a causal LM has no classification
    head) gets nothing preset, and nothing raised."""
    from tunelab.config import load_config
    from tunelab.strategies import strategy_class, with_model_defaults

    defaults = {"head.width": (3, "no such key"), "adapter.rank": (8, "no such section")}
    monkeypatch.setattr(strategy_class("contrastive"), "model_defaults", defaults)
    cfg = load_config(base={"strategy": {"name": "contrastive"}})
    assert with_model_defaults(cfg) is cfg
