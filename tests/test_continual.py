"""Continual updates: rehearsal of the earlier run's training data (replay)."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

import tunelab
from tunelab.config import load_config
from tunelab.continual import add_replay, earlier_splits, replay_rows
from tunelab.errors import ConfigError
from tunelab.tasks import get_task
from tunelab.tasks.text.data import TextSplits

LABELS = ["a"] * 10 + ["b"] * 4 + ["c"] * 1


def test_replay_rows_are_stratified_seeded_and_keep_every_label():
    rows = replay_rows(LABELS, 0.5, seed=0)
    assert Counter(LABELS[i] for i in rows) == {"a": 5, "b": 2, "c": 1}
    assert rows == sorted(rows) == replay_rows(LABELS, 0.5, seed=0)
    assert rows != replay_rows(LABELS, 0.5, seed=1)
    assert replay_rows(LABELS, 0.0, seed=0) == []
    assert replay_rows(LABELS, 1.0, seed=0) == list(range(len(LABELS)))


def test_replay_without_an_earlier_run_is_a_config_error(tiny_config, tmp_path):
    tiny_config["model"]["replay_fraction"] = 0.3
    with pytest.raises(ConfigError, match="model.init_from"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.fixture
def first_run(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 1
    return tunelab.fine_tune(tiny_config, tmp_path / "first")


def test_replayed_examples_never_include_new_validation_or_test_texts(first_run):
    task = get_task("text_classification")
    cfg = load_config(first_run.run_dir / "config.yaml")
    earlier = earlier_splits(first_run.run_dir)
    old_train = earlier.train
    leaked = old_train.iloc[[0]]
    empty = pd.DataFrame({"text": ["new text"], "label": [old_train["label"][0]]})
    splits = TextSplits(empty, leaked, empty, sorted(old_train["label"].unique()), {}, [])
    cfg.model.init_from, cfg.model.replay_fraction = str(first_run.run_dir), 1.0
    replayed, info = add_replay(task, splits, cfg, earlier)
    assert info["left_out_overlap"] == 1 and info["examples"] == len(old_train) - 1
    assert len(replayed.train) == 1 + info["examples"]
    assert leaked["text"][0] not in set(replayed.train["text"])
    assert replayed.summary["replay"] == info


def test_continual_run_with_replay_trains_on_old_and_new_examples(first_run, tiny_config, tmp_path):
    from tests.conftest import make_texts

    new_data = tmp_path / "new.csv"
    make_texts(6, seed=9).to_csv(new_data, index=False)
    tiny_config["data"]["train"] = str(new_data)
    tiny_config["model"].update(init_from=str(first_run.run_dir), replay_fraction=0.5)
    second = tunelab.fine_tune(tiny_config, tmp_path / "second")
    summary = json.loads((second.run_dir / "data_summary.json").read_text())
    assert summary["replay"]["examples"] > 0
    assert summary["replay"]["from"] == str(first_run.run_dir)
    assert "old_test_accuracy_after" in second.metrics["continual"]
