"""Rows to tokenized train / validation / test splits, with what was left out and why."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab.errors import DataError
from tunelab.tasks.causal_lm.config import CausalLMDataConfig
from tunelab.tasks.causal_lm.data import CausalExample, RowFormat, encode_rows, has_chat_template
from tunelab.tasks.causal_lm.sources import read_rows

SPLITS = ("train", "validation", "test")


@dataclass
class LMSplits:
    """Raw rows and their encoded examples per split, the row format, the data summary."""

    rows: dict[str, list[dict]]
    examples: dict[str, list[CausalExample]]
    fmt: RowFormat
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    tokenizer: Any = None

    @property
    def test(self) -> list[dict]:
        """The test rows (prompts and references for generation)."""
        return self.rows["test"]


def row_format(cfg: CausalLMDataConfig, first_row: dict) -> RowFormat:
    """The configured format, or the one the first row's columns show (``auto``)."""
    kind = cfg.format
    if kind == "auto":
        if cfg.messages_column in first_row:
            kind = "chat"
        elif cfg.prompt_column in first_row and cfg.completion_column in first_row:
            kind = "pairs"
        elif cfg.text_column in first_row:
            kind = "text"
        else:
            raise DataError(
                f"data.train: the first row has columns {sorted(first_row)}; expected "
                f"'{cfg.messages_column}' (chat), '{cfg.prompt_column}' + "
                f"'{cfg.completion_column}' (pairs) or '{cfg.text_column}' (text); set "
                "data.messages_column / prompt_column / completion_column / text_column"
            )
    return RowFormat(
        kind,
        cfg.messages_column,
        cfg.prompt_column,
        cfg.completion_column,
        cfg.text_column,
        cfg.chat_template,
    )


def prepare_lm_data(cfg: CausalLMDataConfig, tokenizer, max_length: int) -> LMSplits:
    """Read, split (seeded, unless validation/test files are given) and tokenize."""
    if not cfg.train:
        raise DataError("data.train is not set; pass a .jsonl file or builtin:chatterbot-dialogues")
    rows = _split_rows(cfg)
    fmt = row_format(cfg, rows["train"][0])
    if fmt.kind == "chat" and not has_chat_template(tokenizer):
        raise DataError(
            "data.train holds chat messages but the model's tokenizer has no chat template; "
            "use an instruct model, or rows of plain text (data.format: text)"
        )
    examples, summary, warnings = {}, {"format": fmt.kind, "pack": cfg.pack, "splits": {}}, []
    for name in SPLITS:
        try:
            examples[name], report = encode_rows(tokenizer, rows[name], fmt, max_length)
        except DataError as err:
            raise DataError(f"data.{name}: {err}") from None
        summary["splits"][name] = report.to_dict()
        warnings += [f"data.{name}: {w}" for w in report.warnings(max_length)]
        if not examples[name]:
            raise DataError(
                f"data.{name}: no row has anything to learn after truncation to "
                f"{max_length} tokens; raise model.max_length"
            )
    return LMSplits(rows, examples, fmt, summary, warnings, tokenizer=tokenizer)


def _split_rows(cfg: CausalLMDataConfig) -> dict[str, list[dict]]:
    train = _read(cfg.train, "data.train")
    given = {name: _read(getattr(cfg, name), f"data.{name}") for name in ("validation", "test")}
    rng = random.Random(cfg.seed)
    rng.shuffle(train)
    if cfg.max_rows is not None:
        train = train[: cfg.max_rows]
    cut_test = 0 if given["test"] is not None else max(1, round(cfg.test_fraction * len(train)))
    cut_val = 0 if given["validation"] is not None else max(1, round(cfg.val_fraction * len(train)))
    if len(train) - cut_test - cut_val < 1:
        raise DataError(
            f"data.train has {len(train)} rows: too few to split off validation and test; "
            "add rows or pass data.validation and data.test"
        )
    test = given["test"] if given["test"] is not None else train[:cut_test]
    validation = (
        given["validation"]
        if given["validation"] is not None
        else train[cut_test : cut_test + cut_val]
    )
    return {"train": train[cut_test + cut_val :], "validation": validation, "test": test}


def _read(source: str | None, where: str) -> list[dict] | None:
    if source is None:
        return None
    try:
        rows = read_rows(source if source.startswith("builtin:") else Path(source))
    except DataError as err:
        raise DataError(f"{where}: {err}") from None
    if not rows:
        raise DataError(f"{where} ({source}) holds no rows")
    return rows
