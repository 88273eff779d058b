"""Representativeness checks: missing classes, class-share divergence, input-size shift,
on hand-built labels and on the text task's real splits and hooks."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from tunelab.config import load_config
from tunelab.data.representative import (
    add_representativeness,
    class_shares,
    missing_class_warning,
    share_divergence,
    share_warning,
    size_shift,
    size_warning,
)
from tunelab.tasks import get_task


def test_class_shares_in_class_order_with_absent_classes():
    assert class_shares(["a", "b", "b", "b"], ["a", "b", "c"]) == {"a": 0.25, "b": 0.75, "c": 0.0}


def test_share_divergence_total_variation_and_chi_square():
    result = share_divergence(["a"] * 50 + ["b"] * 50, ["a"] * 40 + ["b"] * 10)
    assert result["tv"] == 0.3
    # observed (40, 10) against expected (25, 25): chi2 = 2 * 15^2 / 25 = 18, 1 dof
    assert result["p"] == pytest.approx(stats.chi2.sf(18.0, 1))
    assert result["train"] == {"a": 0.5, "b": 0.5} and result["split"] == {"a": 0.8, "b": 0.2}


def test_share_warning_prints_both_shares():
    result = share_divergence(["a"] * 50 + ["b"] * 50, ["a"] * 40 + ["b"] * 10)
    assert share_warning("test", result) == (
        "class shares differ between train and test (total variation 0.30, chi-square "
        "p=2.2e-05): train a 50%, b 50%; test a 80%, b 20%; test scores weight classes "
        "unlike training: check how test was sampled, or let tunelab split it off train"
    )


def test_a_small_split_with_the_same_gap_is_not_flagged():
    """TV 0.3 on 5 examples is sampling noise: chi-square p = 0.18."""
    result = share_divergence(["a"] * 50 + ["b"] * 50, ["a"] * 4 + ["b"] * 1)
    assert result["tv"] == 0.3 and result["p"] == pytest.approx(stats.chi2.sf(1.8, 1))
    assert share_warning("validation", result) is None


def test_matching_shares_are_not_flagged():
    result = share_divergence(["a"] * 60 + ["b"] * 40, ["a"] * 30 + ["b"] * 20)
    assert result["tv"] == 0.0 and share_warning("test", result) is None


def test_missing_class_warning_names_classes_and_train_counts():
    train = ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    assert missing_class_warning("validation", train, ["a", "a"]) == (
        "validation has no example of classes 'b' (3 in train), 'c' (2 in train): its "
        "validation scores say nothing about them; add validation examples of them"
    )
    assert missing_class_warning("test", train, ["a", "b", "c"]) is None


def test_size_shift_ks_and_medians():
    train, other = [float(n) for n in range(10, 30)], [float(n) for n in range(100, 120)]
    result = size_shift(train, other)
    assert result["ks"] == 1.0 and result["p"] < 1e-6
    assert (result["train_median"], result["split_median"]) == (19.5, 109.5)
    assert size_warning("test", "characters", "texts", result) == (
        "test texts differ from train in characters: median 109.5 vs 19.5 in train "
        f"(Kolmogorov-Smirnov 1.00, p={result['p']:.2g}); test scores may not hold for the "
        "inputs training saw"
    )


def test_same_size_distribution_is_not_flagged():
    values = [float(n % 17) for n in range(200)]
    result = size_shift(values, values[::2])
    assert result["ks"] < 0.1 and size_warning("test", "words", "texts", result) is None


def _write(path, texts, labels) -> str:
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return str(path)


def test_text_task_hooks_feed_the_checks(tmp_path):
    """Train: short texts of a/b/c; test: long texts, no 'c', shares 80/20 of a/b."""
    train = _write(
        tmp_path / "train.csv",
        [f"short {i}" for i in range(60)],
        ["a"] * 20 + ["b"] * 20 + ["c"] * 20,
    )
    long_text = "a much longer text that keeps going for many more words than train"
    test = _write(
        tmp_path / "test.csv", [f"{long_text} {i}" for i in range(40)], ["a"] * 32 + ["b"] * 8
    )
    cfg = load_config(base={"data": {"train": train, "test": test, "val_fraction": 0.25}})
    task = get_task("text_classification")
    splits = task.prepare_data(cfg)
    assert task.input_sizes(splits, "test")["words"] == [14] * 40
    added = add_representativeness(task, splits)

    test_report = splits.summary["representativeness"]["test"]
    assert test_report["missing_classes"] == ["c"]
    assert test_report["class_shares"]["split"] == {"a": 0.8, "b": 0.2, "c": 0.0}
    assert test_report["input_sizes"]["words"]["ks"] == 1.0
    assert "validation" in splits.summary["representativeness"]  # split off train: no warning
    # TV = (0.8 - 1/3 + 1/3 - 0.2 + 1/3) / 2 = 0.47; observed (32, 8, 0) vs 40/3 each:
    # chi2 = (18.67^2 + 5.33^2 + 13.33^2) / 13.33 = 41.6, 2 dof, p = 9.3e-10
    assert [w.split(":")[0] for w in added] == [
        "test has no example of class 'c' (15 in train)",
        "class shares differ between train and test (total variation 0.47, chi-square p=9.3e-10)",
        "test texts differ from train in characters",
        "test texts differ from train in words",
    ]
    assert splits.warnings[-4:] == added and splits.summary["warnings"] is splits.warnings
