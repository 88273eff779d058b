"""``data.leakage: drop``: remove from validation / test the examples that duplicate train.

An evaluation example the model was trained on scores its memory, not its skill. The
data checks always count such examples (``duplicates_across_splits``) and warn; with
``data.leakage: drop`` they are removed from validation and test before anything is
scored, and how many were removed is recorded (``data_summary.json`` "leakage") and
printed. What counts as a duplicate is the task's key: normalised text for texts
(:func:`tunelab.data.checks.normalize_for_overlap`), identical pixels for images.
Duplicates between validation and test are left alone: neither is trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from tunelab.errors import DataError

Split = TypeVar("Split")
EVAL_SPLITS = ("validation", "test")


def drop_leaks(
    splits: dict[str, Split],
    mode: str,
    keys: Callable[[Split], list[str]],
    take: Callable[[Split, list[int]], Split],
) -> tuple[dict[str, Split], dict[str, Any]]:
    """Splits without the evaluation examples whose key occurs in train (mode ``drop``),
    and the record of what was dropped (``{"mode", "dropped": {split: count}}``).

    Raises:
        DataError: every example of validation or test occurs in train.
    """
    dropped = {name: 0 for name in EVAL_SPLITS if name in splits}
    if mode != "drop":
        return splits, {"mode": mode, "dropped": dropped}
    seen = set(keys(splits["train"]))
    out = dict(splits)
    for name in dropped:
        split_keys = keys(splits[name])
        keep = [i for i, key in enumerate(split_keys) if key not in seen]
        if not keep:
            raise DataError(
                f"data.leakage: drop: all {len(split_keys)} {name} examples also occur in "
                f"train, leaving none to score; give data.{name} examples train does not hold"
            )
        dropped[name] = len(split_keys) - len(keep)
        if dropped[name]:
            out[name] = take(splits[name], keep)
    return out, {"mode": mode, "dropped": dropped}


def leakage_warnings(record: dict[str, Any], sizes: dict[str, int], noun: str) -> list[str]:
    """One line per evaluation split that lost examples (``sizes``: its rows after)."""
    return [
        f"data.leakage: drop removed {count} of {count + sizes[name]} {name} {noun} that "
        f"also occur in train; {name} scores use the other {sizes[name]}"
        for name, count in record["dropped"].items()
        if count
    ]


def take_rows(frame: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    """The rows of a table split at ``rows``, re-indexed (a ``take`` for tables)."""
    return frame.iloc[rows].reset_index(drop=True)
