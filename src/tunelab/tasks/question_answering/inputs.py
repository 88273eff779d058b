"""Inputs of ``tunelab predict`` and ``serve`` for a question-answering run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tunelab.errors import DataError
from tunelab.tasks.question_answering.data import cell_text

HINT = "give --question Q --context C, or --input FILE.jsonl with question and context"


def field_records(arguments: list[str], fields: dict[str, str] | None) -> list[dict]:
    """The ``--question`` / ``--context`` pair as one record; a plain argument or a
    missing field is a record with an ``error``."""
    records: list[dict] = [
        {"argument": a, "error": f"argument {n}: a question needs a context; {HINT}"}
        for n, a in enumerate(arguments, start=1)
    ]
    if fields:
        record = {name: fields.get(name, "") for name in ("question", "context")}
        empty = [name for name, value in record.items() if not value.strip()]
        if empty:
            record["error"] = f"--{empty[0]} is missing or empty; {HINT}"
        records.append(record)
    return records


def file_records(path: Path, run_dir: Path) -> list[dict]:
    """``{"row", "question", "context"}`` per row of a JSONL / CSV file (the run's
    question and context columns, or ``question`` / ``context``); an empty cell is an
    ``error`` record.

    Raises:
        DataError: the file is missing or unreadable, or has no such columns.
    """
    from tunelab.data import read_table

    question_col, context_col = _run_columns(run_dir)
    frame = read_table(str(path), where="--input")
    for column in (question_col, context_col):
        if column not in frame.columns:
            raise DataError(f"--input {path}: no column '{column}'; {HINT}")
    records = []
    for n, row in enumerate(frame.to_dict("records"), start=1):
        question, context = cell_text(row[question_col]), cell_text(row[context_col])
        record: dict[str, Any] = {"row": n, "question": question or "", "context": context or ""}
        if question is None or context is None:
            record["error"] = "empty question" if question is None else "empty context"
        records.append(record)
    return records


def _run_columns(run_dir: Path) -> tuple[str, str]:
    config = Path(run_dir) / "config.yaml"
    data = yaml.safe_load(config.read_text()).get("data", {}) if config.is_file() else {}
    return data.get("question_column", "question"), data.get("context_column", "context")


def request_items(payload: dict[str, Any]) -> list[dict]:
    """The ``{"questions": [{"question", "context"}, ...]}`` body of a serve request.

    Raises:
        ValueError: anything else, saying what to send.
    """
    items = payload.get("questions")
    if items is None or set(payload) != {"questions"}:
        raise ValueError(
            'this model answers questions: send {"questions": [{"question": "...", '
            '"context": "..."}, ...]}'
        )
    for index, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"question", "context"}:
            raise ValueError(f"questions[{index}]: expected {{'question': ..., 'context': ...}}")
        if any(not isinstance(v, str) or not v.strip() for v in item.values()):
            raise ValueError(f"questions[{index}]: question and context must be non-empty text")
    return items
