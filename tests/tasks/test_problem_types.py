"""Multi-label and regression objectives: pure metrics checked by hand, and one short
training run of the tiny BERT through the real trainer with each objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import WORDS, make_texts, step_config, tiny_setup
from tunelab.errors import DataError
from tunelab.strategies import strategy_config
from tunelab.tasks.problem_types import (
    MultiLabelObjective,
    RegressionObjective,
    label_sets,
    multi_hot,
    multilabel_metrics,
    regression_metrics,
    tune_thresholds,
    tuned_metrics,
)
from tunelab.trainer import Trainer


def test_label_sets_from_lists_and_separated_strings():
    values = ["sport, news", ["news"], "", None, float("nan"), "a;b", "x,x , y"]
    assert label_sets(values) == [["sport", "news"], ["news"], [], [], [], ["a;b"], ["x", "y"]]
    assert label_sets(["a;b"], separator=";") == [["a", "b"]]
    assert multi_hot([["b"], ["a", "b"], []], ["a", "b"]).tolist() == [[0, 1], [1, 1], [0, 0]]
    with pytest.raises(DataError, match="example 0: label 'c' is not one of"):
        multi_hot([["c"]], ["a", "b"])


def test_multilabel_metrics_by_hand():
    truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    predicted = np.array([[1, 0], [1, 0], [1, 1], [0, 0]])
    # label a: tp 2, fp 1, fn 0 -> f1 0.8; label b: tp 1, fp 0, fn 1 -> f1 2/3
    # micro: tp 3, fp 1, fn 1 -> precision = recall = f1 = 0.75
    metrics = multilabel_metrics(truth, predicted, ["a", "b"])
    assert metrics["f1_micro"] == pytest.approx(0.75)
    assert metrics["f1_macro"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert metrics["subset_accuracy"] == pytest.approx(0.5)  # rows 0 and 3
    assert metrics["per_label"]["b"]["support"] == 2


def test_thresholds_tuned_on_validation_lift_a_shy_label():
    # label 0: positives score 0.3, negatives 0.1 -> 0.5 misses all; label 1: no positives
    probs = np.array([[0.3, 0.2], [0.3, 0.9], [0.1, 0.1], [0.1, 0.6]])
    truth = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    thresholds = tune_thresholds(probs, truth)
    assert 0.1 < thresholds[0] <= 0.3
    assert thresholds[1] == 0.5
    assert multilabel_metrics(truth, probs >= 0.5, "ab")["per_label"]["a"]["f1"] == 0.0
    assert multilabel_metrics(truth, probs >= thresholds, "ab")["per_label"]["a"]["f1"] == 1.0


def test_regression_metrics_by_hand():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.5, 2.0, 2.5, 5.0])
    metrics = regression_metrics(predicted, truth)
    assert metrics["mse"] == pytest.approx((0.25 + 0 + 0.25 + 1) / 4)
    assert metrics["mae"] == pytest.approx((0.5 + 0 + 0.5 + 1) / 4)
    assert metrics["r2"] == pytest.approx(1 - 1.5 / 5)  # SS_res 1.5, SS_tot 5
    assert metrics["spearman"] == pytest.approx(1.0)  # same order
    assert np.isnan(regression_metrics(np.ones(3), truth[:3])["spearman"])


def _trainer(tiny_model_dir, objective, targets, outputs: int, epochs: int = 8):
    """The tiny BERT under ``full`` with ``outputs`` logits, trained on the keyword texts
    with ``targets`` (one row per text of ``make_texts(8)``), validated on the same."""
    from tunelab.strategies import apply_strategy
    from tunelab.tasks.text.config import TextModelConfig
    from tunelab.tasks.text.model import build_text_classifier

    data = tiny_setup(tiny_model_dir, strategy_config("full")).data  # make_texts(8), tokenized
    data.labels = torch.as_tensor(targets, dtype=torch.float32)
    torch.manual_seed(0)
    model, _, _ = build_text_classifier(TextModelConfig(name=str(tiny_model_dir)), outputs)
    _, groups, plans = apply_strategy(model, strategy_config("full"))
    cfg = step_config(epochs=epochs, lr=3e-3, head_lr=3e-2)
    return Trainer(model, groups, plans, cfg, data, data, objective)


def test_multilabel_objective_trains_the_tiny_bert(tiny_model_dir):
    frame = make_texts(8)
    # two labels per text: its topic, and "has_ball" for the sport words that name a ball game
    balls = {"football", "tennis", "goal", "match"}
    sets = [
        [row.label] + (["ball"] if balls & set(row.text.split()) else [])
        for row in frame.itertuples()
    ]
    labels = [*sorted(WORDS), "ball"]
    objective = MultiLabelObjective(labels)
    trainer = _trainer(tiny_model_dir, objective, multi_hot(sets, labels), len(labels))
    before = trainer.evaluate(trainer.val_data)
    trainer.fit()
    after = trainer.evaluate(trainer.val_data)
    assert after.metrics["loss"] < before.metrics["loss"]
    assert after.metrics["f1_micro"] > before.metrics["f1_micro"]
    assert after.outputs["probabilities"].shape == (len(frame), len(labels))
    tuned = tuned_metrics(labels, after, after)
    assert set(tuned["thresholds"]) == set(labels)
    assert tuned["test"]["f1_micro_tuned"] >= after.metrics["f1_micro"]  # tuned on itself


def test_regression_objective_trains_the_tiny_bert(tiny_model_dir):
    frame = make_texts(8)
    score = {"food": 10.0, "sport": 20.0, "tech": 40.0}  # units far from the head's scale
    targets = [score[label] for label in frame["label"]]
    objective = RegressionObjective.from_targets(targets)
    assert (objective.mean, objective.std) == pytest.approx((np.mean(targets), np.std(targets)))
    trainer = _trainer(tiny_model_dir, objective, targets, 1)
    before = trainer.evaluate(trainer.val_data).metrics
    trainer.fit()
    after = trainer.evaluate(trainer.val_data)
    assert after.metrics["mse"] < before["mse"] and after.metrics["r2"] > before["r2"]
    assert after.metrics["loss"] == pytest.approx(after.metrics["mse"] / objective.std**2)
    assert after.outputs["predictions"].shape == (len(frame),)


# ------------------------------------------------------------------ text runs, end to end
def _texts_with_targets(tmp_path, kind: str):
    """The keyword texts with a label set ("sport,ball") or a number per text, as a CSV."""
    frame = make_texts(30)
    balls = {"football", "tennis", "goal", "match"}
    if kind == "multi_label":
        frame["label"] = [
            row.label + ",ball" * bool(balls & set(row.text.split())) for row in frame.itertuples()
        ]
    else:
        frame["label"] = frame["label"].map({"food": 10.0, "sport": 20.0, "tech": 40.0})
    path = tmp_path / f"{kind}.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_multi_label_text_run_tunes_thresholds_and_predicts_label_sets(tiny_config, tmp_path):
    import json

    import tunelab

    tiny_config["data"].update(train=str(_texts_with_targets(tmp_path, "multi_label")))
    tiny_config["data"]["problem_type"] = "multi_label"
    tiny_config["strategy"] = {"name": "full"}
    tiny_config["train"]["epochs"] = 4
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert result.config.train.early_stopping.metric == "f1_micro"
    test = result.metrics["test"]
    assert {"f1_micro", "f1_macro", "subset_accuracy", "f1_micro_tuned"} <= set(test)
    assert set(result.metrics["thresholds"]) == {"ball", "food", "sport", "tech"}
    card = json.loads((result.run_dir / "model" / "tunelab_model.json").read_text())
    assert card["problem_type"] == "multi_label"
    assert card["thresholds"] == result.metrics["thresholds"]
    (first,) = tunelab.load(result.run_dir).predict(["football match with the team"])
    assert set(first.probabilities) == {"ball", "food", "sport", "tech"}
    assert first.labels == [
        label for label, p in first.probabilities.items() if p >= card["thresholds"][label]
    ]


def test_a_regression_text_run_scores_r2_and_predicts_values(tiny_config, tmp_path):
    import tunelab

    tiny_config["data"].update(train=str(_texts_with_targets(tmp_path, "regression")))
    tiny_config["data"]["problem_type"] = "regression"
    tiny_config["strategy"] = {"name": "full"}
    tiny_config["train"]["epochs"] = 4
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert result.config.train.early_stopping.metric == "r2"
    assert {"r2", "mse", "mae", "spearman"} <= set(result.metrics["test"])
    assert result.metrics["test"]["r2"] > 0.0  # better than predicting the mean
    values = tunelab.load(result.run_dir).predict(["pizza and pasta", "the router and wifi"])
    assert all(isinstance(v.value, float) for v in values)
    assert values[1].value > values[0].value  # tech (40) above food (10)


def test_a_regression_target_that_is_not_a_number_is_one_line(tiny_config, tmp_path):
    import tunelab
    from tunelab.errors import DataError

    tiny_config["data"]["problem_type"] = "regression"  # labels are words: food, sport ...
    with pytest.raises(DataError, match=r"column 'label' row 1 is '\w+', not a number"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_class_only_settings_are_refused_for_other_problem_types(tiny_config, tmp_path):
    import tunelab
    from tunelab.errors import ConfigError

    tiny_config["data"]["problem_type"] = "multi_label"
    tiny_config["train"]["label_smoothing"] = 0.1
    with pytest.raises(ConfigError, match=r"^train.label_smoothing applies to single-label"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
