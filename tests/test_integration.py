"""Integration: the real all-MiniLM-L6-v2 on the bundled chatterbot topics, a few steps.

Marked ``integration``; still CPU-only and a couple of minutes in all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tunelab
from tunelab.config import load_config

pytestmark = pytest.mark.integration

DEMO = Path(__file__).parents[1] / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def demo_config():
    return load_config(DEMO)


def test_top_k_learns_topics_in_a_few_steps(demo_config, tmp_path):
    cfg = demo_config.model_copy(deep=True)
    cfg.train.epochs, cfg.train.max_steps = 1, 30
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    n_classes = len(result.metrics["test"]["labels"])
    assert result.metrics["steps"] == 30
    assert result.metrics["test"]["accuracy"] > 2.5 / n_classes  # chance is 1/n
    assert result.metrics["trainable_params"] == 2 * 1_774_464 + (384 + 1) * n_classes


def test_feature_extraction_matches_logistic_regression(demo_config, tmp_path):
    """The cached-feature head lands within 2 points of sklearn on the same embeddings."""
    from sklearn.linear_model import LogisticRegression

    from tunelab.tasks.text.data import prepare_text_data
    from tunelab.tasks.text.representation import embed_texts

    cfg = demo_config.with_strategy("feature_extraction")
    cfg.model.head.dropout = 0.0
    cfg.train.epochs, cfg.train.head_lr, cfg.train.batch_size = 40, 5e-3, 32
    cfg.train.early_stopping.enabled = False
    cfg.strategy.head_solver = "adamw"  # the trained head, not the L-BFGS solve
    cfg.strategy.head_epochs = 40  # the epochs this comparison was calibrated with
    cfg.train.class_weights = "none"  # the probe below is unweighted too
    result = tunelab.fine_tune(cfg, tmp_path / "fe")

    splits = prepare_text_data(cfg.data, seed=cfg.data.seed)
    model = tunelab.load(result.run_dir)
    embed = lambda frame: embed_texts(model.model, model.tokenizer, frame["text"].tolist(), 64)  # noqa: E731
    probe = LogisticRegression(max_iter=3000).fit(embed(splits.train), splits.train["label"])
    sklearn_acc = float(np.mean(probe.predict(embed(splits.test)) == splits.test["label"].values))
    print(
        f"feature_extraction {result.metrics['test']['accuracy']:.4f} vs "
        f"LogisticRegression {sklearn_acc:.4f}"
    )
    assert abs(result.metrics["test"]["accuracy"] - sklearn_acc) <= 0.02
