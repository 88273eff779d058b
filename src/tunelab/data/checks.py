"""Checks on the final splits: errors for unusable data, warnings and the data summary.

Errors are for data no run can use (one class, labels the model never sees in training).
Warnings are for data a run can use but whose scores would mislead: tiny classes, strong
imbalance, and texts shared between splits, which leak the answer into evaluation. The
summary (``data_summary.json``) records the numbers behind each warning.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pandas as pd

from tunelab.data.cleaning import CleaningReport
from tunelab.data.leakage import leakage_warnings
from tunelab.errors import DataError

SMALL_CLASS = 5
IMBALANCE_RATIO = 10.0
HIST_BINS = 10
SPLIT_PAIRS = (("train", "validation"), ("train", "test"), ("validation", "test"))


def require_classes(train: pd.DataFrame, origin: str, report: CleaningReport) -> None:
    """At least two classes must be left in the training data.

    Raises:
        DataError: fewer than 2 classes, naming what cleaning removed if it was the cause.
    """
    classes = sorted(train["label"].unique())
    if len(classes) >= 2:
        return
    found = f"only class '{classes[0]}'" if classes else "no rows"
    dropped = len(report.dropped_small_classes)
    cause = f" (data.min_class_count dropped {dropped} classes)" if dropped else ""
    raise DataError(
        f"data.train ({origin}): {found} left after cleaning{cause}; a classifier needs at "
        "least 2 classes: check data.label_column and data.min_class_count"
    )


def require_rows(frame: pd.DataFrame, where: str, origin: str) -> None:
    """A split read from its own source must keep some rows after cleaning."""
    if frame.empty:
        raise DataError(
            f"{where} ({origin}): no rows left after cleaning (missing labels or texts, or "
            "classes removed by data.min_class_count); check data.text_column and "
            "data.label_column"
        )


def require_known_labels(frame: pd.DataFrame, labels: list[str], where: str, origin: str) -> None:
    """Every validation / test label must occur in training: the model cannot predict it.

    Raises:
        DataError: naming the unknown labels (up to 5, alphabetically) and their row counts.
    """
    unknown = frame.loc[~frame["label"].isin(labels), "label"].value_counts().sort_index()
    if unknown.empty:
        return
    named = [f"'{name}' ({_rows(int(n))})" for name, n in unknown.iloc[:5].items()]
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    subject = f"label {named[0]} does" if len(named) == 1 else f"labels {', '.join(named)}{more} do"
    raise DataError(
        f"{where} ({origin}): {subject} not occur in the training data; remove those rows "
        "or add training examples"
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def normalize_for_overlap(text: str) -> str:
    """Lowercased, whitespace-collapsed text: what counts as 'the same text' across splits."""
    return " ".join(text.lower().split())


def text_keys(frame: pd.DataFrame) -> list[str]:
    """The normalised text of every row: a text split's duplicate keys."""
    return frame["text"].map(normalize_for_overlap).tolist()


def duplicates_across_splits(splits: dict[str, pd.DataFrame]) -> dict[str, int]:
    """For each pair of splits (a, b): rows of b whose normalised text also occurs in a.

    Counting rows of the later split (validation or test) measures how much of the
    evaluation the model may have seen in training.
    """
    normalized = {name: frame["text"].map(normalize_for_overlap) for name, frame in splits.items()}
    return {
        f"{first}-{second}": int(normalized[second].isin(set(normalized[first])).sum())
        for first, second in SPLIT_PAIRS
        if first in normalized and second in normalized
    }


def length_stats(texts: pd.Series) -> dict[str, Any]:
    """Character lengths: min, median, max, mean and a ~10-bin histogram."""
    lengths = [len(text) for text in texts]
    if not lengths:
        return {"min": 0, "p50": 0, "max": 0, "mean": 0.0, "hist": []}
    return {
        "min": min(lengths),
        "p50": float(statistics.median(lengths)),
        "max": max(lengths),
        "mean": round(statistics.fmean(lengths), 1),
        "hist": length_histogram(lengths),
    }


def length_histogram(lengths: list[int], bins: int = HIST_BINS) -> list[list[int]]:
    """``[start, end, count]`` rows over integer bins ``[start, end)`` covering all lengths.

    Integer bin edges (rather than numpy's float edges) keep the JSON readable: a text
    of 37 characters falls in ``[30, 40)``, not ``[29.6, 41.2)``.
    """
    low, high = min(lengths), max(lengths)
    width = max(1, math.ceil((high - low + 1) / bins))
    n_bins = math.ceil((high - low + 1) / width)
    counts = [0] * n_bins
    for length in lengths:
        counts[(length - low) // width] += 1
    return [[low + i * width, low + (i + 1) * width, count] for i, count in enumerate(counts)]


def split_summary(frame: pd.DataFrame, labels: list[str], source: str) -> dict[str, Any]:
    """Size, per-class counts (in label order) and text lengths of one split."""
    sizes = frame["label"].value_counts()
    return {
        "n": len(frame),
        "source": source,
        "class_counts": {label: int(sizes.get(label, 0)) for label in labels},
        "length_chars": length_stats(frame["text"]),
    }


def subset_train_summary(
    summary: dict[str, Any], train: pd.DataFrame, subset: pd.DataFrame
) -> dict[str, Any]:
    """``summary`` once the training split is cut to ``subset`` (``data.train_per_class``).

    What trained is the subset: its size, class counts and lengths replace the split's,
    and so do the class warnings, because ``strategy.name: auto``, the report and a
    reader all take them from here. ``subset_of`` keeps the size it was cut from.
    Duplicates across splits still count the whole training split.
    """
    entry = summary["splits"]["train"]
    cut = {**split_summary(subset, summary["labels"], entry["source"]), "subset_of": len(train)}
    stale = set(class_warnings(train))
    warnings = [w for w in summary["warnings"] if w not in stale] + class_warnings(subset)
    return {**summary, "splits": {**summary["splits"], "train": cut}, "warnings": warnings}


def class_warnings(train: pd.DataFrame) -> list[str]:
    """Small classes (noisy metrics) and strong imbalance (a model that ignores the rare)."""
    sizes = train["label"].value_counts().sort_index()
    warnings = [
        f"class '{name}' has {n} training examples (< {SMALL_CLASS}): its metrics will be noisy"
        for name, n in sizes.items()
        if n < SMALL_CLASS
    ]
    largest, smallest = sizes.idxmax(), sizes.idxmin()
    ratio = sizes[largest] / sizes[smallest]
    if ratio > IMBALANCE_RATIO:
        warnings.append(
            f"classes are imbalanced: '{largest}' has {sizes[largest]} training examples, "
            f"'{smallest}' {sizes[smallest]} ({ratio:.1f}x); set train.class_weights: "
            "balanced or cap with data.max_per_class"
        )
    return warnings


def overlap_warnings(duplicates: dict[str, int], splits: dict[str, pd.DataFrame]) -> list[str]:
    """One warning per evaluation split that shares texts with train."""
    warnings = []
    for name in ("validation", "test"):
        count = duplicates.get(f"train-{name}", 0)
        if count:
            warnings.append(
                f"{count} of {len(splits[name])} {name} texts also occur in train (ignoring "
                f"case and spacing): they leak and inflate {name} scores; set data.leakage: "
                "drop, or remove them from one of the files"
            )
    return warnings


def cleaning_warnings(report: CleaningReport, origins: dict[str, str]) -> list[str]:
    """Conflicting labels and replaced characters, per source."""
    warnings = []
    for name, counts in report.by_split.items():
        where = f"data.{name} ({origins[name]})"
        if counts.conflicting_texts:
            action = (
                f"kept the first label and dropped {counts.dropped_conflicting} rows"
                if counts.dropped_conflicting
                else "set data.dedupe: true to keep only the first label"
            )
            warnings.append(
                f"{where}: {counts.conflicting_texts} texts occur with different labels; {action}"
            )
        if counts.replaced_chars:
            warnings.append(
                f"{where}: {counts.replaced_chars} undecodable characters were replaced "
                "with U+FFFD; the affected texts may read oddly"
            )
    return warnings


def build_summary(
    splits: dict[str, pd.DataFrame],
    labels: list[str],
    sources: dict[str, str],
    report: CleaningReport,
    origins: dict[str, str],
    leakage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``data_summary.json`` content (see ``docs/run_dir.md``), warnings included.

    Args:
        splits: the final train / validation / test rows.
        labels: sorted training labels.
        sources: per split, where its rows came from (a source, or "split from data.train").
        report: what cleaning did.
        origins: per source read, its name for messages.
        leakage: what ``data.leakage`` dropped (:func:`tunelab.data.leakage.drop_leaks`).
    """
    duplicates = duplicates_across_splits(splits)
    leakage = leakage or {"mode": "warn", "dropped": {}}
    sizes = {name: len(frame) for name, frame in splits.items()}
    warnings = [
        *cleaning_warnings(report, origins),
        *class_warnings(splits["train"]),
        *leakage_warnings(leakage, sizes, "texts"),
        *overlap_warnings(duplicates, splits),
    ]
    return {
        "labels": list(labels),
        "splits": {
            name: split_summary(frame, labels, sources[name]) for name, frame in splits.items()
        },
        "duplicates_across_splits": duplicates,
        "leakage": leakage,
        "cleaning": report.to_summary(),
        "warnings": warnings,
    }
