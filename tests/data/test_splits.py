"""Stratified splits: seeded, proportional, sized from the whole pool, clear when impossible."""

from __future__ import annotations

import pandas as pd
import pytest

from tunelab.data.splits import derive_splits, held_out_size
from tunelab.errors import DataError


def _pool(sizes: dict[str, int]) -> pd.DataFrame:
    rows = [(f"{label} {i}", label) for label, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["text", "label"])


def _counts(splits: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    return {name: frame["label"].value_counts().to_dict() for name, frame in splits.items()}


POOL = _pool({"a": 60, "b": 30, "c": 10})


def test_both_splits_keep_class_proportions_and_fractions_of_the_whole():
    splits = derive_splits(POOL, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert _counts(splits) == {
        "test": {"a": 12, "b": 6, "c": 2},
        "validation": {"a": 6, "b": 3, "c": 1},  # 10% of all 100 rows, not of the 80 left
        "train": {"a": 42, "b": 21, "c": 7},
    }


def test_splits_partition_the_pool_and_reset_the_index():
    splits = derive_splits(POOL, seed=0, val_fraction=0.1, test_fraction=0.2)
    texts = [t for frame in splits.values() for t in frame["text"]]
    assert sorted(texts) == sorted(POOL["text"])
    for frame in splits.values():
        assert frame.index.tolist() == list(range(len(frame)))


def test_same_seed_same_rows_other_seed_other_rows():
    first = derive_splits(POOL, seed=7, val_fraction=0.1, test_fraction=0.1)
    again = derive_splits(POOL, seed=7, val_fraction=0.1, test_fraction=0.1)
    other = derive_splits(POOL, seed=8, val_fraction=0.1, test_fraction=0.1)
    for name in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(first[name], again[name])
    assert set(first["test"]["text"]) != set(other["test"]["text"])


def test_only_validation_when_test_is_given():
    splits = derive_splits(POOL, seed=0, val_fraction=0.25, test_fraction=None)
    assert set(splits) == {"train", "validation"}
    assert (len(splits["train"]), len(splits["validation"])) == (75, 25)


def test_nothing_derived_when_both_are_given():
    splits = derive_splits(POOL, seed=0, val_fraction=None, test_fraction=None)
    assert list(splits) == ["train"]
    assert len(splits["train"]) == 100


@pytest.mark.parametrize(
    ("fraction", "n_rows", "expected"), [(0.1, 30, 3), (0.1, 31, 4), (0.01, 10, 1), (0.5, 7, 4)]
)
def test_held_out_size_rounds_up_without_float_noise(fraction, n_rows, expected):
    assert held_out_size(fraction, n_rows) == expected


def test_singleton_class_names_class_count_and_fixes():
    pool = _pool({"a": 20, "b": 20, "health": 1})
    with pytest.raises(DataError) as err:
        derive_splits(pool, seed=0, val_fraction=0.1, test_fraction=None)
    assert str(err.value) == (
        "data.validation: cannot split it off data.train: class 'health' has 1 example, and "
        "a stratified split needs at least 2 per class; set data.min_class_count: 2 or "
        "provide data.validation"
    )


def test_singleton_with_both_splits_suggests_three_and_both_files():
    pool = _pool({"a": 20, "b": 20, "c": 1, "d": 1})
    with pytest.raises(DataError, match=r"^data\.test: .*class 'c' has 1 example \(and 1 other"):
        derive_splits(pool, seed=0, val_fraction=0.1, test_fraction=0.1)
    with pytest.raises(DataError, match=r"min_class_count: 3 or provide data.validation and"):
        derive_splits(pool, seed=0, val_fraction=0.1, test_fraction=0.1)


def test_split_smaller_than_the_class_count_suggests_a_fraction():
    pool = _pool({label: 10 for label in "abcdefghij"})  # 100 rows, 10 classes
    with pytest.raises(DataError) as err:
        derive_splits(pool, seed=0, val_fraction=0.05, test_fraction=None)
    assert str(err.value) == (
        "data.validation: data.val_fraction 0.05 of 100 rows gives 5 examples, fewer than the "
        "10 classes; set data.val_fraction to at least 0.1 or provide data.validation"
    )


def test_training_side_smaller_than_the_class_count():
    pool = _pool({label: 2 for label in "abcde"})  # 10 rows, 5 classes
    with pytest.raises(DataError, match=r"data.test_fraction 0.6 leaves 4 training rows, fewer"):
        derive_splits(pool, seed=0, val_fraction=None, test_fraction=0.6)


def test_fractions_that_leave_nothing_to_train_on():
    with pytest.raises(DataError, match=r"val_fraction \(0\.5\) \+ data\.test_fraction \(0\.5\)"):
        derive_splits(POOL, seed=0, val_fraction=0.5, test_fraction=0.5)
