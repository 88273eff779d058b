"""JSONL reading and the packaged chatterbot dialogues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunelab.errors import DataError
from tunelab.tasks.causal_lm.data import RowFormat, encode_rows
from tunelab.tasks.causal_lm.sources import chatterbot_dialogues, read_jsonl, read_rows


def test_read_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    rows = [{"messages": [{"role": "user", "content": "hi"}]}, {"prompt": "a", "completion": "b"}]
    path.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n", encoding="utf-8")
    assert read_jsonl(path) == rows
    assert read_rows(str(path)) == rows


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl, line 2: not valid JSON"):
        read_jsonl(path)
    path.write_text('{"text": "ok"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2: expected a JSON object per line"):
        read_jsonl(path)


def test_read_rows_refuses_other_files_and_unknown_builtins(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"reads JSON Lines \(.jsonl\) files"):
        read_rows(tmp_path / "train.csv")
    with pytest.raises(DataError, match="unknown builtin dataset 'nope'.*chatterbot-dialogues"):
        read_rows("builtin:nope")
    with pytest.raises(DataError, match="no such file"):
        read_rows(tmp_path / "missing.jsonl")


def test_chatterbot_dialogues_alternate_and_end_with_the_assistant() -> None:
    rows = chatterbot_dialogues()
    assert len(rows) > 1900 and rows == read_rows("builtin:chatterbot-dialogues")
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and roles
        assert all(m["content"].strip() for m in row["messages"])


def test_chatterbot_topics_filter() -> None:
    rows = chatterbot_dialogues(["ai"])
    assert rows and {r["topic"] for r in rows} == {"ai"}
    assert rows[0]["messages"][0] == {"role": "user", "content": "What is AI?"}
    with pytest.raises(DataError, match=r"chatterbot topics \['nope'\] not found; available: ai"):
        chatterbot_dialogues(["nope"])


def test_chatterbot_rows_encode_on_the_real_tokenizer(smollm2_tokenizer) -> None:
    rows = chatterbot_dialogues(["ai", "food"])
    examples, summary = encode_rows(smollm2_tokenizer, rows, RowFormat("chat"), 256)
    assert summary.kept == len(examples) == len(rows) - summary.empty_after_truncation
    assert summary.supervised_tokens > 0 and summary.empty_after_truncation == 0
