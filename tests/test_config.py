"""Config validation, overrides, and every YAML in configs/ (torchtune style)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunelab.config import Config, load_config
from tunelab.errors import ConfigError

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates_and_names_its_command(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert "tunelab " in path.read_text().split("\n\n")[0], "header must show the launch command"


def test_overrides_are_typed():
    cfg = load_config(
        None,
        [
            "train.lr=1e-4",
            "train.epochs=7",
            "model.head.hidden_sizes=[64, 32]",
            "train.max_steps=null",
            "strategy.name=lora",
        ],
    )
    assert cfg.train.lr == 1e-4 and cfg.train.epochs == 7
    assert cfg.model.head.hidden_sizes == [64, 32]
    assert cfg.train.max_steps is None and cfg.strategy.name == "lora"


def test_unknown_key_is_an_error_naming_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'train.lr_rate'"):
        load_config(path)


def test_bad_value_type_names_key_and_value():
    with pytest.raises(ConfigError, match=r"train.lr: .*'abc'"):
        load_config(None, ["train.lr=abc"])


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="strategy.name"):
        load_config(None, ["strategy.name=magic"])


def test_override_without_equals_sign():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, ["train.lr"])


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  lr: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [
        ("train.epoch=3", "did you mean 'train.epochs'?"),
        ("model.head.drop=0.1", "did you mean 'model.head.dropout'?"),
        ("trian.epochs=3", "did you mean 'train'?"),
    ],
)
def test_misspelt_key_suggests_the_valid_one(override, suggestion):
    with pytest.raises(ConfigError, match=re.escape(suggestion)):
        load_config(None, [override])


def test_unrelated_unknown_key_suggests_nothing():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["train.zzz=1"])
    assert "did you mean" not in str(err.value)


@pytest.mark.parametrize(
    ("override", "owner"),
    [
        ("data.augment.hflip=0.2", "the data section of task 'text_classification'"),
        ("model.image_size=64", "the model section of task 'text_classification'"),
        ("strategy.k=2", "strategy 'full'"),
        ("strategy.lr_decay=0.5", "strategy 'full'"),
    ],
)
def test_a_key_the_task_or_strategy_does_not_read_is_an_error(override, owner):
    with pytest.raises(ConfigError, match=re.escape(owner)):
        load_config(None, ["strategy.name=full", override])


def test_each_strategy_reads_its_own_keys():
    assert load_config(None, ["strategy.name=top_k", "strategy.k=3"]).strategy.k == 3
    gradual = load_config(
        None, ["strategy.name=gradual_unfreeze", "strategy.unfreeze_every_steps=5"]
    )
    assert gradual.strategy.unfreeze_every_steps == 5
    image = load_config(None, ["task=image_classification", "data.augment.hflip=0.2"])
    assert image.data.augment.hflip == 0.2 and image.model.name == "efficientnet_lite0"


def test_yaml_no_and_off_are_the_words_meant():
    cfg = load_config(
        None, ["train.mixed_precision=no", "strategy.name=top_k", "strategy.prefix_cache=off"]
    )
    assert cfg.train.mixed_precision == "no" and cfg.strategy.prefix_cache == "off"


def test_early_stopping_metric_is_checked_at_load_and_defaults_to_the_tasks():
    cfg = load_config(None)
    assert (cfg.train.early_stopping.metric, cfg.train.early_stopping.mode) == ("f1_macro", "max")
    loss = load_config(None, ["train.early_stopping.metric=loss"]).train.early_stopping
    assert loss.mode == "min"
    with pytest.raises(ConfigError, match="'perplexity' is not a metric of task"):
        load_config(None, ["train.early_stopping.metric=perplexity"])


def test_task_names_come_from_the_registry():
    from tunelab.tasks import task_names

    with pytest.raises(ConfigError, match=f"one of {', '.join(task_names())}$"):
        load_config(None, ["task=speech"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.seed=-1", "train.seed"),
        ("train.seed=1180591620717411303424", "train.seed"),
        ("train.head_lr=.inf", "finite"),
    ],
)
def test_values_out_of_range_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_set_value_that_is_not_yaml_and_a_config_that_is_not_utf8(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(None, ["model.name=[unclosed"])
    path = tmp_path / "latin1.yaml"
    path.write_bytes("model:\n  name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_switching_strategy_keeps_only_what_the_new_one_reads():
    cfg = load_config(None, ["strategy.name=top_k", "strategy.k=1", "strategy.cache_dir=/tmp/c"])
    full = cfg.with_strategy("full")
    assert full.strategy.name == "full" and full.strategy.cache_dir == "/tmp/c"
    assert "k" not in full.strategy.model_dump()


def test_docs_list_every_key_of_every_task_and_strategy():
    from pydantic import BaseModel

    from tunelab.strategies import strategy_config_class, strategy_names
    from tunelab.tasks import all_tasks

    def keys(cls, prefix):
        for name, field in cls.model_fields.items():
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                yield from keys(sub, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    doc = (Path(__file__).parents[1] / "docs" / "config.md").read_text()
    sections = []
    for task in all_tasks():
        own = task.sections()
        sections += [(own.model, "model."), (own.data, "data."), (own.train, "train.")]
        sections += [(cls, f"{name}.") for name, cls in own.extra.items()]
    sections += [(strategy_config_class(n), "strategy.") for n in strategy_names()]
    missing = [k for cls, prefix in sections for k in keys(cls, prefix) if f"`{k}`" not in doc]
    assert not missing, f"docs/config.md lacks {missing[:5]}"
