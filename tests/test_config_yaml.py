"""Config YAML: the file, typed ``--set`` overrides, and YAML 1.1's surprises undone."""

from __future__ import annotations

import pytest

from tunelab.config import load_config
from tunelab.config_yaml import apply_overrides, parse_override
from tunelab.errors import ConfigError


def test_an_override_value_reads_as_it_would_in_the_file():
    assert parse_override("train.lr=1e-4") == (["train", "lr"], 1e-4)
    assert parse_override(" model.head.hidden_sizes = [64, 32]") == (
        ["model", "head", "hidden_sizes"],
        [64, 32],
    )
    assert parse_override("data.test=") == (["data", "test"], "")


def test_an_override_inside_a_value_is_refused():
    raw = apply_overrides({}, ["train.early_stopping.patience=2"])
    assert raw == {"train": {"early_stopping": {"patience": 2}}}
    with pytest.raises(ConfigError, match="'lr' is a value, not a section"):
        apply_overrides({"train": {"lr": 1.0}}, ["train.lr.max=2"])


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


def test_yaml_no_and_off_are_the_words_meant():
    cfg = load_config(
        None, ["train.mixed_precision=no", "strategy.name=top_k", "strategy.prefix_cache=off"]
    )
    assert cfg.train.mixed_precision == "no" and cfg.strategy.prefix_cache == "off"


def test_set_value_that_is_not_yaml_and_a_config_that_is_not_utf8(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(None, ["model.name=[unclosed"])
    path = tmp_path / "latin1.yaml"
    path.write_bytes("model:\n  name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
