"""``compare --train-sizes``: seeded per-class subsets, the curve, its sentence."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

import tunelab
from tunelab.errors import ConfigError
from tunelab.learning_curve import (
    CURVE_FILE,
    compare_train_sizes,
    parse_train_sizes,
    per_class_indices,
    reach_sentence,
)


def test_sizes_parse_sorted_with_all_last():
    assert parse_train_sizes("32, all,8,16,8") == [8, 16, 32, None]
    for bad in ("0", "eight", "8,-1", " , "):
        with pytest.raises(ConfigError, match="--train-sizes"):
            parse_train_sizes(bad)


def test_subsets_are_seeded_per_class_and_nested():
    labels = ["a"] * 30 + ["b"] * 10 + ["c"] * 3
    small, large = per_class_indices(labels, 4, seed=7), per_class_indices(labels, 8, seed=7)
    assert [sum(labels[i] == c for i in small) for c in "abc"] == [4, 4, 3]
    assert [sum(labels[i] == c for i in large) for c in "abc"] == [8, 8, 3]
    assert set(small) <= set(large)  # a curve adds examples, it does not swap them
    assert small == per_class_indices(labels, 4, seed=7)
    assert small != per_class_indices(labels, 4, seed=8)


def test_the_sentence_names_the_smallest_size_reaching_ninety_percent():
    points = [
        {"per_class": 8, "test": 0.40},
        {"per_class": 32, "test": 0.56},
        {"per_class": 16, "test": 0.50},
        {"per_class": None, "test": 0.60},
    ]
    assert reach_sentence("top_k", points, "macro-F1") == (
        "top_k reaches 90% of its full-data macro-F1 (0.6000) with 32 examples per class (0.5600)"
    )
    short = [p for p in points if p["per_class"] in (8, None)]
    assert reach_sentence("full", short, "macro-F1") == (
        "full needs more than 8 examples per class to reach 90% of its full-data macro-F1"
    )


def test_a_run_trains_on_the_subset_only(tiny_config, tmp_path):
    tiny_config["data"]["train_per_class"] = 4  # 3 classes: 12 examples, 2 batches of 8
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert result.metrics["steps"] == 2 * tiny_config["train"]["epochs"]
    weights = result.metrics["decisions"]["train.class_weights"]
    assert weights["imbalance"] == 1.0
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    train = summary["splits"]["train"]  # what trained, and what it was cut from
    assert train["n"] == 12 and set(train["class_counts"].values()) == {4}
    assert train["subset_of"] == len(_whole_train_split(tiny_config)) > 12
    assert sum("has 4 training examples" in w for w in summary["warnings"]) == 3


def _whole_train_split(config: dict):
    from tunelab.config import load_config
    from tunelab.tasks import get_task

    cfg = load_config(base={**config, "data": {**config["data"], "train_per_class": None}})
    return get_task(cfg.task).prepare_data(cfg).train


def test_auto_sees_the_subset_it_will_train_on(tiny_config, tmp_path):
    """Not the whole training split: 4 texts a class is few-label data (rule 1)."""
    tiny_config["data"]["train_per_class"] = 4
    tiny_config["strategy"] = {"name": "auto"}
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    decision = result.metrics["decisions"]["strategy.name"]
    assert decision["data"]["examples"] == 12 and decision["data"]["largest_class"] == 4
    assert decision["reason"].startswith("12 examples, 3 classes, smallest 4")


def test_compare_writes_the_curve_and_the_report_plots_it(tiny_config, tmp_path):
    from tunelab.config import load_config
    from tunelab.report.decision_sections import decision_sections
    from tunelab.report.loader import load_run

    cfg = load_config(base=tiny_config)
    out = tmp_path / "cmp"
    result = compare_train_sizes(
        cfg, ["feature_extraction"], [4, None], 1, out, Console(quiet=True), report=False
    )
    curve = json.loads((out / CURVE_FILE).read_text())
    points = curve["curves"]["feature_extraction"]
    assert [p["per_class"] for p in points] == [4, None]
    assert curve["monitor"] == "f1_macro" and curve["label"] == "macro-F1"
    assert curve["sentences"]["feature_extraction"].startswith("feature_extraction ")
    assert (out / "size-4" / "summary.json").is_file() and result.output_dir == out
    run = load_run(out / "runs" / "feature_extraction-seed0")
    titles = [s.title for s in decision_sections(run)]
    assert "Learning curve" in titles
