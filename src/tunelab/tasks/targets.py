"""What any task does with targets that are not one class: ``data.problem_type``
multi_label or regression (HF's ``problem_type``), shared by text and image runs.

The objectives are :mod:`tunelab.tasks.problem_types`; this module holds the rest that
knows no input kind: the config keys, the settings such runs refuse, a split's labels
as stored (a multi-label example's labels joined by ``data.label_separator``, a
regression target as a float), the random splits (label sets and values have no
classes to stratify by), the target tensors, the data summary, the thresholds tuned
after training and the fields the model card keeps so a loaded model predicts label
sets or values. Prediction records and ``tunelab evaluate`` scoring are in
:mod:`tunelab.tasks.target_predictions`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from tunelab.config import Config
from tunelab.data.splits import SPLIT_NAMES
from tunelab.errors import ConfigError, DataError
from tunelab.objective import EvalResult, Objective
from tunelab.tasks.classification import ClassificationDataConfig, ClassificationTask
from tunelab.tasks.problem_types import (
    MultiLabelObjective,
    RegressionObjective,
    label_sets,
    multi_hot,
    tuned_metrics,
)

SINGLE = "single_label"
OBJECTIVES: dict[str, type[Objective]] = {
    "multi_label": MultiLabelObjective,
    "regression": RegressionObjective,
}
Split = TypeVar("Split")


class TargetDataConfig(ClassificationDataConfig):
    """Labelled examples whose target may be one class, a set of labels or a number."""

    # HF's problem_type: one class per example; a set of labels (a list, or a string
    # split on label_separator); or a number. See tunelab.tasks.targets.
    problem_type: Literal["single_label", "multi_label", "regression"] = SINGLE
    label_separator: str = Field(",", min_length=1)


class TargetTask(ClassificationTask):
    """A classification task whose ``data.problem_type`` may also be multi_label or
    regression: its objective (and so its metrics) follows the setting."""

    def objective_class_for(self, cfg: Config) -> type[Objective]:
        """Cross-entropy, or the objective of ``data.problem_type``."""
        return OBJECTIVES.get(cfg.data.problem_type, self.objective_class)

    def objective(self, cfg: Config, splits: Any) -> Objective:
        if cfg.data.problem_type == SINGLE:
            return super().objective(cfg, splits)
        return target_objective(cfg, splits.labels, self.train_labels(splits))


def check_settings(cfg: Config, task_keys: dict[str, bool] | None = None) -> None:
    """Refuse class-only settings a multi-label or regression run would ignore.

    Args:
        cfg: the run's config.
        task_keys: the task's own class-only keys, by name, and whether each is set.

    Raises:
        ConfigError: naming the key and what to do.
    """
    kind = cfg.data.problem_type
    ignored = {
        "data.min_class_count": cfg.data.min_class_count != 0,
        "data.max_per_class": cfg.data.max_per_class is not None,
        "train.label_smoothing": cfg.train.label_smoothing != 0.0,
        "train.class_weights": cfg.train.class_weights == "balanced",
        **(task_keys or {}),
    }
    for key, set_ in ignored.items():
        if set_:
            raise ConfigError(
                f"{key} applies to single-label classes, not data.problem_type {kind}; drop it"
            )


# ------------------------------------------------------------------------------ data
def stored_targets(values: pd.Series, cfg: TargetDataConfig, where: str) -> pd.Series:
    """A label column as a split stores it: label sets joined by ``label_separator``
    (lists and separated strings alike), or floats for regression.

    Raises:
        DataError: a regression target that is not a number, naming the row.
    """
    if cfg.problem_type == "regression":
        return numeric_targets(values, where, cfg.label_column)
    sets = label_sets(values.tolist(), cfg.label_separator)
    return pd.Series([cfg.label_separator.join(s) for s in sets], index=values.index)


def numeric_targets(values: pd.Series, where: str, column: str) -> pd.Series:
    """``values`` as floats (a missing value stays NaN).

    Raises:
        DataError: a value that is not a number, naming its row.
    """
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise DataError(
            f"{where}: column '{column}' row {row + 1} is {values.iloc[row]!r}, not a number; "
            "data.problem_type regression needs numeric targets"
        )
    return numbers.astype(float)


def random_split_rows(
    pool_size: int, held_out: dict[str, float], seed: int
) -> dict[str, list[int]]:
    """Rows of a training pool for test, then validation, then train, drawn at random
    (seeded): label sets or values have no classes to stratify by.

    Args:
        pool_size: rows in the training pool.
        held_out: the fraction of the pool to take for ``"test"`` / ``"validation"``
            (a split given as its own source is left out).
        seed: ``data.seed``.

    Raises:
        DataError: the held-out splits would leave no training rows.
    """
    order = pd.RangeIndex(pool_size).to_series().sample(frac=1.0, random_state=seed).tolist()
    rows: dict[str, list[int]] = {}
    for name in ("test", "validation"):
        if name not in held_out:
            continue
        size = max(1, round(held_out[name] * pool_size))
        if size >= len(order):
            raise DataError(
                f"data.{name}: {pool_size} training rows leave none to train on "
                f"after data.val_fraction / data.test_fraction; add rows or lower them"
            )
        rows[name], order = order[:size], order[size:]
    rows["train"] = order
    return rows


def complete_random_splits(
    given: dict[str, Split],
    cfg: TargetDataConfig,
    seed: int,
    take: Callable[[Split, list[int]], Split],
) -> dict[str, Split]:
    """The given splits as they are, missing validation / test drawn at random (seeded,
    :func:`random_split_rows`) from train; ordered train, validation, test.

    ``take`` picks rows of a split (a table's, decoded images'), so every input kind
    draws alike.
    """
    fractions = {"test": cfg.test_fraction, "validation": cfg.val_fraction}
    held_out = {name: f for name, f in fractions.items() if name not in given}
    rows = random_split_rows(len(given["train"]), held_out, seed)
    drawn = {name: take(given["train"], part) for name, part in rows.items()}
    merged = {**given, **drawn}  # train: what is left after drawing
    return {name: merged[name] for name in SPLIT_NAMES}


def training_labels(train: Sequence[str], separator: str, where: str) -> list[str]:
    """Every label of the training split's label sets, sorted: the head's outputs.

    Raises:
        DataError: the training split holds no label at all.
    """
    labels = sorted({label for chosen in label_sets(train, separator) for label in chosen})
    if not labels:
        raise DataError(f"{where}: the label column holds no labels")
    return labels


def require_known_labels(
    splits: dict[str, Sequence[Any]], labels: list[str], cfg: TargetDataConfig
) -> None:
    """Every split's label sets use only training labels.

    Raises:
        DataError: naming the split, the example and the label training never saw.
    """
    for name, values in splits.items():
        try:
            target_matrix(values, labels, cfg)
        except DataError as err:
            raise DataError(f"data.{name}: {err}; add it to data.train or drop it") from None


def target_matrix(values: Sequence[Any], labels: list[str], cfg: TargetDataConfig) -> np.ndarray:
    """The float targets of a split: multi-hot rows, or the values.

    Raises:
        DataError: a multi-label example with a label training never saw.
    """
    if cfg.problem_type == "regression":
        return np.asarray(values, dtype=np.float32)
    return multi_hot(label_sets(values, cfg.label_separator), labels)


def target_summary(
    splits: dict[str, Sequence[Any]], labels: list[str], cfg: TargetDataConfig
) -> dict[str, Any]:
    """What ``data_summary.json`` says of the targets: label counts per split, or the
    target's mean, std, min and max per split."""
    summary: dict[str, Any] = {"problem_type": cfg.problem_type, "labels": labels}
    for name, values in splits.items():
        if cfg.problem_type == "regression":
            array = np.asarray(values, dtype=np.float64)
            summary.setdefault("target", {})[name] = {
                "mean": float(array.mean()),
                "std": float(array.std()),
                "min": float(array.min()),
                "max": float(array.max()),
            }
        else:
            hot = target_matrix(values, labels, cfg)
            counts = dict(zip(labels, hot.sum(0).astype(int).tolist(), strict=True))
            summary.setdefault("label_counts", {})[name] = counts
    return summary


# --------------------------------------------------------------------- training side
def target_objective(cfg: Config, labels: list[str], train: Sequence[Any]) -> Objective:
    """The run's objective: BCE over the training labels, or MSE on targets
    standardised with the training split's mean and std."""
    if cfg.data.problem_type == "regression":
        return RegressionObjective.from_targets([float(v) for v in train])
    return MultiLabelObjective(labels)


@torch.inference_mode()
def evaluate_split(
    model: torch.nn.Module, source: Any, objective: Objective, device: Any, batch_size: int
) -> EvalResult:
    """The objective's evaluation of ``model`` on a batch source (eval mode)."""
    model.eval()

    def batches():
        for indices in source.eval_batches(batch_size):
            batch = {k: v.to(device) for k, v in source.collate(indices).items()}
            targets_ = batch.pop("labels")
            yield indices, model(**batch).float(), targets_

    return objective.evaluate(batches(), len(source))


def final_target_metrics(
    task: Any, cfg: Config, model: torch.nn.Module, built: Any, splits: Any, device: Any
) -> dict:
    """Multi-label: thresholds tuned on validation, the test metrics they give; kept on
    ``splits.thresholds`` for the saved model. Regression: nothing to add."""
    if cfg.data.problem_type != "multi_label":
        return {}
    sources = task.batch_sources(cfg, built, splits, False, None)
    objective = MultiLabelObjective(splits.labels)
    size = cfg.train.eval_batch_size
    val = evaluate_split(model, sources["validation"], objective, device, size)
    test = evaluate_split(model, sources["test"], objective, device, size)
    tuned = tuned_metrics(splits.labels, val, test)
    splits.thresholds = tuned["thresholds"]
    return tuned


def card_fields(cfg: Config, splits: Any, train: Sequence[Any]) -> dict[str, Any]:
    """What the model card adds, so a loaded model predicts label sets or values:
    the tuned thresholds, or the standardisation the head learnt."""
    fields: dict[str, Any] = {"problem_type": cfg.data.problem_type}
    if cfg.data.problem_type == "multi_label":
        fields["thresholds"] = getattr(splits, "thresholds", dict.fromkeys(splits.labels, 0.5))
        fields["label_separator"] = cfg.data.label_separator
    else:
        scaling = target_objective(cfg, splits.labels, train)
        fields["target_mean"], fields["target_std"] = scaling.mean, scaling.std
    return fields
