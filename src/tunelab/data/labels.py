"""Labels that are not class names: regression targets and multi-label sets.

A classifier takes every distinct label as a class. A float target ("3.72") then becomes
one class per value, and "travel,finance" a class of its own beside "travel" and
"finance": the run trains a nonsense model, or fails later on a split that cannot be
stratified. :func:`check_label_kind` finds both on the training pool and stops with one
line saying what it found and what to do.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from tunelab.errors import DataError

# A label with one of these between two non-empty parts may be a set of labels.
_SEPARATORS = re.compile(r"\s*[,|;]\s*")
_LIST_LIKE = re.compile(r"^\s*[\[(].*[\])]\s*$")
MANY_VALUES = 20  # distinct integers beyond this (and beyond half the rows): a quantity
FEW_DECIMALS = 5  # distinct non-integral numbers beyond this: a measured target


def check_label_kind(labels: pd.Series, where: str = "data.train") -> None:
    """Refuse labels that look like a regression target or like multi-label sets.

    Args:
        labels: the training pool's labels as strings (missing ones already dropped).
        where: the config key of the source, for the message.

    Raises:
        DataError: what was found (with examples) and what to do instead.
    """
    found = regression_like(labels) or multi_label_like(labels)
    if found is not None:
        raise DataError(f"{where}: data.label_column {found}")


def regression_like(labels: pd.Series) -> str | None:
    """Why ``labels`` look like a numeric target rather than class names, or None."""
    distinct = pd.Series(labels.unique())
    numbers = pd.to_numeric(distinct, errors="coerce")
    if len(distinct) == 0 or numbers.isna().any() or not numbers.map(math.isfinite).all():
        return None
    fractional = int((numbers % 1 != 0).sum())
    many = len(distinct) > MANY_VALUES and len(distinct) > len(labels) / 2
    if fractional <= FEW_DECIMALS and not many:
        return None
    examples = ", ".join(distinct.head(3))
    return (
        f"looks like a regression target ({len(distinct)} distinct numbers among "
        f"{len(labels)} rows, e.g. {examples}): a classifier would make each value its own "
        "class; bin the values into named classes (e.g. low/medium/high) in that column"
    )


def multi_label_like(labels: pd.Series) -> str | None:
    """Why ``labels`` look like sets of labels ("a,b", "a|b", "['a', 'b']"), or None."""
    distinct = set(labels.unique())
    for label in sorted(distinct):
        parts = [p.strip(" '\"") for p in _SEPARATORS.split(label.strip("[]() "))]
        listed = bool(_LIST_LIKE.match(label)) and len(parts) > 1
        combined = len(parts) > 1 and all(p in distinct for p in parts)
        if listed or combined:
            rows = int(labels.map(lambda v: bool(_SEPARATORS.search(v))).sum())
            return (
                f"looks multi-label ('{label}' combines {', '.join(map(repr, parts))}; "
                f"{rows} of {len(labels)} rows hold a separator): tunelab trains single-label "
                "classifiers, so each combination would become a class of its own; give one "
                "label per row (or one row per label)"
            )
    return None
