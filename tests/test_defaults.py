"""Defaults that adapt to the data: ``class_weights: auto`` and the feature-extraction
head trained to convergence; each decision is printed and recorded in metrics.json."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from rich.console import Console

import tunelab
from tests.conftest import make_texts
from tunelab.config import load_config
from tunelab.errors import ConfigError
from tunelab.strategies import create_strategy, strategy_config
from tunelab.tasks.classification import (
    AUTO_IMBALANCE_THRESHOLD,
    ClassificationTrainConfig,
    class_weights_decision,
    classification_objective,
)

LABELS = ["neg", "neu", "pos"]


def _targets(counts: list[int]) -> list[int]:
    return [label for label, n in enumerate(counts) for _ in range(n)]


def test_auto_is_the_default_and_null_still_means_none():
    assert ClassificationTrainConfig().class_weights == "auto"
    assert ClassificationTrainConfig(class_weights=None).class_weights == "none"
    assert load_config(overrides=["train.class_weights=null"]).train.class_weights == "none"
    with pytest.raises(ConfigError, match="train.class_weights"):
        load_config(overrides=["train.class_weights=inverse"])


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([384, 162, 54], "balanced"),  # 64 / 27 / 9 %: 7.1x
        ([100, 100, 100], "none"),
        ([200, 150, 100], "none"),  # exactly the threshold is not "more than"
        ([201, 150, 100], "balanced"),
    ],
)
def test_auto_weights_when_the_imbalance_passes_the_threshold(counts, expected):
    assert AUTO_IMBALANCE_THRESHOLD == 2.0
    objective = classification_objective(LABELS, _targets(counts), ClassificationTrainConfig())
    decision = objective.decisions["train.class_weights"]
    assert decision["value"] == expected
    assert decision["imbalance"] == pytest.approx(max(counts) / min(counts), abs=1e-4)
    assert (objective.class_weights is not None) == (expected == "balanced")


def test_balanced_decision_records_ratio_threshold_and_weights():
    objective = classification_objective(
        LABELS, _targets([384, 162, 54]), ClassificationTrainConfig()
    )
    decision = objective.decisions["train.class_weights"]
    assert decision["reason"] == "auto: imbalance 7.1x > 2"
    assert decision["threshold"] == 2.0
    assert (decision["largest_class"], decision["smallest_class"]) == ("neg", "pos")
    # n / (k * count): 600 / (3 * 54) for the smallest class
    assert decision["weights"] == pytest.approx(
        {"neg": 0.5208, "neu": 1.2346, "pos": 3.7037}, abs=1e-4
    )


def test_explicit_settings_win_over_the_ratio():
    skewed, even = _targets([384, 162, 54]), _targets([10, 10, 10])
    off = classification_objective(LABELS, skewed, ClassificationTrainConfig(class_weights="none"))
    on = classification_objective(LABELS, even, ClassificationTrainConfig(class_weights="balanced"))
    assert off.class_weights is None and off.decisions["train.class_weights"]["value"] == "none"
    assert on.decisions["train.class_weights"]["reason"] == "set in config; imbalance 1.0x"
    assert on.class_weights.tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_a_class_missing_from_train_does_not_divide_by_zero():
    decision = class_weights_decision("auto", [30, 0, 10], LABELS)
    assert (decision["value"], decision["imbalance"]) == ("balanced", 3.0)


def test_feature_extraction_trains_its_head_to_convergence():
    train = ClassificationTrainConfig(epochs=3)
    adjusted = create_strategy(strategy_config("feature_extraction")).adjust_train(train)
    assert (adjusted.epochs, adjusted.early_stopping.patience) == (100, 10)
    assert (train.epochs, train.early_stopping.patience) == (3, 3)  # a copy, not a change
    patient = ClassificationTrainConfig(early_stopping={"patience": 25})
    fe = create_strategy(strategy_config("feature_extraction", head_epochs=7))
    assert (fe.adjust_train(patient).epochs, fe.adjust_train(patient).early_stopping.patience) == (
        7,
        25,
    )


def test_other_strategies_keep_the_train_section():
    train = ClassificationTrainConfig(epochs=3)
    assert create_strategy(strategy_config("top_k")).adjust_train(train) is train


def _imbalanced_csv(tmp_path) -> str:
    sizes = {"food": 40, "sport": 12, "tech": 8}
    frames = [make_texts(n, seed=1).query("label == @label").head(n) for label, n in sizes.items()]
    path = tmp_path / "skewed.csv"
    pd.concat(frames).to_csv(path, index=False)
    return str(path)


def test_run_prints_and_records_each_decision(tiny_config, tmp_path):
    tiny_config["data"]["train"] = _imbalanced_csv(tmp_path)
    tiny_config["strategy"] = {
        "name": "feature_extraction",
        "head_solver": "adamw",
        "head_epochs": 4,
    }
    out = io.StringIO()
    result = tunelab.fine_tune(tiny_config, tmp_path / "run", console=Console(file=out, width=200))
    printed = out.getvalue()
    decisions = json.loads((result.run_dir / "metrics.json").read_text())["decisions"]
    class_weights = decisions["train.class_weights"]
    assert class_weights["value"] == "balanced"
    assert f"train.class_weights: balanced ({class_weights['reason']})" in printed
    assert class_weights["reason"].startswith("auto: imbalance ")
    assert decisions["train.epochs"] == {
        "value": 4,
        "reason": "strategy feature_extraction; config says 2",
    }
    assert "train.epochs: 4 (strategy feature_extraction; config says 2)" in printed
    assert decisions["train.early_stopping.patience"]["value"] == 10
    assert result.metrics["epochs_run"] == 4
    # config.yaml keeps what the user asked for, so --resume compares like with like
    assert load_config(result.run_dir / "config.yaml").train.epochs == 2


def test_balanced_data_runs_unweighted(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert result.metrics["decisions"]["train.class_weights"]["value"] == "none"
    assert "train.epochs" not in result.metrics["decisions"]  # top_k keeps train.epochs
