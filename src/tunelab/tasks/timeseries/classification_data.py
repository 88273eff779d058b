"""Labelled series in, equal-length train / validation / test arrays and a summary out.

Validation and test come from their own files when given (a UCR set ships a TEST
file), else are split off the training pool, stratified and seeded, as for text.
Missing values, unequal lengths, channel counts and normalisation are reported in
``data_summary.json`` (``series``) and as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tunelab.data.splits import derive_splits, split_sources
from tunelab.errors import DataError
from tunelab.tasks.base import SPLIT_NAMES
from tunelab.tasks.timeseries.config import TSClassificationDataConfig
from tunelab.tasks.timeseries.readers import LabelledSeries, read_labelled
from tunelab.tasks.timeseries.series import length_stats, prepare_series


@dataclass
class SeriesSplit:
    """One split: ``values`` ``[N, C, T]`` (prepared) and ``labels``; ``raw`` as read."""

    values: np.ndarray
    labels: list[str]
    raw: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class SeriesSplits:
    """Train / validation / test, the class labels, and what was done to the data."""

    train: SeriesSplit
    validation: SeriesSplit
    test: SeriesSplit
    labels: list[str]
    channels: int
    length: int
    summary: dict[str, Any]
    warnings: list[str]


def prepare_classification_data(
    cfg: TSClassificationDataConfig, length: int, seed: int
) -> SeriesSplits:
    """Read, split, fill, resample and normalise the series of a classification run.

    Raises:
        DataError: no ``data.train``, unreadable files, channel counts that differ
            between files, or a test label never seen in training.
    """
    if not cfg.train:
        raise DataError(
            "data.train is not set; give a .ts file, a wide CSV or builtin:<Name>_TRAIN"
        )
    given = {
        name: read_labelled(source, f"data.{name}", cfg.label_column)
        for name in SPLIT_NAMES
        if (source := getattr(cfg, name))
    }
    pools = _split(given, cfg, seed)
    channels = {name: pool.series[0].shape[0] for name, pool in pools.items()}
    if len(set(channels.values())) > 1:
        raise DataError(
            f"channel counts differ between splits ({channels}); every file needs the same channels"
        )
    labels = sorted(set(pools["train"].labels))
    for name in ("validation", "test"):
        unseen = sorted(set(pools[name].labels) - set(labels))
        if unseen:
            raise DataError(
                f"data.{name}: label '{unseen[0]}' never occurs in data.train; "
                "remove those series or add training examples of it"
            )
    splits, counts = {}, {}
    for name, pool in pools.items():
        values, counts[name] = prepare_series(
            pool.series, length, cfg.normalize == "per_series", cfg.missing, f"data.{name}"
        )
        splits[name] = SeriesSplit(values, pool.labels, pool.series)
    summary, warnings = _summary(pools, counts, labels, length, cfg)
    return SeriesSplits(
        **splits, labels=labels, channels=channels["train"], length=length,
        summary=summary, warnings=warnings,
    )  # fmt: skip


def _split(
    given: dict[str, LabelledSeries], cfg: TSClassificationDataConfig, seed: int
) -> dict[str, LabelledSeries]:
    """Validation / test split off the training pool where no file gives them."""
    train = given["train"]
    frame = pd.DataFrame({"label": train.labels, "row": range(len(train))})
    derived = derive_splits(
        frame,
        seed,
        None if "validation" in given else cfg.val_fraction,
        None if "test" in given else cfg.test_fraction,
    )
    out = dict(given)
    for name, rows in derived.items():
        picked = rows["row"].tolist()
        out[name] = LabelledSeries(
            [train.series[i] for i in picked], [train.labels[i] for i in picked], train.source
        )
    return {name: out[name] for name in SPLIT_NAMES}


def _summary(
    pools: dict[str, LabelledSeries],
    counts: dict[str, dict[str, int]],
    labels: list[str],
    length: int,
    cfg: TSClassificationDataConfig,
) -> tuple[dict[str, Any], list[str]]:
    """``data_summary.json``: per split n, class counts, lengths and what was filled."""
    warnings = []
    missing = sum(c["missing_values"] for c in counts.values())
    if missing:
        warnings.append(f"{missing} missing values filled by linear interpolation")
    lengths = {name: length_stats(pool.series) for name, pool in pools.items()}
    if any(s["min"] != s["max"] for s in lengths.values()):
        warnings.append(f"series of unequal length ({_range(lengths)}) resampled to {length}")
    splits = {
        name: {
            "n": len(pool),
            "class_counts": pd.Series(pool.labels).value_counts().sort_index().to_dict(),
            "length_points": lengths[name],
            **counts[name],
        }
        for name, pool in pools.items()
    }
    return {
        "labels": labels,
        "splits": splits,
        "sources": split_sources(cfg),
        "series": {
            "channels": int(pools["train"].series[0].shape[0]),
            "resampled_to": length,
            "normalize": cfg.normalize,
            "missing": cfg.missing,
        },
        "warnings": warnings,
    }, warnings


def _range(lengths: dict[str, dict[str, int]]) -> str:
    low = min(s["min"] for s in lengths.values())
    high = max(s["max"] for s in lengths.values())
    return f"{low}-{high} points"
