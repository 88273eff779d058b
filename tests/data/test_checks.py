"""Checks: the errors, the warnings and the summary numbers, on hand-built splits."""

from __future__ import annotations

import pandas as pd
import pytest

from tunelab.data.checks import (
    build_summary,
    class_warnings,
    cleaning_warnings,
    duplicates_across_splits,
    length_histogram,
    length_stats,
    normalize_for_overlap,
    require_classes,
    require_known_labels,
    split_summary,
    text_keys,
)
from tunelab.data.cleaning import CleaningCounts, CleaningReport
from tunelab.errors import DataError


def _frame(texts: list[str], labels: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "label": labels or ["a"] * len(texts)})


def test_normalize_for_overlap():
    assert normalize_for_overlap("  Hello \t  WORLD\n") == "hello world"


def test_duplicates_across_splits_counts_rows_of_the_later_split():
    splits = {
        "train": _frame(["Hello world", "foo", "bar", "Same"]),
        "validation": _frame(["hello   WORLD", "baz", "foo", "qux"]),
        "test": _frame(["foo", "new", "BAZ", "baz", "Hello world"]),
    }
    assert duplicates_across_splits(splits) == {
        "train-validation": 2,  # "hello   WORLD", "foo"
        "train-test": 2,  # "foo", "Hello world"
        "validation-test": 4,  # "foo", "BAZ", "baz", "Hello world"
    }


def test_length_histogram_integer_bins():
    assert length_histogram([3, 5, 12, 40]) == [
        [3, 7, 2],
        [7, 11, 0],
        [11, 15, 1],
        [15, 19, 0],
        [19, 23, 0],
        [23, 27, 0],
        [27, 31, 0],
        [31, 35, 0],
        [35, 39, 0],
        [39, 43, 1],
    ]
    assert length_histogram([5, 5]) == [[5, 6, 2]]


def test_length_stats():
    stats = length_stats(pd.Series(["abc", "abcde", "a" * 12, "a" * 40]))
    assert {k: stats[k] for k in ("min", "p50", "max", "mean")} == {
        "min": 3,
        "p50": 8.5,
        "max": 40,
        "mean": 15.0,
    }
    assert sum(count for _, _, count in stats["hist"]) == 4


def test_split_summary_lists_every_label_in_order():
    summary = split_summary(_frame(["x", "yy", "zz"], ["b", "a", "b"]), ["a", "b", "c"], "t.csv")
    assert summary["n"] == 3
    assert summary["class_counts"] == {"a": 1, "b": 2, "c": 0}
    assert summary["source"] == "t.csv"


def test_class_warnings_small_class_and_imbalance():
    train = _frame([f"t{i}" for i in range(54)], ["big"] * 50 + ["tiny"] * 4)
    assert class_warnings(train) == [
        "class 'tiny' has 4 training examples (< 5): its metrics will be noisy",
        "classes are imbalanced: 'big' has 50 training examples, 'tiny' 4 (12.5x); set "
        "train.class_weights: balanced or cap with data.max_per_class",
    ]


def test_no_class_warnings_for_a_balanced_set():
    assert class_warnings(_frame(["a", "b"] * 5, ["x", "y"] * 5)) == []


def test_cleaning_warnings_name_the_source():
    report = CleaningReport(
        by_split={
            "train": CleaningCounts(conflicting_texts=2, dropped_conflicting=3, replaced_chars=7)
        }
    )
    assert cleaning_warnings(report, {"train": "t.csv"}) == [
        "data.train (t.csv): 2 texts occur with different labels; kept the first label and "
        "dropped 3 rows",
        "data.train (t.csv): 7 undecodable characters were replaced with U+FFFD; the affected "
        "texts may read oddly",
    ]


def test_unseen_label_names_split_file_label_and_count():
    test = _frame(["1", "2", "3", "4"], ["x", "x", "x", "a"])
    with pytest.raises(DataError) as err:
        require_known_labels(test, ["a", "b"], "data.test", "test.csv")
    assert str(err.value) == (
        "data.test (test.csv): label 'x' (3 rows) does not occur in the training data; "
        "remove those rows or add training examples"
    )


def test_several_unseen_labels_are_all_named():
    test = _frame(["1", "2", "3"], ["x", "x", "y"])
    with pytest.raises(DataError, match=r"labels 'x' \(2 rows\), 'y' \(1 row\) do not occur"):
        require_known_labels(test, ["a"], "data.validation", "val.jsonl")


def test_known_labels_pass():
    require_known_labels(_frame(["1"], ["a"]), ["a", "b"], "data.test", "test.csv")


def test_one_class_is_an_error_that_names_min_class_count_when_it_was_the_cause():
    report = CleaningReport(dropped_small_classes={"b": 2, "c": 1})
    with pytest.raises(DataError) as err:
        require_classes(_frame(["1", "2"], ["a", "a"]), "t.csv", report)
    assert str(err.value) == (
        "data.train (t.csv): only class 'a' left after cleaning (data.min_class_count dropped "
        "2 classes); a classifier needs at least 2 classes: check data.label_column and "
        "data.min_class_count"
    )


def test_text_keys_are_the_normalised_texts():
    assert text_keys(_frame(["  Hello \t  WORLD\n", "x"])) == ["hello world", "x"]


def test_build_summary_records_leakage_and_warns_once_per_split_that_lost_rows():
    splits = {
        "train": _frame([f"t{i}" for i in range(10)], ["x", "y"] * 5),
        "validation": _frame(["e", "f"], ["x", "y"]),
        "test": _frame(["g", "h"], ["x", "y"]),
    }
    leakage = {"mode": "drop", "dropped": {"validation": 0, "test": 3}}
    summary = build_summary(splits, ["x", "y"], dict.fromkeys(splits, "s"), CleaningReport(),
                            dict.fromkeys(splits, "s"), leakage)  # fmt: skip
    assert summary["leakage"] == leakage
    assert summary["warnings"] == [
        "data.leakage: drop removed 3 of 5 test texts that also occur in train; test scores "
        "use the other 2"
    ]
