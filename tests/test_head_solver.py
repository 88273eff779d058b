"""The linear head solved with L-BFGS on cached features (``strategy.head_solver``)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from rich.console import Console

import tunelab
from tunelab.errors import ConfigError
from tunelab.head_solver import linear_head, linear_inputs, solve_linear_head, solver_decision
from tunelab.layers import LayerGroup
from tunelab.models.head import ClassificationHead
from tunelab.tasks.classification import ClassificationTrainConfig, classification_objective

LABELS = ["a", "b", "c"]


def _blobs(
    counts: list[int], seed: int, dim: int = 8, spread: float = 1.5, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Overlapping Gaussian blobs, ``counts[c]`` points of class ``c``."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, scale, (len(counts), dim))
    x = np.concatenate(
        [rng.normal(c, spread, (n, dim)) for c, n in zip(centres, counts, strict=True)]
    )
    y = np.concatenate([np.full(n, i) for i, n in enumerate(counts)])
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def _objective(y: torch.Tensor):
    return classification_objective(LABELS, y.tolist(), ClassificationTrainConfig())


def test_the_solution_is_scikit_learns_balanced_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs([120, 50, 15], seed=0)
    decay = 0.01
    solution = solve_linear_head((x, y), (x, y), _objective(y), 3, decays=(decay,))
    # sklearn minimises |W|^2 / 2 + C * sum(s_i CE_i); with balanced weights sum(s_i) = n,
    # so C = 1 / (decay * n) is the same problem as mean-weighted CE + decay / 2 |W|^2.
    reference = LogisticRegression(C=1 / (decay * len(y)), class_weight="balanced", tol=1e-8)
    reference.fit(x.numpy(), y.numpy())
    ours = (x @ solution.weight.T + solution.bias).softmax(-1).numpy()
    np.testing.assert_allclose(ours, reference.predict_proba(x.numpy()), atol=2e-3)
    assert solution.path[0]["iterations"] > 1


def test_the_penalty_is_chosen_by_the_monitored_validation_metric():
    # few examples, many features: a weak penalty overfits, a strong one underfits
    x, y = _blobs([40, 20, 8], seed=0, dim=40, spread=1.0, scale=0.4)
    val = _blobs([60, 25, 8], seed=1, dim=40, spread=1.0, scale=0.4)
    decays = (10.0, 1.0, 0.1, 0.01, 1e-3, 1e-5)
    solution = solve_linear_head((x, y), val, _objective(y), 3, decays=decays)
    scores = [step["f1_macro"] for step in solution.path]
    assert [step["weight_decay"] for step in solution.path] == list(decays)
    assert solution.weight_decay == decays[scores.index(max(scores))]  # first of ties
    assert solution.metrics["f1_macro"] == max(scores)
    assert solution.weight_decay == 1.0 and min(scores) < max(scores) - 0.05


def test_linear_head_accepts_dropout_plus_linear_only():
    plain, deep = ClassificationHead(16, 3), ClassificationHead(16, 3, hidden_sizes=[8])
    found = linear_head(LayerGroup("head", list(plain.parameters()), [plain]))
    assert found is plain.net[-1]
    assert linear_head(LayerGroup("head", list(deep.parameters()), [deep])) is None


@pytest.mark.parametrize("normalize", [False, True])
def test_the_solve_sees_what_the_linear_layer_sees(normalize):
    """A normalising head's linear layer gets unit rows; the solve must fit on those."""
    head = ClassificationHead(8, 3, dropout=0.5, normalize=normalize).train()
    group = LayerGroup("head", list(head.parameters()), [head])
    x = 3.0 * torch.randn(6, 8)
    inputs = linear_inputs(group, linear_head(group), x)
    expected = torch.nn.functional.normalize(x, dim=-1) if normalize else x
    assert torch.allclose(inputs, expected)  # dropout off: the head as it predicts
    assert head.training  # left in the mode it came in


def test_a_fixed_penalty_says_how_it_was_set():
    x, y = _blobs([20, 20, 20], seed=0)
    solution = solve_linear_head((x, y), (x, y), _objective(y), 3, decays=(0.05,))
    decision = solver_decision(solution, "f1_macro", penalty="= 1 / (C n)")
    assert (
        decision["reason"] == "auto: linear head on cached features; weight decay 0.05 = 1 / (C n)"
    )
    assert "tried" in solver_decision(solution, "f1_macro")["reason"]


def test_a_feature_extraction_run_solves_its_linear_head(tiny_config, tmp_path):
    tiny_config["strategy"] = {"name": "feature_extraction"}
    out = io.StringIO()
    result = tunelab.fine_tune(tiny_config, tmp_path / "run", console=Console(file=out, width=300))
    decision = result.metrics["decisions"]["strategy.head_solver"]
    assert decision["value"] == "lbfgs" and decision["reason"].startswith("auto: linear head")
    assert f"strategy.head_solver: lbfgs ({decision['reason']})" in out.getvalue()
    assert "train.epochs" not in result.metrics["decisions"]  # no epochs to decide
    history = [json.loads(line) for line in (result.run_dir / "history.jsonl").open()]
    chosen = max(decision["path"], key=lambda step: step["f1_macro"])
    assert len(history) == 1 and history[0]["weight_decay"] == decision["weight_decay"]
    # the head the run keeps is the solved one: re-evaluating it gives the chosen score
    assert result.metrics["validation"]["f1_macro"] == pytest.approx(chosen["f1_macro"])
    assert result.metrics["epochs_run"] == 1 and result.metrics["best_epoch"] == 1


def test_lbfgs_refuses_a_head_with_hidden_layers(tiny_config, tmp_path):
    tiny_config["strategy"] = {"name": "feature_extraction", "head_solver": "lbfgs"}
    tiny_config["model"]["head"] = {"hidden_sizes": [8]}
    with pytest.raises(ConfigError, match="head_solver=lbfgs needs a head"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
