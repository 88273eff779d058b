"""Fixtures for question-answering tests: a tiny random-init BERT with a fast word-level
tokenizer, and small synthetic SQuAD-style data it can read."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.conftest import save_tiny_bert

PEOPLE = ["ann", "bob", "carl", "dora", "eve", "fred", "gina", "hugo"]
THINGS = ["apples", "bread", "cheese", "rice", "soup", "tea", "milk", "pasta"]
FILLER = ["today", "the", "weather", "is", "fine", "and", "it", "rained", "a", "little"]
QUESTION = ["what", "does", "like", "who", "?", ".", "likes"]


def qa_vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return specials + sorted(set(PEOPLE + THINGS + FILLER + QUESTION))


@pytest.fixture(scope="session")
def qa_model_dir(tmp_path_factory) -> Path:
    """The tiny BERT with a fast tokenizer (offsets need one) and room for two windows."""
    return save_tiny_bert(
        tmp_path_factory.mktemp("tiny-qa-bert"), qa_vocab(), fast=True, positions=128
    )


def make_context(rng: random.Random, facts: int = 3) -> tuple[str, dict[str, str]]:
    """``"ann likes tea . today the weather is fine . bob likes rice ."``, and who likes what."""
    people = rng.sample(PEOPLE, facts)
    likes = {person: rng.choice(THINGS) for person in people}
    parts = []
    for person in people:
        parts.append(f"{person} likes {likes[person]} .")
        parts.append(" ".join(rng.sample(FILLER, 4)) + " .")
    return " ".join(parts), likes


def make_squad(n_contexts: int, seed: int = 0, unanswerable: bool = False, facts: int = 3) -> dict:
    """A SQuAD-format document: a question per fact (``what does ann like ?``), plus one
    about someone absent when ``unanswerable`` (SQuAD 2.0's ``is_impossible``)."""
    rng = random.Random(seed)
    paragraphs = []
    for c in range(n_contexts):
        context, likes = make_context(rng, facts)
        qas = []
        for person, thing in likes.items():
            start = context.index(f"{person} likes {thing}") + len(f"{person} likes ")
            qas.append(
                {
                    "id": f"{seed}-{c}-{person}",
                    "question": f"what does {person} like ?",
                    "answers": [{"text": thing, "answer_start": start}],
                }
            )
        if unanswerable:
            absent = next(p for p in PEOPLE if p not in likes)
            qas.append(
                {
                    "id": f"{seed}-{c}-none",
                    "question": f"what does {absent} like ?",
                    "answers": [],
                    "is_impossible": True,
                }
            )
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "test", "data": [{"title": "likes", "paragraphs": paragraphs}]}


def write_squad(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


def qa_config(model_dir: Path, train: Path, strategy: str = "full", **train_cfg) -> dict:
    """A tiny run: short windows (so some contexts need two), a few steps."""
    return {
        "task": "question_answering",
        "model": {"name": str(model_dir), "max_length": 32, "doc_stride": 8},
        "data": {"train": str(train), "val_fraction": 0.2, "test_fraction": 0.2},
        "strategy": {"name": strategy},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "seed": 0, **train_cfg},
    }


def qa_contract_case(model_dir: Path, root: Path, lm_dir: Path | None = None) -> tuple:
    """``(config, inputs, holdout)`` for tests/tasks/test_contract.py's CASES (any tiny
    BERT with a fast tokenizer, e.g. its ``tiny_model_dir``)."""
    train = write_squad(root / "train.json", make_squad(20, unanswerable=True))
    holdout = write_squad(root / "holdout.json", make_squad(3, seed=1))
    config = qa_config(model_dir, train)
    del config["strategy"], config["train"]
    inputs = [{"question": "what does ann like ?", "context": "ann likes tea . bob likes rice ."}]
    return config, inputs, str(holdout)


@pytest.fixture(scope="session")
def qa_run(qa_model_dir, tmp_path_factory) -> Path:
    """A finished full fine-tuning run on SQuAD 2.0-style data (a threshold is tuned)."""
    import tunelab

    root = tmp_path_factory.mktemp("qa-run")
    train = write_squad(root / "train.json", make_squad(16, unanswerable=True))
    config = qa_config(model_dir=qa_model_dir, train=train, lr=3e-3)
    return tunelab.fine_tune(config, root / "run").run_dir
