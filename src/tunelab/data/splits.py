"""Seeded, stratified train / validation / test splits as pure functions.

When ``data.test`` or ``data.validation`` is not given it is split off the training pool:
test first, then validation from what is left, with both sizes computed from the whole
pool (``ceil(fraction * n)``), so ``val_fraction: 0.1`` means a tenth of all rows whether
or not a test split was taken first. Splits are stratified, so each keeps the pool's
class proportions, and the same seed always gives the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
from sklearn.model_selection import train_test_split

from tunelab.config import DataConfig
from tunelab.errors import DataError

SPLIT_NAMES = ("train", "validation", "test")
Split = TypeVar("Split")

# Guards ceil() against float noise: 0.1 * 30 is 3.0000000000000004, which means 3 rows.
_EPSILON = 1e-9


@dataclass(frozen=True)
class HeldOut:
    """A split to take off the training pool, sized as a fraction of the whole pool.

    Attributes:
        name: ``"validation"`` or ``"test"``.
        fraction: ``data.val_fraction`` or ``data.test_fraction``.
        pool_size: rows in the whole training pool (before any split was taken off).
        both: validation and test are both taken off the pool (changes the advice given).
    """

    name: str
    fraction: float
    pool_size: int
    both: bool = False

    @property
    def where(self) -> str:
        return f"data.{self.name}"

    @property
    def fraction_key(self) -> str:
        return "data.val_fraction" if self.name == "validation" else "data.test_fraction"

    @property
    def size(self) -> int:
        return held_out_size(self.fraction, self.pool_size)


def split_sources(cfg: DataConfig) -> dict[str, str]:
    """Where each split's rows came from, for the data summary."""
    return {
        "train": str(cfg.train),
        "validation": cfg.validation or f"split from data.train (val_fraction {cfg.val_fraction})",
        "test": cfg.test or f"split from data.train (test_fraction {cfg.test_fraction})",
    }


def held_out_size(fraction: float, n_rows: int) -> int:
    """Rows a fraction of ``n_rows`` amounts to, rounded up (at least one)."""
    return max(1, math.ceil(fraction * n_rows - _EPSILON))


def derive_splits(
    pool: pd.DataFrame,
    seed: int,
    val_fraction: float | None,
    test_fraction: float | None,
) -> dict[str, pd.DataFrame]:
    """Split validation and / or test rows off the training pool.

    Args:
        pool: clean ``text`` / ``label`` rows given for training.
        seed: the run seed; the same seed gives the same split.
        val_fraction: fraction of the pool to hold out for validation, or None when the
            validation split comes from its own source.
        test_fraction: the same for test.

    Returns:
        ``{"train": ..., "validation": ..., "test": ...}`` for the splits it made (train
        always), each with its index reset.

    Raises:
        DataError: fractions that leave no training rows, a class too small to stratify,
            or a held-out split smaller than the number of classes.
    """
    both = bool(val_fraction and test_fraction)
    if both and val_fraction + test_fraction >= 1:
        raise DataError(
            f"data.val_fraction ({val_fraction}) + data.test_fraction ({test_fraction}) "
            "leave no training rows; make their sum less than 1"
        )
    train, splits = pool, {}
    # Test first, then validation from what is left; both sized from the whole pool.
    for name, fraction in (("test", test_fraction), ("validation", val_fraction)):
        if fraction:
            held = HeldOut(name, fraction, pool_size=len(pool), both=both)
            train, splits[name] = stratified_split(train, held, seed)
    splits["train"] = train.reset_index(drop=True)
    return splits


def complete_splits(
    given: dict[str, Split],
    cfg: DataConfig,
    seed: int,
    labels: Callable[[Split], Sequence[str]],
    take: Callable[[Split, list[int]], Split],
) -> dict[str, Split]:
    """The given splits as they are, the missing ones split off ``given["train"]``;
    ordered train, validation, test.

    Only the pool's labels are split (:func:`derive_splits`), then ``take`` picks each
    split's rows, so a table, decoded images or decoded clips split alike.
    """
    pool = given["train"]
    pool_labels = list(labels(pool))
    frame = pd.DataFrame({"row": range(len(pool_labels)), "label": pool_labels})
    derived = derive_splits(
        frame,
        seed,
        val_fraction=None if "validation" in given else cfg.val_fraction,
        test_fraction=None if "test" in given else cfg.test_fraction,
    )
    merged = {**given, **{name: take(pool, part["row"].tolist()) for name, part in derived.items()}}
    return {name: merged[name] for name in SPLIT_NAMES}


def stratified_split(
    frame: pd.DataFrame, held: HeldOut, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Take ``held.size`` rows off ``frame``, keeping class proportions; (rest, held-out).

    sklearn's own errors here ("The least populated class in y has only 1 member") do not
    say which setting to change, so both of its preconditions are checked first.

    Raises:
        DataError: a class with fewer than 2 rows, or a side smaller than the class count.
    """
    _require_two_per_class(frame, held)
    _require_room_per_class(frame, held)
    rest, taken = train_test_split(
        frame, test_size=held.size, random_state=seed, shuffle=True, stratify=frame["label"]
    )
    return rest.reset_index(drop=True), taken.reset_index(drop=True)


def _require_two_per_class(frame: pd.DataFrame, held: HeldOut) -> None:
    sizes = frame["label"].value_counts()
    small = sizes[sizes < 2].sort_index()
    if small.empty:
        return
    name, count = str(small.index[0]), int(small.iloc[0])
    others = f" (and {len(small) - 1} other classes)" if len(small) > 1 else ""
    both = held.both
    left = " left after splitting off data.test" if held.name == "validation" and both else ""
    provide = "data.validation and data.test" if both else held.where
    raise DataError(
        f"{held.where}: cannot split it off data.train: class '{name}' has {count} "
        f"example{left}{others}, and a stratified split needs at least 2 per class; set "
        f"data.min_class_count: {3 if both else 2} or provide {provide}"
    )


def _require_room_per_class(frame: pd.DataFrame, held: HeldOut) -> None:
    """sklearn needs every class represented on both sides; say which fraction to change."""
    n_classes, size, pool = int(frame["label"].nunique()), held.size, held.pool_size
    if size < n_classes:
        enough = math.ceil(100 * n_classes / pool) / 100
        raise DataError(
            f"{held.where}: {held.fraction_key} {held.fraction} of {pool} rows gives "
            f"{size} examples, fewer than the {n_classes} classes; set {held.fraction_key} "
            f"to at least {enough} or provide {held.where}"
        )
    if len(frame) - size < n_classes:
        raise DataError(
            f"{held.where}: {held.fraction_key} {held.fraction} leaves {len(frame) - size} "
            f"training rows, fewer than the {n_classes} classes; lower {held.fraction_key} "
            "or add training rows"
        )
