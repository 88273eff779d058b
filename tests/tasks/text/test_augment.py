"""Text augmentation: each operation, seeding, labels kept, embedding synonyms from the
tiny BERT's real vocabulary, and a run that augments train only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from rich.console import Console
from transformers import AutoModel, AutoTokenizer

import tunelab
from tests.conftest import make_texts
from tunelab.config import load_config
from tunelab.errors import ConfigError
from tunelab.tasks import get_task
from tunelab.tasks.text.augment import (
    augment_frame,
    augment_train,
    embedding_synonyms,
    random_deletion,
    random_swap,
    synonym_replacement,
)
from tunelab.tasks.text.config import TextAugmentConfig

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]


def test_random_deletion_keeps_order_and_never_empties():
    out = random_deletion(WORDS, 0.5, np.random.default_rng(0))
    assert 0 < len(out) < len(WORDS)
    assert out == [w for w in WORDS if w in out][: len(out)]  # a subsequence, in order
    assert len(random_deletion(["solo"], 0.99, np.random.default_rng(0))) == 1
    assert len(random_deletion(WORDS, 0.999999, np.random.default_rng(1))) == 1


def test_random_swap_is_a_permutation_with_that_many_swaps():
    out = random_swap(WORDS, 0.25, np.random.default_rng(0))  # round(0.25 * 9) = 2 swaps
    assert sorted(out) == sorted(WORDS) and out != WORDS
    assert sum(a != b for a, b in zip(out, WORDS, strict=True)) <= 4


def test_synonym_replacement_uses_the_table_and_keeps_capitals():
    table = {"quick": ["fast"], "lazy": ["idle"]}
    words = ["The", "Quick", "brown", "fox", "lazy"]
    out = synonym_replacement(words, 1.0, table, np.random.default_rng(0))
    assert out == ["The", "Fast", "brown", "fox", "idle"]
    assert synonym_replacement(["no", "match"], 1.0, table, np.random.default_rng(0)) == [
        "no",
        "match",
    ]


def test_embedding_synonyms_are_nearest_whole_words():
    vocab = {"[PAD]": 0, "good": 1, "great": 2, "bad": 3, "##ly": 4, "a": 5, "▁fine": 6}
    embeddings = torch.tensor(
        [[0, 0], [1.0, 0.1], [1.0, 0.0], [-1.0, 0.0], [1.0, 0.1], [1.0, 0.1], [0.9, 0.3]]
    )
    table = embedding_synonyms({"good", "bad", "unknown"}, vocab, embeddings, k=2)
    # "##ly" (a word piece) and "a" (one letter) never count; "▁fine" is the word "fine"
    assert table == {"good": ["great", "fine"], "bad": ["fine", "good"]}


def _train() -> pd.DataFrame:
    return make_texts(6, seed=0)


def test_same_seed_same_copies_other_seed_other_copies():
    cfg = TextAugmentConfig(copies=3, delete=0.2, swap=0.2)
    first = augment_frame(_train(), cfg, 7, {})
    assert first.equals(augment_frame(_train(), cfg, 7, {}))
    assert not first.equals(augment_frame(_train(), cfg, 8, {}))


def test_copies_keep_their_labels_and_the_originals_come_first():
    train = _train()
    cfg = TextAugmentConfig(copies=4, delete=0.0, swap=0.5)  # swaps keep the word multiset
    out = augment_frame(train, cfg, 0, {})
    assert out.iloc[: len(train)].equals(train[["text", "label"]])
    pairs = zip(train["text"], train["label"], strict=True)
    label_of = {tuple(sorted(text.split())): label for text, label in pairs}
    for text, label in zip(out["text"], out["label"], strict=True):
        assert label_of[tuple(sorted(text.split()))] == label
    assert out["text"].is_unique and len(train) < len(out) <= 5 * len(train)


def test_augment_train_with_the_tiny_berts_embeddings(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    backbone = AutoModel.from_pretrained(tiny_model_dir)
    cfg = TextAugmentConfig(copies=2, delete=0.0, swap=0.0, synonym=0.3, neighbours=3)
    train = _train()
    out, record = augment_train(train, cfg, tokenizer, backbone, seed=0)
    words = {w for text in train["text"] for w in text.split()}
    assert record["words_with_synonyms"] == len({w for w in words if len(w) > 1})
    assert record["added"] == len(out) - len(train) > 0
    vocab = set(tokenizer.get_vocab())
    assert all(w in vocab for text in out["text"] for w in text.split())


def test_copies_need_an_operation():
    with pytest.raises(ValueError, match="needs one of delete, swap, synonym"):
        TextAugmentConfig(copies=2, delete=0.0, swap=0.0)


def test_augment_is_refused_for_regression(tiny_config):
    data = {**tiny_config["data"], "problem_type": "regression", "augment": {"copies": 2}}
    with pytest.raises(ConfigError, match="data.augment applies to single-label classes"):
        load_config(base={**tiny_config, "data": data})


def test_a_run_augments_train_only(tiny_config, tmp_path):
    """Batches: train grows by the copies, validation and test stay the rows they were;
    the summary records it and feature caching keys the augmented train apart."""
    config = {**tiny_config, "data": {**tiny_config["data"], "augment": {"copies": 2}}}
    cfg = load_config(base=config)
    task = get_task(cfg.task)
    splits = task.prepare_data(cfg)
    built = task.build_model(cfg, splits)
    sources = task.batch_sources(cfg, built, splits, False, Console(quiet=True))
    added = splits.summary["augment"]["added"]
    assert added > 0 and len(sources["train"]) == len(splits.train) + added
    assert (len(sources["validation"]), len(sources["test"])) == (
        len(splits.validation),
        len(splits.test),
    )
    plain = load_config(base=tiny_config)
    assert task.feature_cache_key(cfg, built, splits, "train") != task.feature_cache_key(
        plain, built, splits, "train"
    )
    assert task.feature_cache_key(cfg, built, splits, "test") == task.feature_cache_key(
        plain, built, splits, "test"
    )

    result = tunelab.fine_tune(config, tmp_path / "run")
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["augment"]["added"] == added and summary["augment"]["seed"] == 0
