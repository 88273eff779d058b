"""Forgetting measured on the sentence encoder's own task: answer retrieval."""

from __future__ import annotations

import numpy as np
import pytest

import tunelab
from tunelab.config import validate_config
from tunelab.tasks.text.old_task import old_task_score, reference_pairs, retrieval_accuracy


def test_retrieval_accuracy_counts_questions_nearest_to_their_own_reply():
    replies = np.eye(4)
    assert retrieval_accuracy(replies + 0.1, replies) == 1.0
    assert retrieval_accuracy(replies[[1, 0, 2, 3]], replies) == 0.5


def test_reference_pairs_are_distinct_seeded_and_bounded():
    pairs = reference_pairs(50)
    if not pairs:
        pytest.skip("chatterbot-corpus is not installed")
    assert len(pairs) == 50 and pairs == reference_pairs(50)
    texts = [t for pair in pairs for t in pair]
    assert len(set(texts)) == len(texts)


def test_old_task_score_of_a_run_compares_the_tuned_encoder_with_the_pretrained(
    tiny_config, tmp_path
):
    if not reference_pairs(20):
        pytest.skip("chatterbot-corpus is not installed")
    config = {**tiny_config, "strategy": {"name": "full"}}
    config["train"] = {**config["train"], "max_steps": 2, "lr": 0.05}
    run = tunelab.fine_tune(config, tmp_path / "run").run_dir
    score = old_task_score(validate_config(config), run, 64)
    assert score["name"] == "answer retrieval top-1" and score["n"] == 64
    assert 0.0 <= score["after"] <= 1.0 and 0.0 <= score["before"] <= 1.0
    untouched = {**config, "strategy": {"name": "feature_extraction"}}
    frozen = tunelab.fine_tune(untouched, tmp_path / "frozen").run_dir
    same = old_task_score(validate_config(untouched), frozen, 64)
    assert same["after"] == pytest.approx(same["before"])  # a frozen encoder forgets nothing
