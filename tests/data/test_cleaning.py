"""Cleaning: exact counts for each step, label normalisation, class filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunelab.data.cleaning import (
    CleaningCounts,
    CleaningReport,
    cap_classes,
    clean_split,
    find_small_classes,
    normalize_label,
    without_classes,
)
from tunelab.errors import DataError
from tunelab.tasks.text.config import TextDataConfig

# 10 rows: 1 missing label, 1 blank label, 2 missing/blank texts, 2 exact duplicates
# (one only after stripping), 1 text with a conflicting label.
MESSY = pd.DataFrame(
    {
        "sentence": [
            "  Good movie ",  # kept
            "Good movie",  # exact duplicate after stripping
            "Bad movie",  # kept
            "Bad movie",  # exact duplicate
            "bad movie",  # kept (case differs)
            "Bad movie",  # same text, other label: conflict
            None,  # missing text
            "   ",  # blank text
            "no label",  # missing label
            "blank label",  # blank label
        ],
        "y": ["pos", "pos", "neg", "neg", "neg", "pos", "neg", "pos", None, "  "],
    }
)
CFG = TextDataConfig(text_column="sentence", label_column="y")


def test_counts_for_each_step_are_exact():
    rows, counts = clean_split(MESSY, CFG, "data.train (t.csv)")
    assert list(rows.columns) == ["text", "label"]
    assert rows.to_dict("list") == {
        "text": ["Good movie", "Bad movie", "bad movie"],
        "label": ["pos", "neg", "neg"],
    }
    assert rows.index.tolist() == [0, 1, 2]
    assert counts == CleaningCounts(
        rows_read=10,
        dropped_missing_label=2,
        dropped_missing_text=2,
        dropped_duplicates=2,
        conflicting_texts=1,
        dropped_conflicting=1,
    )


def test_fill_keeps_rows_without_text():
    cfg = CFG.model_copy(update={"missing": "fill", "fill_value": "<empty>"})
    rows, counts = clean_split(MESSY, cfg, "data.train (t.csv)")
    assert counts.filled_missing_text == 2
    assert counts.dropped_missing_text == 0
    # The two filled rows now share a text with labels neg and pos: a second conflict.
    assert rows.loc[rows["text"] == "<empty>", "label"].tolist() == ["neg"]
    assert len(rows) == 4
    assert (counts.conflicting_texts, counts.dropped_conflicting) == (2, 2)


def test_lowercase_runs_before_dedupe():
    cfg = CFG.model_copy(update={"lowercase": True})
    rows, counts = clean_split(MESSY, cfg, "data.train (t.csv)")
    assert rows.to_dict("list") == {"text": ["good movie", "bad movie"], "label": ["pos", "neg"]}
    assert counts.dropped_duplicates == 3
    assert counts.dropped_conflicting == 1


def test_without_dedupe_conflicts_are_counted_but_kept():
    cfg = CFG.model_copy(update={"dedupe": False})
    rows, counts = clean_split(MESSY, cfg, "data.train (t.csv)")
    assert len(rows) == 6
    assert (counts.dropped_duplicates, counts.conflicting_texts, counts.dropped_conflicting) == (
        0,
        1,
        0,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (1.0, "1"),
        ("1", "1"),
        ("1.0", "1"),
        (" 2.00 ", "2"),
        (np.float32(3.0), "3"),
        (np.int64(4), "4"),
        (1.5, "1.5"),
        ("v1.0", "v1.0"),
        (True, "True"),
        (float("nan"), None),
        (None, None),
        ("  ", None),
    ],
)
def test_normalize_label(value, expected):
    assert normalize_label(value) == expected


def test_numeric_labels_from_a_column_with_gaps_agree_with_ints():
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": [1.0, np.nan, 2.0]})
    rows, counts = clean_split(frame, TextDataConfig(), "data.train (t.csv)")
    assert rows["label"].tolist() == ["1", "2"]
    assert counts.dropped_missing_label == 1


def test_non_string_texts_become_strings():
    frame = pd.DataFrame({"text": pd.Series([123, 4.5], dtype=object), "label": ["a", "b"]})
    rows, _ = clean_split(frame, TextDataConfig(), "data.train (t.csv)")
    assert rows["text"].tolist() == ["123", "4.5"]


def test_missing_column_lists_the_columns_and_the_setting():
    with pytest.raises(DataError) as err:
        clean_split(
            MESSY, TextDataConfig(text_column="txt", label_column="y"), "data.train (f.csv)"
        )
    assert str(err.value) == (
        "data.train (f.csv): no column 'txt'; columns are: sentence, y; set data.text_column"
    )


def test_missing_label_column_names_label_column_setting():
    with pytest.raises(DataError, match=r"no column 'label'; columns are: sentence, y; set "):
        clean_split(MESSY, TextDataConfig(text_column="sentence"), "data.test (f.csv)")


def test_same_column_for_text_and_label_is_an_error():
    with pytest.raises(DataError, match=r"both 'y'; point them at different columns"):
        clean_split(MESSY, TextDataConfig(text_column="y", label_column="y"), "data.train (f.csv)")


def _pool(sizes: dict[str, int]) -> pd.DataFrame:
    rows = [(f"{label} {i}", label) for label, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["text", "label"])


def test_find_small_classes_and_remove_them():
    pool = _pool({"a": 5, "b": 3, "c": 1})
    small = find_small_classes(pool, min_count=4)
    assert small == {"b": 3, "c": 1}
    kept, removed = without_classes(pool, small)
    assert removed == 4
    assert kept["label"].tolist() == ["a"] * 5
    assert find_small_classes(pool, min_count=0) == {}


def test_cap_classes_is_seeded_and_keeps_file_order():
    pool = _pool({"a": 10, "b": 3})
    capped, original = cap_classes(pool, max_per_class=4, seed=0)
    assert original == {"a": 10}
    assert capped["label"].value_counts().to_dict() == {"a": 4, "b": 3}
    again, _ = cap_classes(pool, max_per_class=4, seed=0)
    pd.testing.assert_frame_equal(capped, again)
    a_numbers = [int(t.split()[1]) for t in capped.loc[capped["label"] == "a", "text"]]
    assert a_numbers == sorted(a_numbers)
    other, _ = cap_classes(pool, max_per_class=4, seed=1)
    assert not other.equals(capped)


def test_cap_none_leaves_rows_alone():
    pool = _pool({"a": 10, "b": 3})
    capped, original = cap_classes(pool, max_per_class=None, seed=0)
    assert original == {}
    assert capped is pool


def test_report_totals_and_summary_block():
    report = CleaningReport(
        by_split={
            "train": CleaningCounts(rows_read=10, dropped_missing_label=2, dropped_missing_text=1),
            "test": CleaningCounts(rows_read=5, dropped_missing_text=1, dropped_duplicates=2),
        },
        dropped_small_classes={"z": 1, "health": 3},
        dropped_small_class_rows=5,
        capped_classes={"tech support": 2100},
    )
    summary = report.to_summary()
    assert summary["dropped_missing"] == 4
    assert summary["dropped_duplicates"] == 2
    assert summary["dropped_small_classes"] == ["health", "z"]
    assert summary["capped_classes"] == {"tech support": 2100}
    assert summary["by_split"]["test"]["rows_read"] == 5
