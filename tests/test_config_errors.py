"""A config that fails validation: one line naming the key, its reader and the likely key."""

from __future__ import annotations

import re

import pytest

from tunelab.config import load_config
from tunelab.errors import ConfigError


def test_unknown_key_is_an_error_naming_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'train.lr_rate'"):
        load_config(path)


def test_bad_value_type_names_key_and_value():
    with pytest.raises(ConfigError, match=r"train.lr: .*'abc'"):
        load_config(None, ["train.lr=abc"])


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


def test_a_top_level_section_of_another_task_names_that_task():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["forecast.horizon=3"])
    assert "not a key of the config (section 'forecast' is read by task forecasting" in str(
        err.value
    )
