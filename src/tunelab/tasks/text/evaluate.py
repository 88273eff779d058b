"""``tunelab evaluate`` for a text run: a labelled table, columns as in the run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from tunelab.data import read_table
from tunelab.data.cleaning import normalize_label, normalize_text
from tunelab.errors import DataError
from tunelab.metrics import classification_metrics, measure_latency
from tunelab.tasks.text.predictor import Predictor


def read_labelled_table(
    run_dir: Path, data: str, columns: dict[str, str | None]
) -> tuple[pd.DataFrame, str, str]:
    """The table ``data`` and its text and label column names (``columns``' or, where
    unset, the run's), for every kind of text run ``tunelab evaluate`` scores.

    Raises:
        DataError: an unreadable table, or a missing column (with the options to pass).
    """
    text_col, label_col = run_columns(run_dir, columns.get("text"), columns.get("label"))
    frame = read_table(data, where="--data")
    for column in (text_col, label_col):
        if column not in frame.columns:
            found = ", ".join(map(str, frame.columns))
            raise DataError(
                f"--data {data}: no column '{column}'; columns are: {found}; "
                "pass --text-column/--label-column"
            )
    return frame, text_col, label_col


def evaluate_texts(
    predictor: Predictor,
    run_dir: Path,
    data: str,
    columns: dict[str, str | None],
    latency_samples: int = 50,
) -> dict:
    """Metrics of the run's model on ``data`` (CSV/JSONL/...).

    ``columns`` may name ``text`` and ``label`` columns; unset ones are the run's.

    Raises:
        DataError: missing columns, or labels the model was never trained on.
    """
    frame, text_col, label_col = read_labelled_table(run_dir, data, columns)
    pairs = [
        (normalize_text(t), normalize_label(y))
        for t, y in zip(frame[text_col], frame[label_col], strict=True)
    ]
    pairs = [(t, y) for t, y in pairs if t is not None and y is not None]
    if not pairs:
        raise DataError(f"--data {data}: no rows with both a text and a label")
    texts, labels = (list(column) for column in zip(*pairs, strict=True))
    unknown = sorted(set(labels) - set(predictor.labels))
    if unknown:
        raise DataError(
            f"--data {data}: label '{unknown[0]}' was not seen in training "
            f"(known: {', '.join(predictor.labels)}); remove those rows"
        )
    probs = predictor.predict_proba(texts)
    ids = {label: i for i, label in enumerate(predictor.labels)}
    metrics = classification_metrics(
        [ids[v] for v in labels], probs.argmax(-1).tolist(), predictor.labels
    )
    metrics.update(measure_latency(lambda t: predictor.predict_proba([t]), texts[:latency_samples]))
    metrics["n"] = len(texts)
    return metrics


def run_columns(
    run_dir: Path, text_column: str | None, label_column: str | None
) -> tuple[str, str]:
    return (
        text_column or run_data_setting(run_dir, "text_column", "text"),
        label_column or run_data_setting(run_dir, "label_column", "label"),
    )


def run_data_setting(run_dir: Path, key: str, default: str) -> str:
    """``data.<key>`` of the run's ``config.yaml`` (``default`` when it has none)."""
    config = run_dir / "config.yaml"
    data_cfg = yaml.safe_load(config.read_text()).get("data", {}) if config.is_file() else {}
    return data_cfg.get(key, default)
