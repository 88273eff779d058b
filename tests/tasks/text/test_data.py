"""prepare_text_data end to end on small files: splits, filters, errors and the summary."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tunelab.errors import DataError
from tunelab.tasks.text.config import TextDataConfig
from tunelab.tasks.text.data import TextSplits, prepare_text_data


def _rows(sizes: dict[str, int], prefix: str = "") -> list[tuple[str, str]]:
    return [(f"{prefix}{label} text {i}", label) for label, n in sizes.items() for i in range(n)]


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    return frame["label"].value_counts().to_dict()


@pytest.fixture
def three_files(write_rows):
    train = _rows({"a": 20, "b": 10}) + [("a text 0", "a"), ("", "b"), ("orphan", None)]
    validation = _rows({"a": 4, "b": 2}, prefix="v ") + [("A  TEXT 1", "a")]
    test = _rows({"a": 3, "b": 3}, prefix="t ") + [("a text 2", "a"), ("v b text 0", "b")]
    return (
        write_rows("train.csv", train),
        write_rows("val.csv", validation),
        write_rows("test.csv", test),
    )


def test_given_files_are_cleaned_checked_and_summarised(three_files):
    train, validation, test = three_files
    splits = prepare_text_data(
        TextDataConfig(train=train, validation=validation, test=test), seed=0
    )
    assert isinstance(splits, TextSplits)
    assert splits.labels == ["a", "b"]
    for frame in (splits.train, splits.validation, splits.test):
        assert list(frame.columns) == ["text", "label"]
        assert frame.index.tolist() == list(range(len(frame)))
        assert all(isinstance(label, str) for label in frame["label"])
    assert (_counts(splits.train), _counts(splits.validation), _counts(splits.test)) == (
        {"a": 20, "b": 10},
        {"a": 5, "b": 2},
        {"a": 4, "b": 4},
    )
    summary = splits.summary
    assert json.loads(json.dumps(summary)) == summary
    assert summary["labels"] == ["a", "b"]
    assert summary["splits"]["validation"]["n"] == 7
    assert summary["splits"]["test"]["class_counts"] == {"a": 4, "b": 4}
    assert summary["duplicates_across_splits"] == {
        "train-validation": 1,  # "A  TEXT 1"
        "train-test": 1,  # "a text 2"
        "validation-test": 1,  # "v b text 0"
    }
    cleaning = summary["cleaning"]
    assert (cleaning["dropped_missing"], cleaning["dropped_duplicates"]) == (2, 1)
    assert cleaning["by_split"]["train"]["rows_read"] == 33
    assert splits.warnings == summary["warnings"]
    assert splits.warnings == [
        "1 of 7 validation texts also occur in train (ignoring case and spacing): they leak "
        "and inflate validation scores; set data.leakage: drop, or remove them from one of "
        "the files",
        "1 of 8 test texts also occur in train (ignoring case and spacing): they leak and "
        "inflate test scores; set data.leakage: drop, or remove them from one of the files",
    ]


def test_missing_splits_come_from_train_with_fractions_of_the_whole(write_rows):
    train = write_rows("train.csv", _rows({"a": 60, "b": 30, "c": 10}))
    splits = prepare_text_data(TextDataConfig(train=train, val_fraction=0.1, test_fraction=0.2), 0)
    assert (_counts(splits.train), _counts(splits.validation), _counts(splits.test)) == (
        {"a": 42, "b": 21, "c": 7},
        {"a": 6, "b": 3, "c": 1},
        {"a": 12, "b": 6, "c": 2},
    )
    assert splits.summary["splits"]["test"]["source"] == (
        "split from data.train (test_fraction 0.2)"
    )
    assert splits.summary["duplicates_across_splits"] == {
        "train-validation": 0,
        "train-test": 0,
        "validation-test": 0,
    }


def test_same_seed_same_splits(write_rows):
    cfg = TextDataConfig(train=write_rows("train.csv", _rows({"a": 30, "b": 30})))
    first, again = prepare_text_data(cfg, seed=3), prepare_text_data(cfg, seed=3)
    pd.testing.assert_frame_equal(first.test, again.test)
    assert first.summary == again.summary


def test_min_class_count_drops_the_class_from_every_split(write_rows):
    train = write_rows("train.csv", _rows({"a": 20, "b": 20, "tiny": 3}))
    test = write_rows("test.csv", _rows({"a": 2, "tiny": 2}, prefix="t "))
    splits = prepare_text_data(TextDataConfig(train=train, test=test, min_class_count=5), seed=0)
    assert splits.labels == ["a", "b"]
    assert _counts(splits.test) == {"a": 2}
    assert splits.summary["cleaning"]["dropped_small_classes"] == ["tiny"]
    assert splits.summary["cleaning"]["dropped_small_class_rows"] == 5


def test_max_per_class_caps_the_pool_before_splitting(write_rows):
    train = write_rows("train.csv", _rows({"a": 100, "b": 20}))
    cfg = TextDataConfig(train=train, max_per_class=50, val_fraction=0.1, test_fraction=0.1)
    splits = prepare_text_data(cfg, seed=0)
    total_a = sum(_counts(f)["a"] for f in (splits.train, splits.validation, splits.test))
    assert total_a == 50  # capped across all derived splits together
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (56, 7, 7)
    assert splits.summary["cleaning"]["capped_classes"] == {"a": 100}


def test_max_per_class_never_caps_given_evaluation_files(write_rows):
    train = write_rows("train.csv", _rows({"a": 30, "b": 10}))
    test = write_rows("test.csv", _rows({"a": 20, "b": 2}, prefix="t "))
    splits = prepare_text_data(TextDataConfig(train=train, test=test, max_per_class=10), seed=0)
    assert _counts(splits.test) == {"a": 20, "b": 2}
    assert len(splits.train) + len(splits.validation) == 20


def test_int_and_float_labels_in_different_files_agree(write_rows, write_file):
    train = write_rows("train.csv", [(f"t{i}", i % 2) for i in range(20)])
    test = write_file("test.jsonl", '{"text": "x", "label": 1.0}\n{"text": "y", "label": "0"}\n')
    splits = prepare_text_data(TextDataConfig(train=train, test=test), seed=0)
    assert splits.labels == ["0", "1"]
    assert splits.test["label"].tolist() == ["1", "0"]


def test_unseen_test_label_is_an_error(write_rows):
    train = write_rows("train.csv", _rows({"a": 10, "b": 10}))
    test = write_rows("test.csv", _rows({"a": 2, "x": 3}, prefix="t "))
    with pytest.raises(DataError) as err:
        prepare_text_data(TextDataConfig(train=train, test=test), seed=0)
    assert str(err.value) == (
        f"data.test ({test}): label 'x' (3 rows) does not occur in the training data; remove "
        "those rows or add training examples"
    )


def test_one_class_is_an_error(write_rows):
    train = write_rows("train.csv", _rows({"a": 10}))
    with pytest.raises(DataError, match=r"only class 'a' left after cleaning; a classifier"):
        prepare_text_data(TextDataConfig(train=train), seed=0)


def test_evaluation_file_emptied_by_cleaning_is_an_error(write_rows):
    train = write_rows("train.csv", _rows({"a": 10, "b": 10}))
    test = write_rows("test.csv", [("x", None), ("", "a")])
    with pytest.raises(DataError, match=r"^data\.test \(.*test\.csv\): no rows left after clean"):
        prepare_text_data(TextDataConfig(train=train, test=test), seed=0)


def test_missing_column_in_the_validation_file(write_rows):
    train = write_rows("train.csv", _rows({"a": 10, "b": 10}))
    validation = write_rows("val.csv", [("x", "a")], columns=("sentence", "label"))
    with pytest.raises(DataError) as err:
        prepare_text_data(TextDataConfig(train=train, validation=validation), seed=0)
    assert str(err.value) == (
        f"data.validation ({validation}): no column 'text'; columns are: sentence, label; "
        "set data.text_column"
    )


def test_train_must_be_set():
    with pytest.raises(DataError, match=r"^data\.train is not set; set it to a file, hf:DIR"):
        prepare_text_data(TextDataConfig(), seed=0)


def test_bad_bytes_error_names_the_split_and_replace_mode_warns(write_file):
    rows = "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(20))
    path = write_file("train.csv", b"text,label\n" + rows.encode() + b"caf\xe9 \xff,a\n")
    with pytest.raises(DataError, match=r"^data\.train \(.*\): line 22 \(byte offset \d+\)"):
        prepare_text_data(TextDataConfig(train=path), seed=0)
    splits = prepare_text_data(TextDataConfig(train=path, encoding_errors="replace"), seed=0)
    assert splits.summary["cleaning"]["replaced_chars"] == 2
    assert f"data.train ({path}): 2 undecodable characters were replaced" in splits.warnings[0]


def test_chatterbot_topics_end_to_end():
    splits = prepare_text_data(TextDataConfig(train="builtin:chatterbot-topics"), seed=42)
    cleaning = splits.summary["cleaning"]
    kept = 4419 - cleaning["dropped_missing"] - cleaning["dropped_duplicates"]
    kept -= cleaning["dropped_conflicting_labels"]
    assert len(splits.labels) == 21
    assert len(splits.train) + len(splits.validation) + len(splits.test) == kept
    assert any(w.startswith("classes are imbalanced:") for w in splits.warnings)
