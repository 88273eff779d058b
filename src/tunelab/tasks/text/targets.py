"""Text runs whose targets are not one class: ``data.problem_type`` multi_label or
regression (HF's ``problem_type``). What any task shares (objectives, splits, summary,
thresholds, card fields) is :mod:`tunelab.tasks.targets`; this module reads a text
table's targets, builds the token sources' target tensors, predicts label sets or
values from texts and scores ``tunelab evaluate``.

A split's ``label`` column holds a multi-label example's labels joined by
``data.label_separator`` (in the order of ``splits.labels``), or a regression target as
a float; ``splits.labels`` is every training label, or ``[data.label_column]`` for
regression, so the head has one output per label, or one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from tunelab.config import Config
from tunelab.data.cleaning import normalize_text, require_scalars
from tunelab.data.leakage import take_rows
from tunelab.errors import DataError
from tunelab.tasks.target_predictions import (
    evaluate_targets,
    label_set_predictions,
    thresholds_tensor,
    value_predictions,
)
from tunelab.tasks.targets import (
    complete_random_splits,
    require_known_labels,
    stored_targets,
    target_matrix,
    target_summary,
    training_labels,
)
from tunelab.tasks.text.config import TextDataConfig
from tunelab.tasks.text.data import TextSplits, _load_tables
from tunelab.tasks.text.predictor import Predictor


# ------------------------------------------------------------------------------ data
def prepare_target_data(cfg: TextDataConfig, seed: int) -> TextSplits:
    """Read, clean, split and summarise a multi-label or regression text table.

    Raises:
        DataError: a missing column, a regression target that is not a number, or an
            evaluation label never seen in training.
    """
    tables = _load_tables(cfg)
    frames = {name: _clean(t.frame, cfg, f"data.{name} ({t.origin})") for name, t in tables.items()}
    splits = complete_random_splits(frames, cfg, seed, take_rows)
    if cfg.problem_type == "regression":
        labels = [cfg.label_column]
    else:
        labels = training_labels(
            splits["train"]["label"].tolist(), cfg.label_separator, "data.train"
        )
        require_known_labels({n: f["label"].tolist() for n, f in splits.items()}, labels, cfg)
    summary = {
        "rows": {name: len(frame) for name, frame in splits.items()},
        **target_summary({n: f["label"].tolist() for n, f in splits.items()}, labels, cfg),
        "warnings": [],
    }
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
        {
            "text": frame[cfg.text_column].map(normalize_text),
            "label": stored_targets(frame[cfg.label_column], cfg, where),
        }
    )
    rows = rows.dropna(subset=["text", "label"])
    if cfg.dedupe:
        rows = rows.drop_duplicates(subset="text")
    return rows.reset_index(drop=True)


def with_targets(sources: dict[str, Any], splits: TextSplits, cfg: Config) -> dict[str, Any]:
    """Token batch sources whose ``labels`` are the float targets."""
    for name, source in sources.items():
        values = getattr(splits, name)["label"].tolist()
        source.labels = torch.as_tensor(target_matrix(values, splits.labels, cfg.data))
    return sources


# ----------------------------------------------------------------------- prediction
class MultiLabelPredictor(Predictor):
    """Sigmoid per label; a label is predicted at or above its tuned threshold."""

    problem_type = "multi_label"

    def __init__(self, *args: Any, thresholds: dict[str, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.thresholds = thresholds_tensor(self.labels, thresholds)

    def predict_proba(self, texts, batch_size: int = 64) -> torch.Tensor:
        return self.outputs(texts, batch_size).sigmoid()

    def predict(self, texts, batch_size: int = 64) -> list:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        probabilities = self.predict_proba(texts, batch_size)
        return label_set_predictions(self.labels, probabilities, self.thresholds)


class RegressionPredictor(Predictor):
    """One value per text, in the target's units."""

    problem_type = "regression"

    def __init__(self, *args: Any, mean: float, std: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mean, self.std = mean, std

    def predict(self, texts, batch_size: int = 64) -> list:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        return value_predictions(self.outputs(texts, batch_size) * self.std + self.mean)


def target_predictor(base: Predictor, card: dict[str, Any]) -> Predictor:
    """``base`` (a classifier's predictor) as the predictor of the card's problem type."""
    common = (base.model, base.tokenizer, base.labels, base.max_length, base.device)
    if card.get("problem_type") == "multi_label":
        return MultiLabelPredictor(*common, thresholds=card["thresholds"])
    return RegressionPredictor(*common, mean=card["target_mean"], std=card["target_std"])


def evaluate_text_targets(
    predictor: Predictor, run_dir: Path, data: str, columns: dict[str, str | None]
) -> dict:
    """``tunelab evaluate`` of a multi-label or regression text run on a table.

    Raises:
        DataError: a missing column, no usable rows, a label the model never saw or a
            target that is not a number.
    """
    from tunelab.metrics import measure_latency
    from tunelab.tasks.text.evaluate import read_labelled_table, run_data_setting

    frame, text_col, label_col = read_labelled_table(run_dir, data, columns)
    texts = frame[text_col].map(normalize_text)
    rows = frame[texts.notna() & frame[label_col].notna()]
    if rows.empty:
        raise DataError(f"--data {data}: no rows with both a text and a label")
    inputs = texts[rows.index].tolist()
    separator = run_data_setting(run_dir, "label_separator", ",")
    where = f"--data {data}"
    metrics = evaluate_targets(
        predictor, inputs, rows[label_col].tolist(), (label_col, separator), where
    )
    metrics.update(measure_latency(lambda t: predictor.predict([t]), inputs[:50]))
    metrics["n"] = len(inputs)
    return metrics
