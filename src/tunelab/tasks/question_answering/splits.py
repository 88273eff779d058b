"""Train / validation / test questions: read, span-checked, split by context, sampled.

Validation and test come from their own sources when given, else from the training
source; then whole contexts go to one split (a paragraph's questions in both training
and test would score memory of the paragraph, not reading). ``max_train_questions`` /
``max_eval_questions`` take seeded samples, so a CPU recipe reads a fixed few hundred
dev questions every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tunelab.data.checks import length_stats
from tunelab.errors import DataError
from tunelab.tasks.question_answering.config import QADataConfig
from tunelab.tasks.question_answering.data import QAExample, SpanCheck, check_spans, read_examples

SPLITS = ("train", "validation", "test")


@dataclass
class QAState:
    """What evaluation learns during a run and the predictor and report use after it:
    the no-answer threshold tuned on validation (None: always answer) and the last
    decoded predictions of each split."""

    threshold: float | None = None
    predictions: dict[str, list[dict]] = field(default_factory=dict)


@dataclass
class QASplits:
    """The three splits of questions, with the data summary and warnings."""

    train: list[QAExample]
    validation: list[QAExample]
    test: list[QAExample]
    summary: dict[str, Any]
    warnings: list[str]
    state: QAState = field(default_factory=QAState)
    windows: dict[str, Any] = field(default_factory=dict)  # per split, once tokenized

    @property
    def has_unanswerable(self) -> bool:
        """Whether training or validation holds questions without an answer (SQuAD 2.0):
        only then can the model learn to abstain and the threshold be tuned."""
        return any(not e.answerable for e in [*self.train, *self.validation])

    def split(self, name: str) -> list[QAExample]:
        """The questions of split ``name``."""
        return getattr(self, name)


def prepare_qa_data(cfg: QADataConfig) -> QASplits:
    """Read, check, split and sample the configured sources.

    Raises:
        DataError: no training source, unreadable sources, or an empty split.
    """
    if not cfg.train:
        raise DataError("data.train is not set; pass a SQuAD .json, .jsonl/.csv or builtin:")
    columns = {
        "context": cfg.context_column,
        "question": cfg.question_column,
        "answer_text": cfg.answer_text_column,
        "answer_start": cfg.answer_start_column,
    }
    check, sources, raw = SpanCheck(), {}, {}
    for name in SPLITS:
        source = getattr(cfg, name)
        if source:
            read = read_examples(source, f"data.{name}", columns)
            raw[name] = check_spans(read, f"data.{name}", cfg.span_mismatch, check)
            sources[name] = source
    rng = random.Random(cfg.seed)
    train = raw["train"]
    for name, fraction in (("test", cfg.test_fraction), ("validation", cfg.val_fraction)):
        if name not in raw:
            train, raw[name] = split_by_context(train, fraction, rng)
            sources[name] = f"{fraction:.0%} of data.train's contexts"
    raw["train"] = train
    splits = {name: _sample(raw[name], _limit(cfg, name), rng) for name in SPLITS}
    for name, examples in splits.items():
        if not examples:
            raise DataError(f"data.{name}: no questions left; give more data")
    warnings = _warnings(check)
    summary = _summary(splits, sources, check, {n: len(raw[n]) for n in SPLITS})
    return QASplits(**splits, summary={**summary, "warnings": warnings}, warnings=warnings)


def split_by_context(
    examples: list[QAExample], fraction: float, rng: random.Random
) -> tuple[list[QAExample], list[QAExample]]:
    """``(rest, held_out)``: about ``fraction`` of the contexts, with all their questions."""
    contexts = sorted({e.context for e in examples})
    rng.shuffle(contexts)
    held = set(contexts[: max(1, round(fraction * len(contexts)))])
    rest = [e for e in examples if e.context not in held]
    return rest, [e for e in examples if e.context in held]


def _limit(cfg: QADataConfig, name: str) -> int | None:
    return cfg.max_train_questions if name == "train" else cfg.max_eval_questions


def _sample(examples: list[QAExample], limit: int | None, rng: random.Random) -> list[QAExample]:
    """A seeded sample of ``limit`` questions, in their source order."""
    if limit is None or len(examples) <= limit:
        return examples
    keep = sorted(rng.sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def _summary(
    splits: dict[str, list[QAExample]],
    sources: dict[str, str],
    check: SpanCheck,
    available: dict[str, int],
) -> dict[str, Any]:
    def describe(name: str) -> dict[str, Any]:
        examples = splits[name]
        return {
            "source": sources[name],
            "n": len(examples),  # questions (the report's split sizes)
            "of": available[name],
            "contexts": len({e.context for e in examples}),
            "unanswerable": sum(not e.answerable for e in examples),
            "length_chars": length_stats(pd.Series([e.context for e in examples])),
        }

    return {
        "task": "question_answering",
        "splits": {name: describe(name) for name in SPLITS},
        "answer_spans": {
            "checked": check.checked,
            "mismatched": check.mismatched,
            "dropped_questions": check.dropped_examples,
        },
    }


def _warnings(check: SpanCheck) -> list[str]:
    if not check.mismatched:
        return []
    return [
        f"{check.mismatched} of {check.checked} answers are not at their answer_start in the "
        f"context (first: {check.first}); they were dropped, and "
        f"{check.dropped_examples} questions left without an answer with them "
        "(set data.span_mismatch: error to stop instead)"
    ]


def drop_long_questions(splits: QASplits, tokenizer, limit: int) -> None:
    """Remove questions over ``limit`` tokens (no room left for the context), with a
    warning naming how many and the first.

    Raises:
        DataError: a split loses every question.
    """
    from tunelab.tasks.question_answering.windows import too_long_questions

    for name in SPLITS:
        examples = splits.split(name)
        long = set(too_long_questions(tokenizer, examples, limit))
        if not long:
            continue
        kept = [e for i, e in enumerate(examples) if i not in long]
        if not kept:
            raise DataError(f"data.{name}: every question is over {limit} tokens")
        first = examples[min(long)].id
        splits.warnings.append(
            f"data.{name}: {len(long)} questions over {limit} tokens dropped (first: {first}); "
            "raise model.max_length or lower model.doc_stride to keep them"
        )
        setattr(splits, name, kept)
        splits.summary["splits"][name]["n"] = len(kept)
