"""Labels that are no class names are refused with one line saying what was found and
what to do: regression targets, multi-label sets, and list/struct columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tunelab
from tests.conftest import make_texts
from tunelab.data.labels import multi_label_like, regression_like
from tunelab.errors import DataError


def _labels(values) -> pd.Series:
    return pd.Series([str(v) for v in values])


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (np.round(np.random.default_rng(0).uniform(0, 5, 90), 2), "regression"),
        (np.random.default_rng(1).integers(1000, 90000, 90), "regression"),  # prices
        (["travel", "finance", "travel,finance"] * 10, "multi-label"),
        (["a", "b", "a|b", "b | a"] * 10, "multi-label"),
        (["['sport', 'tech']", "['food']", "['tech']"] * 10, "multi-label"),
    ],
)
def test_regression_and_multi_label_targets_are_found(values, kind):
    labels = _labels(values)
    found = regression_like(labels) or multi_label_like(labels)
    assert found is not None
    assert ("regression target" in found) == (kind == "regression")
    assert ("multi-label" in found) == (kind == "multi-label")


@pytest.mark.parametrize(
    "values",
    [
        list(range(10)) * 9,  # digits: integer class ids
        [1, 2, 3, 4, 5] * 18,  # star ratings
        ["0.5", "1.5", "2.5"] * 30,  # a few decimal levels
        ["hello, world", "goodbye"] * 20,  # a comma inside one class name
        ["food", "sport", "tech"] * 20,
    ],
)
def test_class_names_pass(values):
    labels = _labels(values)
    assert regression_like(labels) is None and multi_label_like(labels) is None


def test_a_run_on_float_targets_stops_with_one_line(tmp_path, tiny_config):
    frame = make_texts(30)
    frame["label"] = np.round(np.random.default_rng(0).uniform(0, 5, len(frame)), 2)
    frame.to_csv(tmp_path / "reg.csv", index=False)
    tiny_config["data"]["train"] = str(tmp_path / "reg.csv")
    with pytest.raises(DataError, match=r"looks like a regression target \(\d+ distinct numbers"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_run_on_combined_labels_stops_with_one_line(tmp_path, tiny_config):
    frame = make_texts(30)
    frame.loc[::7, "label"] = "food,tech"
    frame.to_csv(tmp_path / "multi.csv", index=False)
    tiny_config["data"]["train"] = str(tmp_path / "multi.csv")
    with pytest.raises(DataError, match="looks multi-label \\('food,tech' combines 'food', 'tech'"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("label", ["food", "tech"], "column 'label' holds lists (first at row 1)"),
        ("label", {"name": "food"}, "column 'label' holds structs"),
        ("text", ["pizza", "pasta"], "column 'text' holds lists"),
    ],
)
def test_parquet_list_and_struct_columns_are_refused(tmp_path, tiny_config, column, value, message):
    frame = make_texts(30)
    frame[column] = [value] * len(frame)
    frame.to_parquet(tmp_path / "nested.parquet")
    tiny_config["data"]["train"] = str(tmp_path / "nested.parquet")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
