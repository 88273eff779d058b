"""Text runs whose targets are not one class: ``data.problem_type`` multi_label or
regression (HF's ``problem_type``). The objectives are :mod:`tunelab.tasks.problem_types`;
this module reads and splits the data, builds the target tensors, tunes the
multi-label thresholds after training and predicts label sets or values.

A split's ``label`` column holds a multi-label example's labels joined by
``data.label_separator`` (in the order of ``splits.labels``), or a regression target as
a float; ``splits.labels`` is every training label, or ``[data.label_column]`` for
regression, so the head has one output per label, or one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunelab.config import Config
from tunelab.data.cleaning import normalize_text, require_scalars
from tunelab.errors import ConfigError, DataError
from tunelab.objective import EvalResult, Objective
from tunelab.tasks.problem_types import (
    MultiLabelObjective,
    RegressionObjective,
    label_sets,
    multi_hot,
    tuned_metrics,
)
from tunelab.tasks.text.config import TextDataConfig
from tunelab.tasks.text.data import SPLIT_NAMES, TextSplits, _load_tables
from tunelab.tasks.text.predictor import Predictor

SINGLE = "single_label"
OBJECTIVES: dict[str, type[Objective]] = {
    "multi_label": MultiLabelObjective,
    "regression": RegressionObjective,
}


# ------------------------------------------------------------------------------ data
def check_settings(cfg: Config) -> None:
    """Refuse class-only settings a multi-label or regression run would ignore.

    Raises:
        ConfigError: naming the key and what to do.
    """
    kind = cfg.data.problem_type
    ignored = {
        "data.min_class_count": cfg.data.min_class_count != 0,
        "data.max_per_class": cfg.data.max_per_class is not None,
        "train.label_smoothing": cfg.train.label_smoothing != 0.0,
        "train.class_weights": cfg.train.class_weights == "balanced",
    }
    for key, set_ in ignored.items():
        if set_:
            raise ConfigError(
                f"{key} applies to single-label classes, not data.problem_type {kind}; drop it"
            )


def prepare_target_data(cfg: TextDataConfig, seed: int) -> TextSplits:
    """Read, clean, split and summarise a multi-label or regression text table.

    Raises:
        DataError: a missing column, a regression target that is not a number, or an
            evaluation label never seen in training.
    """
    tables = _load_tables(cfg)
    frames = {name: _clean(t.frame, cfg, f"data.{name} ({t.origin})") for name, t in tables.items()}
    splits = _complete(frames, cfg, seed)
    if cfg.problem_type == "regression":
        labels = [cfg.label_column]
    else:
        sets = label_sets(splits["train"]["label"], cfg.label_separator)
        labels = sorted({label for chosen in sets for label in chosen})
        if not labels:
            raise DataError(f"data.train: column '{cfg.label_column}' holds no labels")
        for name in SPLIT_NAMES:  # DataError for a label training never saw
            multi_hot(label_sets(splits[name]["label"], cfg.label_separator), labels)
    summary = _summary(splits, labels, cfg)
    return TextSplits(**splits, labels=labels, summary=summary, warnings=[])


def _clean(frame: pd.DataFrame, cfg: TextDataConfig, where: str) -> pd.DataFrame:
    """``text`` and ``label`` columns; rows without either dropped, duplicates too."""
    for column, key in ((cfg.text_column, "text_column"), (cfg.label_column, "label_column")):
        if column not in frame.columns:
            columns = ", ".join(str(c) for c in frame.columns)
            raise DataError(
                f"{where}: no column '{column}'; columns are: {columns}; set data.{key}"
            )
    require_scalars(frame[cfg.text_column], where, cfg.text_column, "text_column")
    rows = pd.DataFrame(
        {"text": frame[cfg.text_column].map(normalize_text), "label": frame[cfg.label_column]}
    )
    if cfg.problem_type == "regression":
        rows["label"] = _numbers(rows["label"], where, cfg.label_column)
    else:
        rows["label"] = [
            cfg.label_separator.join(s) for s in label_sets(rows["label"], cfg.label_separator)
        ]
    rows = rows.dropna(subset=["text", "label"])
    if cfg.dedupe:
        rows = rows.drop_duplicates(subset="text")
    return rows.reset_index(drop=True)


def _numbers(values: pd.Series, where: str, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise DataError(
            f"{where}: column '{column}' row {row + 1} is {values.iloc[row]!r}, not a number; "
            "data.problem_type regression needs numeric targets"
        )
    return numbers.astype(float)


def _complete(
    frames: dict[str, pd.DataFrame], cfg: TextDataConfig, seed: int
) -> dict[str, pd.DataFrame]:
    """Missing validation / test rows drawn at random (seeded) from train: with label sets
    or values there are no classes to stratify by."""
    pool = frames["train"].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    out = {}
    for name, fraction in (("test", cfg.test_fraction), ("validation", cfg.val_fraction)):
        if name in frames:
            out[name] = frames[name]
            continue
        size = max(1, round(fraction * len(frames["train"])))
        if size >= len(pool):
            raise DataError(
                f"data.{name}: {len(frames['train'])} training rows leave none to train on "
                f"after data.val_fraction / data.test_fraction; add rows or lower them"
            )
        out[name], pool = pool.iloc[:size].reset_index(drop=True), pool.iloc[size:]
    out["train"] = pool.reset_index(drop=True)
    return {name: out[name] for name in SPLIT_NAMES}


def _summary(
    splits: dict[str, pd.DataFrame], labels: list[str], cfg: TextDataConfig
) -> dict[str, Any]:
    """``data_summary.json``: rows per split and label counts, or target statistics."""
    summary: dict[str, Any] = {
        "problem_type": cfg.problem_type,
        "rows": {name: len(frame) for name, frame in splits.items()},
        "labels": labels,
        "warnings": [],
    }
    for name, frame in splits.items():
        if cfg.problem_type == "regression":
            values = frame["label"].astype(float)
            summary.setdefault("target", {})[name] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=0)),
                "min": float(values.min()),
                "max": float(values.max()),
            }
        else:
            hot = targets(frame, labels, cfg)
            counts = dict(zip(labels, hot.sum(0).astype(int).tolist(), strict=True))
            summary.setdefault("label_counts", {})[name] = counts
    return summary


def targets(frame: pd.DataFrame, labels: list[str], cfg: TextDataConfig) -> np.ndarray:
    """The float targets of a split: multi-hot rows, or the values."""
    if cfg.problem_type == "regression":
        return frame["label"].to_numpy(dtype=np.float32)
    return multi_hot(label_sets(frame["label"], cfg.label_separator), labels)


# --------------------------------------------------------------------- training side
def target_objective(cfg: Config, splits: TextSplits) -> Objective:
    """The run's objective: BCE over the training labels, or standardised MSE."""
    if cfg.data.problem_type == "regression":
        return RegressionObjective.from_targets(splits.train["label"].astype(float).tolist())
    return MultiLabelObjective(splits.labels)


def with_targets(sources: dict[str, Any], splits: TextSplits, cfg: Config) -> dict[str, Any]:
    """Token batch sources whose ``labels`` are the float targets."""
    for name, source in sources.items():
        source.labels = torch.as_tensor(targets(getattr(splits, name), splits.labels, cfg.data))
    return sources


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
    task: Any, cfg: Config, model: torch.nn.Module, built: Any, splits: TextSplits, device: Any
) -> dict:
    """Multi-label: thresholds tuned on validation, the test metrics they give; kept on
    ``splits`` for the saved model. Regression: nothing to add."""
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


def card_fields(cfg: Config, splits: TextSplits) -> dict[str, Any]:
    """What the model card adds, so a loaded model predicts label sets or values."""
    fields: dict[str, Any] = {"problem_type": cfg.data.problem_type}
    if cfg.data.problem_type == "multi_label":
        fields["thresholds"] = getattr(splits, "thresholds", dict.fromkeys(splits.labels, 0.5))
        fields["label_separator"] = cfg.data.label_separator
    else:
        scaling = target_objective(cfg, splits)  # the standardisation the head learnt
        fields["target_mean"], fields["target_std"] = scaling.mean, scaling.std
    return fields


# ----------------------------------------------------------------------- prediction
@dataclass
class LabelSet:
    """One text's predicted labels (probability at or above the label's threshold)."""

    labels: list[str]
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "probabilities": self.probabilities}


@dataclass
class Value:
    """One text's predicted regression value."""

    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value}


class MultiLabelPredictor(Predictor):
    """Sigmoid per label; a label is predicted at or above its tuned threshold."""

    problem_type = "multi_label"

    def __init__(self, *args: Any, thresholds: dict[str, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.thresholds = torch.tensor([thresholds[label] for label in self.labels])

    def predict_proba(self, texts, batch_size: int = 64) -> torch.Tensor:
        return self.outputs(texts, batch_size).sigmoid()

    def predict(self, texts, batch_size: int = 64) -> list[LabelSet]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        probs = self.predict_proba(texts, batch_size)
        return [
            LabelSet(
                [
                    label
                    for label, on in zip(self.labels, row >= self.thresholds, strict=True)
                    if on
                ],
                {label: float(p) for label, p in zip(self.labels, row, strict=True)},
            )
            for row in probs
        ]


class RegressionPredictor(Predictor):
    """One value per text, in the target's units."""

    problem_type = "regression"

    def __init__(self, *args: Any, mean: float, std: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mean, self.std = mean, std

    def predict(self, texts, batch_size: int = 64) -> list[Value]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        values = self.outputs(texts, batch_size).reshape(-1) * self.std + self.mean
        return [Value(float(v)) for v in values]


def target_predictor(base: Predictor, card: dict[str, Any]) -> Predictor:
    """``base`` (a classifier's predictor) as the predictor of the card's problem type."""
    common = (base.model, base.tokenizer, base.labels, base.max_length, base.device)
    if card.get("problem_type") == "multi_label":
        return MultiLabelPredictor(*common, thresholds=card["thresholds"])
    return RegressionPredictor(*common, mean=card["target_mean"], std=card["target_std"])
