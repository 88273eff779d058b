"""From raw rows to clean ``text`` / ``label`` rows, counting everything that was done.

Each split read from a source goes through :func:`clean_split`, in this order:

1. pick the configured text and label columns (a missing column is an error listing the
   columns the file does have);
2. strip whitespace; an empty string is missing. A missing label drops the row (counted
   before a missing text, so a row missing both counts once, as a missing label); a
   missing text drops the row or is filled with ``data.fill_value``;
3. labels become strings, so ``1``, ``1.0`` and ``"1"`` are one class;
4. texts are lowercased when ``data.lowercase`` is set (labels keep their case);
5. with ``data.dedupe``, exact duplicate rows go, and a text seen with several labels
   keeps its first label only (counted, and warned about).

Class-level filters (:func:`find_small_classes`, :func:`cap_classes`) then run on the
training pool before any validation or test rows are split off it. Every count lands in
a :class:`CleaningReport`, the ``cleaning`` block of ``data_summary.json``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tunelab.config import DataConfig
from tunelab.data.labels import check_label_kind
from tunelab.errors import DataError

_INTEGRAL_DECIMAL = re.compile(r"^[+-]?\d+\.0+$")


@dataclass
class CleaningCounts:
    """What cleaning did to one source (train, validation or test as read)."""

    rows_read: int = 0
    dropped_missing_label: int = 0
    dropped_missing_text: int = 0
    filled_missing_text: int = 0
    dropped_duplicates: int = 0
    conflicting_texts: int = 0
    dropped_conflicting: int = 0
    replaced_chars: int = 0


@dataclass
class CleaningReport:
    """Everything cleaning did, per source and for the class filters on the train pool."""

    by_split: dict[str, CleaningCounts] = field(default_factory=dict)
    dropped_small_classes: dict[str, int] = field(default_factory=dict)
    dropped_small_class_rows: int = 0
    capped_classes: dict[str, int] = field(default_factory=dict)

    def total(self, name: str) -> int:
        """Sum of one :class:`CleaningCounts` field over all sources."""
        return sum(getattr(counts, name) for counts in self.by_split.values())

    def class_filters(self) -> dict[str, Any]:
        """What the class filters on the training pool did, as every task's data
        summary records it (``min_class_count``, ``max_per_class``)."""
        return {
            "dropped_small_classes": sorted(self.dropped_small_classes),
            "dropped_small_class_rows": self.dropped_small_class_rows,
            "capped_classes": dict(self.capped_classes),
        }

    def to_summary(self) -> dict[str, Any]:
        """The ``cleaning`` block of ``data_summary.json``: totals first, then per source."""
        return {
            "dropped_missing": self.total("dropped_missing_label")
            + self.total("dropped_missing_text"),
            "dropped_missing_label": self.total("dropped_missing_label"),
            "dropped_missing_text": self.total("dropped_missing_text"),
            "filled_missing_text": self.total("filled_missing_text"),
            "dropped_duplicates": self.total("dropped_duplicates"),
            "dropped_conflicting_labels": self.total("dropped_conflicting"),
            "replaced_chars": self.total("replaced_chars"),
            **self.class_filters(),
            "by_split": {name: asdict(counts) for name, counts in self.by_split.items()},
        }


def clean_split(
    frame: pd.DataFrame, cfg: DataConfig, label: str
) -> tuple[pd.DataFrame, CleaningCounts]:
    """Clean one source's rows into exactly the columns ``text`` and ``label`` (both str).

    Args:
        frame: the rows as read, any columns.
        cfg: the data section (column names, missing, fill_value, lowercase, dedupe).
        label: ``"data.train (path)"``, the prefix of any error message.

    Returns:
        The cleaned rows (index reset) and the counts of what was dropped or changed.

    Raises:
        DataError: the text or label column is not in the table.
    """
    counts = CleaningCounts(rows_read=len(frame))
    rows = select_columns(frame, cfg, label)
    rows, counts = _handle_missing(rows, cfg, counts)
    if cfg.lowercase:
        rows["text"] = rows["text"].str.lower()
    rows, counts = _dedupe(rows, cfg.dedupe, counts)
    return rows.reset_index(drop=True), counts


def select_columns(frame: pd.DataFrame, cfg: DataConfig, label: str) -> pd.DataFrame:
    """The configured columns as ``text`` and normalised ``label`` (None where missing)."""
    if cfg.text_column == cfg.label_column:
        raise DataError(
            f"{label}: data.text_column and data.label_column are both "
            f"'{cfg.text_column}'; point them at different columns"
        )
    for column, key in ((cfg.text_column, "text_column"), (cfg.label_column, "label_column")):
        if column not in frame.columns:
            columns = ", ".join(str(c) for c in frame.columns)
            raise DataError(
                f"{label}: no column '{column}'; columns are: {columns}; set data.{key}"
            )
        require_scalars(frame[column], label, column, key)
    return pd.DataFrame(
        {
            "text": frame[cfg.text_column].map(normalize_text).astype(object),
            "label": frame[cfg.label_column].map(normalize_label).astype(object),
        }
    )


_NESTED_HINT = {
    "text_column": "join them into one text first, or point data.text_column at a text column",
    "label_column": "one label per row is needed (lists are multi-label targets, which "
    "tunelab does not train); point data.label_column at a single-label column",
}


def require_scalars(values: pd.Series, where: str, column: str, key: str) -> None:
    """Refuse a column of lists or structs (Parquet / JSONL nested values), which
    ``str()`` would turn into texts like ``"['a' 'b']"`` or into one class per list.

    Raises:
        DataError: naming the column, the first such row (1-based) and what to do.
    """
    nested = values.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray))
    if not nested.any():
        return
    row = int(nested.to_numpy().argmax())
    kind = "structs" if isinstance(values.iloc[row], dict) else "lists"
    raise DataError(
        f"{where}: column '{column}' holds {kind} (first at row {row + 1}), not single "
        f"values; {_NESTED_HINT[key]}"
    )


def normalize_text(value: Any) -> str | None:
    """A stripped string, or None for a missing or blank value."""
    if _is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def normalize_label(value: Any) -> str | None:
    """A label as a string, with integral floats written as ints (``1.0`` -> ``"1"``).

    pandas reads an integer column with a gap as floats, and CSV files written from such
    columns hold ``"1.0"``; without this, ``1.0`` in train and ``1`` in test would be two
    different classes.
    """
    if _is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if _INTEGRAL_DECIMAL.match(text):
        return str(int(text.split(".")[0]))
    return text or None


def _is_missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _handle_missing(
    rows: pd.DataFrame, cfg: DataConfig, counts: CleaningCounts
) -> tuple[pd.DataFrame, CleaningCounts]:
    no_label = rows["label"].isna()
    counts.dropped_missing_label = int(no_label.sum())
    rows = rows[~no_label]
    no_text = rows["text"].isna()
    if cfg.missing == "fill":
        counts.filled_missing_text = int(no_text.sum())
        rows = rows.assign(text=rows["text"].where(~no_text, cfg.fill_value))
    else:
        counts.dropped_missing_text = int(no_text.sum())
        rows = rows[~no_text]
    return rows, counts


def _dedupe(
    rows: pd.DataFrame, dedupe: bool, counts: CleaningCounts
) -> tuple[pd.DataFrame, CleaningCounts]:
    """Drop exact duplicates; keep the first label of a text seen with several labels.

    Conflicts are counted even with ``dedupe`` off, so the user is still warned that the
    same text carries different labels (which caps the accuracy any model can reach).
    """
    if dedupe:
        exact = rows.duplicated(subset=["text", "label"])
        counts.dropped_duplicates = int(exact.sum())
        rows = rows[~exact]
    distinct = rows.drop_duplicates(subset=["text", "label"])
    conflicted = distinct[distinct.duplicated(subset=["text"], keep=False)]
    counts.conflicting_texts = int(conflicted["text"].nunique())
    if dedupe:
        repeated = rows.duplicated(subset=["text"])
        counts.dropped_conflicting = int(repeated.sum())
        rows = rows[~repeated]
    return rows, counts


def filter_classes(
    frames: dict[str, pd.DataFrame],
    min_count: int,
    max_per_class: int | None,
    seed: int,
    report: CleaningReport,
) -> dict[str, pd.DataFrame]:
    """Drop classes too small in the training pool from every split, then cap the pool.

    Every task's listed or cleaned splits (tables of ``label`` rows) pass here before
    validation / test are split off the pool, so the filters judge a class by all its
    training rows; what they did lands in ``report``.
    """
    small = find_small_classes(frames["train"], min_count)
    report.dropped_small_classes = small
    filtered = {}
    for name, frame in frames.items():
        filtered[name], removed = without_classes(frame, small)
        report.dropped_small_class_rows += removed
    filtered["train"], report.capped_classes = cap_classes(filtered["train"], max_per_class, seed)
    return filtered


def find_small_classes(train: pd.DataFrame, min_count: int) -> dict[str, int]:
    """Classes with fewer than ``min_count`` training rows, with their counts.

    Counted on the whole training pool (before validation / test are split off it), so a
    class is judged by all the examples the user provided for training. Every task's
    pool passes here first, so this is also where labels that are no class names
    (regression targets, multi-label sets) are refused.

    Raises:
        DataError: the labels look like a regression target or like sets of labels.
    """
    check_label_kind(train["label"])
    if min_count <= 1:
        return {}
    sizes = train["label"].value_counts()
    return {str(name): int(n) for name, n in sizes[sizes < min_count].sort_index().items()}


def without_classes(frame: pd.DataFrame, classes: dict[str, int]) -> tuple[pd.DataFrame, int]:
    """``frame`` minus the rows of ``classes``, and how many rows that removed."""
    doomed = frame["label"].isin(list(classes))
    return frame[~doomed].reset_index(drop=True), int(doomed.sum())


def cap_classes(
    train: pd.DataFrame, max_per_class: int | None, seed: int
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep at most ``max_per_class`` rows of each class (a seeded sample, file order kept).

    Applied to the training pool before validation / test are split off it: a capped
    class then stays capped, in proportion, in every derived split, and the evaluation
    splits keep the training class balance the user asked for. Splits read from their
    own files are never capped, since they measure the real distribution.

    Returns:
        The capped rows (index reset) and the original size of each capped class.
    """
    sizes = train["label"].value_counts()
    over = sizes[sizes > max_per_class] if max_per_class else sizes.iloc[:0]
    if over.empty:
        return train, {}
    kept = [
        group.sample(n=max_per_class, random_state=seed) if name in over.index else group
        for name, group in train.groupby("label", sort=True)
    ]
    capped = pd.concat(kept).sort_index().reset_index(drop=True)
    return capped, {str(name): int(n) for name, n in over.sort_index().items()}
