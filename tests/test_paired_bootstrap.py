import numpy as np
import pytest
import torch

from tunelab.objective import ScoredPass
from tunelab.paired_bootstrap import share_worse
from tunelab.tasks.causal_lm.objective import CausalLMObjective
from tunelab.tasks.classification import ClassificationObjective

LABELS = ["a", "b", "c"]
TRUTH = np.array([0] * 60 + [1] * 30 + [2] * 10)


def _pass(predictions: np.ndarray, truth: np.ndarray = TRUTH) -> ScoredPass:
    outputs = {"predictions": np.asarray(predictions), "targets": truth}
    return ScoredPass(ClassificationObjective(LABELS), outputs)


def _with_errors(count: int, start: int = 90) -> np.ndarray:
    """The truth with ``count`` examples from ``start`` on (the rare class) predicted 0."""
    predictions = TRUTH.copy()
    predictions[start : start + count] = 0
    return predictions


def test_a_clearly_worse_run_is_worse_in_almost_every_resample():
    share = share_worse(_pass(_with_errors(8)), _pass(TRUTH), "max")
    assert share is not None and share > 0.99
    assert share_worse(_pass(TRUTH), _pass(_with_errors(8)), "max") < 0.01


def test_one_example_of_difference_is_not_a_confident_loss():
    # macro-F1 1.0 vs 0.98: a point and more on the full split, which a resample without
    # that one example does not see
    share = share_worse(_pass(_with_errors(1)), _pass(TRUTH), "max")
    assert 0.5 < share < 0.95


def test_identical_passes_tie_on_every_resample():
    assert share_worse(_pass(TRUTH), _pass(TRUTH), "max") == 0.5


def test_the_direction_follows_the_metric_mode():
    worse, best = _pass(_with_errors(8)), _pass(TRUTH)
    assert share_worse(worse, best, "max") + share_worse(worse, best, "min") == pytest.approx(1.0)


def test_the_same_seed_gives_the_same_share():
    first, second = _pass(_with_errors(2)), _pass(_with_errors(1, start=60))
    assert share_worse(first, second, "max", seed=3) == share_worse(first, second, "max", seed=3)


def test_passes_over_different_examples_are_not_paired():
    other = np.roll(TRUTH, 1)
    assert share_worse(_pass(TRUTH), _pass(other, truth=other), "max") is None
    assert share_worse(_pass(TRUTH[:50], truth=TRUTH[:50]), _pass(TRUTH), "max") is None


def test_an_objective_that_cannot_rescore_a_resample_gives_none():
    outputs = {"targets": TRUTH}
    lm = ScoredPass(CausalLMObjective(), outputs)
    assert share_worse(lm, lm, "min") is None


def test_classification_rescores_the_whole_pass_as_evaluate_does():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(TRUTH), 3)).astype(np.float32)
    objective = ClassificationObjective(LABELS)
    batches = [(list(range(len(TRUTH))), torch.from_numpy(logits), torch.from_numpy(TRUTH))]
    scored = objective.evaluate(batches, len(TRUTH))
    rows = np.arange(len(TRUTH))
    assert objective.monitor_on(scored.outputs, rows) == scored.metrics["f1_macro"]
    assert np.array_equal(scored.outputs["targets"], TRUTH)
