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
