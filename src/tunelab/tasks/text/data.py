"""The one call the trainer makes: config in, clean labelled splits and their summary out.

:func:`prepare_text_data` reads each configured source, cleans it
(:mod:`~tunelab.data.cleaning`), applies the class filters to the training pool, splits
off whatever validation / test rows were not given (:mod:`~tunelab.data.splits`), checks
the result and writes the summary and warnings (:mod:`~tunelab.data.checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from tunelab.data.checks import (
    build_summary,
    require_classes,
    require_known_labels,
    require_rows,
    text_keys,
)
from tunelab.data.cleaning import CleaningReport, clean_split, filter_classes
from tunelab.data.formats import SourceTable
from tunelab.data.leakage import drop_leaks, take_rows
from tunelab.data.sources import load_source
from tunelab.data.splits import SPLIT_NAMES, complete_splits, split_sources
from tunelab.errors import DataError
from tunelab.tasks.text.config import TextDataConfig

EVAL_SPLITS = ("validation", "test")


@dataclass
class TextSplits:
    """Clean text classification splits, ready to tokenize.

    Attributes:
        train: columns exactly ``["text", "label"]``, labels as str, index reset.
        validation: same columns.
        test: same columns.
        labels: sorted unique training labels; a label's id is its index here.
        summary: the ``data_summary.json`` content (see ``docs/run_dir.md``).
        warnings: human-readable warnings, also in ``summary["warnings"]``.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    labels: list[str]
    summary: dict[str, Any]
    warnings: list[str]


def prepare_text_data(cfg: TextDataConfig, seed: int) -> TextSplits:
    """Read, clean, filter, split and check the data a run trains and evaluates on.

    Class filters run on the training pool before validation / test are split off it:
    ``min_class_count`` judges a class by all its training rows (and removes it from
    every split, files included), and ``max_per_class`` caps the pool, so a capped
    class is capped in proportion across the derived splits too. Validation / test read
    from their own files are never capped: they measure the real distribution.

    Args:
        cfg: the ``data`` section of the run config.
        seed: the run seed; the same seed gives the same capping and splits.

    Raises:
        DataError: unreadable source, missing column, fewer than 2 classes, a class too
            small to stratify, or evaluation labels that never occur in training.
    """
    tables = _load_tables(cfg)
    origins = {name: table.origin for name, table in tables.items()}
    report = CleaningReport()
    cleaned = {name: _clean(table, name, cfg, report) for name, table in tables.items()}
    cleaned = filter_classes(cleaned, cfg.min_class_count, cfg.max_per_class, seed, report)
    given_eval = [name for name in EVAL_SPLITS if name in cleaned]
    for name in given_eval:
        require_rows(cleaned[name], f"data.{name}", origins[name])
    require_classes(cleaned["train"], origins["train"], report)
    splits = complete_splits(cleaned, cfg, seed, lambda t: t["label"], take_rows)
    splits, leakage = drop_leaks(splits, cfg.leakage, text_keys, take_rows)
    labels = sorted(splits["train"]["label"].unique())
    for name in given_eval:
        require_known_labels(splits[name], labels, f"data.{name}", origins[name])
    summary = build_summary(splits, labels, split_sources(cfg), report, origins, leakage)
    return TextSplits(**splits, labels=labels, summary=summary, warnings=summary["warnings"])


def _load_tables(cfg: TextDataConfig) -> dict[str, SourceTable]:
    if not cfg.train:
        raise DataError(
            "data.train is not set; set it to a file, hf:DIR or builtin:NAME (e.g. "
            "builtin:chatterbot-topics)"
        )
    sources = {name: getattr(cfg, name) for name in SPLIT_NAMES}
    return {
        name: load_source(source, f"data.{name}", cfg.encoding_errors)
        for name, source in sources.items()
        if source
    }


def _clean(
    table: SourceTable, name: str, cfg: TextDataConfig, report: CleaningReport
) -> pd.DataFrame:
    rows, counts = clean_split(table.frame, cfg, f"data.{name} ({table.origin})")
    counts.replaced_chars = table.replaced_chars
    report.by_split[name] = counts
    return rows
