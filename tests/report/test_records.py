"""The records' own lookups: config keys, splits by name, the strategy's name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tunelab.report.loader import load_run
from tunelab.report.records import config_value


def test_config_value_tolerates_missing_levels() -> None:
    config = {"train": {"lr": 5e-5, "early_stopping": {"patience": 3}}}
    assert config_value(config, "train.lr") == 5e-5
    assert config_value(config, "train.early_stopping.patience") == 3
    assert config_value(config, "train.lr.bogus", "x") == "x"
    assert config_value(None, "model.name", "default") == "default"


def test_split_lookup_by_name(run_dir: Path) -> None:
    data = load_run(run_dir).data
    assert data is not None and data.split("train").n == 1204
    assert data.split("unlabelled") is None


def test_strategy_name_falls_back_to_layers_then_config(run_dir: Path) -> None:
    run = load_run(run_dir)
    assert run.strategy == "top_k"  # from metrics.json
    assert run.layers is not None
    unnamed = replace(run, metrics=replace(run.metrics, strategy=None))
    unnamed = replace(unnamed, layers=replace(run.layers, strategy="from_layers"))
    assert unnamed.strategy == "from_layers"
    unnamed = replace(unnamed, layers=None, config={"strategy": {"name": "from_config"}})
    assert unnamed.strategy == "from_config"
    assert replace(unnamed, config=None).strategy == "unknown"
